package fs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// applyAttrsLocked applies what a SETATTR changes besides the size: mode,
// owner, mtime and atime (explicit, or UTIME_NOW), and the ctime they
// move. One clock reading serves UTIME_NOW and the change, so touch gives
// atime = mtime = ctime as on a local disk. The kernel has checked the
// caller's right to each change (default_permissions; docs/SEMANTICS.md,
// Permissions). LOCKS_REQUIRED(n.mu)
func (n *node) applyAttrsLocked(in *fuse.SetAttrIn, now time.Time) {
	if m, has := in.GetMode(); has {
		n.a.perm = m & 0o7777
	}
	if u, has := in.GetUID(); has {
		n.a.uid = u
	}
	if g, has := in.GetGID(); has {
		n.a.gid = g
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		t := now
		if in.Valid&fuse.FATTR_MTIME_NOW == 0 {
			t = time.Unix(int64(in.Mtime), int64(in.Mtimensec))
		}
		n.a.mtime = t
		n.openW().written = t.UnixNano()
	}
	if in.Valid&fuse.FATTR_ATIME != 0 {
		t := now
		if in.Valid&fuse.FATTR_ATIME_NOW == 0 {
			t = time.Unix(int64(in.Atime), int64(in.Atimensec))
		}
		n.a.setAtime(t)
	}
	n.a.changed(now)
	n.a.explicit = true
	n.attrAt = now.UnixNano()
}

// renamed records the ctime change of a rename on the moved node; it
// wins over copies read before (OverlayWindow), and a pending upload
// carries it (stampForUpload).
func (n *node) renamed(t time.Time) {
	n.mu.Lock()
	n.a.changed(t)
	n.attrAt = t.UnixNano()
	n.mu.Unlock()
}
