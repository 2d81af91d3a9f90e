package fs

import (
	"context"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/swiftfs/swiftfs/swiftclient"
)

var _ gofs.NodeMknoder = (*node)(nil)

// Mknod implements gofs.NodeMknoder: a FIFO, a Unix socket (bind(2)
// sends MKNOD with S_IFSOCK) or a device node is a zero-byte object whose
// media type is its file type and whose device number is a content-type
// parameter (attr.go), created only if absent like a symlink. The kernel
// serves what such a file does itself: a FIFO's pipe, a socket's
// connections (between processes of this host only) and a device's driver
// (the mount is nodev: opening a device node is EACCES). The kernel lets
// only a caller with CAP_MKNOD make a device node. S_IFREG makes an empty
// file as open(O_CREAT|O_EXCL) does.
func (n *node) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	k, ok := kindOfMode(mode)
	if !ok || k == kindDir || k == kindSymlink {
		return nil, syscall.EINVAL
	}
	if k == kindFile {
		ch, fh, _, errno := n.Create(ctx, name, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, mode, out)
		if errno != 0 {
			return nil, errno
		}
		if h, ok := fh.(*handle); ok {
			h.Flush(ctx)
			h.Release(ctx)
		}
		return ch, 0
	}
	p, errno := n.freeName(ctx, "mknod", name, true)
	if errno != 0 {
		return nil, errno
	}
	a := n.newAttrs(ctx, k, mode&0o7777)
	if k == kindChar || k == kindBlock {
		a.rdev = dev
	}
	ct, meta := encode(baseType(name, k), a)
	info, err := f.client.Put(ctx, f.names.object(p), strings.NewReader(""), 0,
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: "d41d8cd98f00b204e9800998ecf8427e", IfNoneMatch: true})
	if err != nil {
		return nil, f.fail("mknod", p, err)
	}
	e := &nsEntry{attrs: a, remote: true, etag: info.ETag}
	own := *e // once set, e is the namespace's: updateEntry changes it under nsMu
	f.setEntry(p, e)
	ch := n.childNode(ctx, name, &own)
	n.fillAttr(a, ch.StableAttr().Ino, &out.Attr)
	n.timeouts(out)
	return ch, 0
}
