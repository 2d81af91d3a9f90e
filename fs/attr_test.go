package fs

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	mt := time.Unix(1700000000, 123456789)
	cases := []struct {
		base string
		a    attrs
	}{
		{"application/octet-stream", attrs{kind: kindFile, perm: 0o640, uid: 1000, gid: 100, mtime: mt}},
		{"application/fits;foo=bar", attrs{kind: kindFile, perm: 0o4755, uid: 0, gid: 0, mtime: mt}},
		{ctDirectory, attrs{kind: kindDir, perm: 0o700, uid: 5, gid: 6, mtime: mt}},
		{ctSymlink, attrs{kind: kindSymlink, perm: 0o777, mtime: mt}},
		// Special files: the media type is the file type, whatever base.
		{ctDefault, attrs{kind: kindFIFO, perm: 0o600, uid: 7, mtime: mt, atime: 978307200123456789}},
		{ctFIFO, attrs{kind: kindSocket, perm: 0o755, mtime: mt, ctime: 1800000000000000001}},
		{"", attrs{kind: kindChar, perm: 0o660, mtime: mt, rdev: 259}},
		{"", attrs{kind: kindBlock, perm: 0o660, mtime: mt, rdev: 8<<8 | 1, atime: 1, ctime: 2}},
		{"text/plain", attrs{kind: kindFile, perm: 0o644, mtime: mt, atime: 5, ctime: 1700000001000000000}},
	}
	for _, c := range cases {
		ct, meta := encode(c.base, c.a)
		got := decode(ct, nil, 7, time.Unix(1, 0), attrs{perm: 0o644})
		if got.kind != c.a.kind || got.perm != c.a.perm || got.uid != c.a.uid || got.gid != c.a.gid || !got.mtime.Equal(mt) || !got.explicit ||
			got.atime != c.a.atime || got.ctime != c.a.ctime || got.rdev != c.a.rdev {
			t.Errorf("decode(%q): got %+v, want %+v", ct, got, c.a)
		}
		if meta["mtime"] != "1700000000.123456789" {
			t.Errorf("meta mtime: got %q", meta["mtime"])
		}
		// Metadata alone (a content type without parameters) also works.
		base, _, _ := strings.Cut(ct, ";")
		got = decode(base, meta, 7, time.Unix(1, 0), attrs{perm: 0o644})
		if got.perm != c.a.perm || !got.mtime.Equal(mt) || got.kind != c.a.kind || got.atime != c.a.atime || got.ctime != c.a.ctime || got.rdev != c.a.rdev {
			t.Errorf("decode from meta: got %+v, want %+v", got, c.a)
		}
	}
}

func TestDecodeForeignObjects(t *testing.T) {
	lm := time.Unix(1600000000, 0)
	def := attrs{kind: kindFile, perm: 0o644, uid: 1, gid: 2}
	cases := []struct {
		ct   string
		meta map[string]string
		want attrs
	}{
		{"text/plain", nil, attrs{kind: kindFile, perm: 0o644, uid: 1, gid: 2, mtime: lm, size: 3}},
		{"application/directory", nil, attrs{kind: kindDir, perm: 0o644, uid: 1, gid: 2, mtime: lm, size: 3}},
		{"text/directory", nil, attrs{kind: kindDir, perm: 0o644, uid: 1, gid: 2, mtime: lm, size: 3}},
		// rclone's convention: X-Object-Meta-Mtime as float seconds.
		{"text/plain", map[string]string{"mtime": "1500000000.5"}, attrs{kind: kindFile, perm: 0o644, uid: 1, gid: 2, mtime: time.Unix(1500000000, 500000000), size: 3}},
		// Garbage parameters are ignored.
		{"text/plain;swiftfs_mode=zz;swiftfs_mtime=x", nil, attrs{kind: kindFile, perm: 0o644, uid: 1, gid: 2, mtime: lm, size: 3}},
	}
	for _, c := range cases {
		got := decode(c.ct, c.meta, 3, lm, def)
		got.explicit = false
		if got != c.want {
			t.Errorf("decode(%q, %v): got %+v, want %+v", c.ct, c.meta, got, c.want)
		}
	}
}

func TestModeBits(t *testing.T) {
	cases := []struct {
		a    attrs
		want uint32
	}{
		{attrs{kind: kindFile, perm: 0o600}, syscall.S_IFREG | 0o600},
		{attrs{kind: kindDir, perm: 0o755}, syscall.S_IFDIR | 0o755},
		{attrs{kind: kindSymlink, perm: 0o600}, syscall.S_IFLNK | 0o777},
	}
	for _, c := range cases {
		if got := c.a.mode(); got != c.want {
			t.Errorf("mode(%+v): got %o, want %o", c.a, got, c.want)
		}
	}
}

func TestNames(t *testing.T) {
	n := names{prefix: "repo/"}
	if got := n.object("a/b"); got != "repo/a/b" {
		t.Errorf("object: got %q", got)
	}
	if got := n.dirPrefix(""); got != "repo/" {
		t.Errorf("dirPrefix root: got %q", got)
	}
	if got := n.dirPrefix("a"); got != "repo/a/" {
		t.Errorf("dirPrefix: got %q", got)
	}
	if p, ok := n.path("repo/a/b/"); !ok || p != "a/b" {
		t.Errorf("path: got %q %v", p, ok)
	}
	if _, ok := n.path("other/x"); ok {
		t.Errorf("path outside the prefix accepted")
	}
	problems := map[string]bool{"": true, ".": true, "..": true, string(make([]byte, 256)): true, "ok": false, "a b%20ü": false, "x\x00y": true}
	for seg, bad := range problems {
		if got := nameProblem(seg) != ""; got != bad {
			t.Errorf("nameProblem(%q): got %v, want %v", seg, got, bad)
		}
	}
	local := map[string]bool{"registry.sqlite3-journal": true, "x.db-wal": true, "a.sqlite-shm": true, "registry.sqlite3": false, "notes-journal": false}
	for name, want := range local {
		if got := localOnly(name); got != want {
			t.Errorf("localOnly(%q): got %v, want %v", name, got, want)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1700000000.123456789", "1.5", "", "-3", "1e9", "NaN", "12.3456789012345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := parseTime(s)
		if ok {
			if back, ok2 := parseTime(formatTime(tm)); !ok2 || !back.Equal(tm) {
				t.Errorf("round trip of %q: %v → %q → %v", s, tm, formatTime(tm), back)
			}
		}
	})
}
