package fs

import (
	"context"
	"syscall"
)

// newAttrs returns the attributes of a file of kind k that the caller
// creates in directory n with permission bits perm (the kernel already
// applied the umask and, for a caller outside the group, stripped setgid).
// The owner is the caller; in a setgid directory the group is the
// directory's, and a new directory inherits the setgid bit (POSIX, as
// Linux's inode_init_owner does for local file systems; the kernel leaves
// this to a FUSE daemon).
func (n *node) newAttrs(ctx context.Context, k kind, perm uint32) attrs {
	uid, gid := caller(ctx)
	n.mu.Lock()
	parent := n.a
	n.mu.Unlock()
	if parent.perm&syscall.S_ISGID != 0 {
		gid = parent.gid
		if k == kindDir {
			perm |= syscall.S_ISGID
		}
	}
	return attrs{kind: k, perm: perm & 0o7777, uid: uid, gid: gid, mtime: n.fsys.now(), explicit: true}
}
