package fs

import (
	"strings"
	"testing"
	"time"
)

func TestEncodeDecodeObject(t *testing.T) {
	mt := time.Unix(1700000000, 123456789)
	cases := []struct {
		path   string
		a      ObjectAttrs
		base   string
		wantRT ObjectAttrs
	}{
		{"raw/img.fits", ObjectAttrs{Kind: ObjectFile, Perm: 0o4755, UID: 1000, GID: 2000, Mtime: mt}, "application/fits", ObjectAttrs{Kind: ObjectFile, Perm: 0o4755, UID: 1000, GID: 2000, Mtime: mt}},
		{"d", ObjectAttrs{Kind: ObjectDir, Perm: 0o1777, Mtime: mt}, "application/directory", ObjectAttrs{Kind: ObjectDir, Perm: 0o1777, Mtime: mt}},
		{"l", ObjectAttrs{Kind: ObjectSymlink, Perm: 0o777, UID: 5, GID: 6, Mtime: mt}, "application/link", ObjectAttrs{Kind: ObjectSymlink, Perm: 0o777, UID: 5, GID: 6, Mtime: mt}},
		// Only permission bits are stored.
		{"x.bin", ObjectAttrs{Kind: ObjectFile, Perm: 0o170644, Mtime: mt}, "application/octet-stream", ObjectAttrs{Kind: ObjectFile, Perm: 0o644, Mtime: mt}},
	}
	for _, c := range cases {
		ct, meta := EncodeObject(c.path, c.a)
		if !strings.HasPrefix(ct, c.base+";") || meta["mode"] == "" || meta["mtime"] != "1700000000.123456789" {
			t.Errorf("%s: content type %q, meta %v", c.path, ct, meta)
		}
		got, explicit := DecodeObject(ct)
		if !explicit || got.Kind != c.wantRT.Kind || got.Perm != c.wantRT.Perm || got.UID != c.wantRT.UID ||
			got.GID != c.wantRT.GID || !got.Mtime.Equal(c.wantRT.Mtime) {
			t.Errorf("%s: decoded %+v (explicit %v), want %+v", c.path, got, explicit, c.wantRT)
		}
	}
	if _, explicit := DecodeObject("text/plain"); explicit {
		t.Error("a foreign content type decoded as explicit")
	}
}
