package fs

import (
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// TestApplyAttrsTimes checks the times a SETATTR leaves, as fstat shows
// them (fillAttr): explicit times with nanoseconds, UTIME_NOW (one clock
// reading for both), UTIME_OMIT (no flag), and the ctime every change
// moves; a later write moves mtime and ctime but keeps an explicit atime.
func TestApplyAttrsTimes(t *testing.T) {
	now := time.Unix(1800000000, 42)
	mt := time.Unix(1000000000, 123456789)
	at := time.Unix(900000000, 987654321)
	timesOf := func(n *node) (time.Time, time.Time, time.Time) {
		var out fuse.Attr
		n.fillAttr(n.currentAt("", false), 2, &out)
		return time.Unix(int64(out.Atime), int64(out.Atimensec)), time.Unix(int64(out.Mtime), int64(out.Mtimensec)),
			time.Unix(int64(out.Ctime), int64(out.Ctimensec))
	}
	cases := []struct {
		name       string
		in         fuse.SetAttrIn
		a, m, c    time.Time
		writeAfter bool
	}{
		{name: "explicit", in: setTimes(fuse.FATTR_ATIME|fuse.FATTR_MTIME, at, mt), a: at, m: mt, c: now},
		{name: "now", in: setTimes(fuse.FATTR_ATIME|fuse.FATTR_MTIME|fuse.FATTR_ATIME_NOW|fuse.FATTR_MTIME_NOW, at, mt), a: now, m: now, c: now},
		{name: "omit atime", in: setTimes(fuse.FATTR_MTIME, at, mt), a: mt, m: mt, c: now},
		{name: "omit mtime", in: setTimes(fuse.FATTR_ATIME, at, mt), a: at, m: time.Unix(5, 0), c: now},
		{name: "chmod", in: fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_MODE, Mode: 0o600}}, a: time.Unix(5, 0), m: time.Unix(5, 0), c: now},
		{name: "write after", in: setTimes(fuse.FATTR_ATIME|fuse.FATTR_MTIME, at, mt), a: at, m: now.Add(time.Second), c: now.Add(time.Second), writeAfter: true},
	}
	for _, c := range cases {
		f := testFS("")
		n := &node{fsys: f, kind: kindFile, a: attrs{kind: kindFile, perm: 0o644, mtime: time.Unix(5, 0)}}
		n.mu.Lock()
		n.applyAttrsLocked(&c.in, now)
		if c.writeAfter {
			n.openW().written = now.Add(time.Second).UnixNano()
		}
		n.mu.Unlock()
		a, m, ct := timesOf(n)
		if !a.Equal(c.a) || !m.Equal(c.m) || !ct.Equal(c.c) {
			t.Errorf("%s: atime %v mtime %v ctime %v, want %v %v %v", c.name, a, m, ct, c.a, c.m, c.c)
		}
	}
}

func setTimes(valid uint32, at, mt time.Time) fuse.SetAttrIn {
	var in fuse.SetAttrIn
	in.Valid = valid
	in.Atime, in.Atimensec = uint64(at.Unix()), uint32(at.Nanosecond())
	in.Mtime, in.Mtimensec = uint64(mt.Unix()), uint32(mt.Nanosecond())
	return in
}
