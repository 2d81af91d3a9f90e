package fs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/swiftfs/swiftfs/cache"
)

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// handle is one open file description. Every handle of a node shares the
// node's cache entry (one copy, many descriptors).
type handle struct {
	n      *node
	e      *cache.Entry // nil for local-only files
	lf     *localFile
	flags  uint32
	mu     sync.Mutex
	wrote  bool // GUARDED_BY(mu): this handle changed the content
	closed bool // GUARDED_BY(mu)
}

var (
	_ gofs.FileReader    = (*handle)(nil)
	_ gofs.FileWriter    = (*handle)(nil)
	_ gofs.FileFlusher   = (*handle)(nil)
	_ gofs.FileReleaser  = (*handle)(nil)
	_ gofs.FileFsyncer   = (*handle)(nil)
	_ gofs.FileGetattrer = (*handle)(nil)
)

func (h *handle) path() string {
	p, _ := h.n.path()
	return p
}

// Read implements gofs.FileReader: from the local copy, waiting only for
// the bytes asked for while a download streams in.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	var n int
	var err error
	if h.lf != nil {
		n, err = h.lf.f.ReadAt(dest, off)
		if err != nil && n > 0 || err != nil && err.Error() == "EOF" {
			err = nil
		}
	} else {
		n, err = h.e.ReadAt(ctx, dest, off)
	}
	if err != nil {
		return nil, h.n.fsys.fail("read", h.path(), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write implements gofs.FileWriter. With O_APPEND the data goes to the end
// of the shared copy, whatever offset the kernel computed.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if h.flags&syscall.O_APPEND != 0 {
		if h.lf != nil {
			off = h.lf.size()
		} else {
			off = h.e.Size()
		}
	}
	var n int
	var err error
	if h.lf != nil {
		n, err = h.lf.f.WriteAt(data, off)
	} else {
		n, err = h.e.WriteAt(data, off)
	}
	if err != nil {
		return uint32(n), h.n.fsys.fail("write", h.path(), err)
	}
	h.mu.Lock()
	h.wrote = true
	h.mu.Unlock()
	h.n.mu.Lock()
	h.n.openW().written = h.n.fsys.now().UnixNano()
	h.n.mu.Unlock()
	return uint32(n), 0
}

// Getattr implements gofs.FileGetattrer (fstat): the same inode number and
// the live size of the shared copy.
func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	h.n.fillAttr(h.n.current(), h.n.StableAttr().Ino, &out.Attr)
	h.n.unlinkedNlink(&out.Attr)
	out.SetTimeout(h.n.fsys.kernelTTL())
	return 0
}

// Flush implements gofs.FileFlusher. The kernel sends it on every close()
// of a descriptor (also of dup'ed ones), before Release of the last one;
// its error is what close() returns. A handle that wrote records the new
// size and mtime for the upload; with --write-back=sync it uploads here.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h.lf != nil {
		return 0
	}
	h.mu.Lock()
	wrote := h.wrote
	h.mu.Unlock()
	if !wrote {
		return 0
	}
	f := h.n.fsys
	p, ok := h.n.path()
	if ok {
		h.n.stampForUpload(p, h.e)
	}
	if ok && f.opts.Validate != nil && h.e.Dirty() {
		if err := f.opts.Validate(f.names.object(p), h.e.File(), h.e.Size()); err != nil {
			f.log.Error("file check failed; the file stays dirty and is not uploaded", "path", p, "err", err)
			return syscall.EIO
		}
	}
	if f.opts.SyncClose {
		if err := h.e.Sync(ctx); err != nil && !errors.Is(err, cache.ErrNotReady) {
			return f.fail("close", p, err)
		}
	}
	return 0
}

// stampForUpload records the node's attributes (mode, owner, mtime) in the
// entry, so that the upload carries them, and the new size in the
// namespace.
func (n *node) stampForUpload(p string, e *cache.Entry) {
	a := n.current()
	n.mu.Lock()
	n.a.mtime, n.a.ctime = a.mtime, a.ctime
	own := n.ownAttrsLocked()
	n.mu.Unlock()
	if ne, ok := n.fsys.peekEntry(p); ok && !own && ne.kind == kindFile {
		// Mode and owner as the name has them now, unless this node was
		// chmod'ed lately: a release the kernel sends late (after
		// rename(tmp, final) and chmod(final) went to another node of the
		// name) must not put the temp file's 0600 back.
		a.perm, a.uid, a.gid, a.explicit = ne.perm, ne.uid, ne.gid, ne.explicit
	}
	ct, meta := encode(baseType(p, kindFile), a)
	e.SetAttrs(ct, meta)
	n.fsys.updateEntry(p, func(ne *nsEntry) {
		ne.size = a.size
		ne.mtime, ne.ctime = a.mtime, a.ctime
	})
}

// Release implements gofs.FileReleaser: sent once, after the last close of
// this open file description (and after munmap). The upload of a dirty
// copy is scheduled when the node's last handle goes.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0
	}
	h.closed = true
	h.mu.Unlock()
	n := h.n
	if h.lf != nil {
		n.mu.Lock()
		n.openW().handles--
		if n.openR().handles == 0 && n.unlinked && n.openR().local != nil {
			n.openR().local.f.Close() // unlinked while open: the data goes now
			n.openW().local = nil
		}
		n.mu.Unlock()
		return 0
	}
	p, ok := n.path()
	h.mu.Lock()
	wrote := h.wrote
	h.mu.Unlock()
	if ok && wrote && h.e.Dirty() {
		n.stampForUpload(p, h.e)
	}
	n.mu.Lock()
	n.openW().handles--
	if n.openR().handles == 0 {
		n.a.size = h.e.Size()
		n.openW().entry = nil
	}
	n.mu.Unlock()
	if err := n.fsys.cache.Release(h.e); err != nil {
		return n.fsys.fail("release", p, err)
	}
	return 0
}

// Fsync implements gofs.FileFsyncer: a barrier that returns once the
// content is durable in Swift (or the upload's error).
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h.lf != nil {
		if err := h.lf.f.Sync(); err != nil {
			return syscall.EIO
		}
		return 0
	}
	p, ok := h.n.path()
	if ok && h.e.Dirty() {
		h.n.stampForUpload(p, h.e)
	}
	if err := h.e.Sync(ctx); err != nil && !errors.Is(err, cache.ErrNotReady) {
		return h.n.fsys.fail("fsync", p, err)
	}
	// ErrNotReady: an SQLite registry fsync'ed mid-transaction (its journal
	// is hot). The data is safe in the cache; the upload follows the commit.
	return 0
}

// Handle modes (see node.Open).
const (
	handleCached = iota
	handlePassthrough
	handleDirect
)

// ptHandle is a handle whose reads and writes the kernel sends straight to
// the cache file (FUSE passthrough, kernel ≥ 6.9, root). go-fuse asks for
// the backing descriptor once per inode; when the kernel or privileges do
// not allow it, go-fuse falls back to ordinary reads through handle.
type ptHandle struct {
	*handle
}

var _ gofs.FilePassthroughFder = (*ptHandle)(nil)

// PassthroughFd implements gofs.FilePassthroughFder.
func (h *ptHandle) PassthroughFd() (int, bool) {
	f := h.e.File()
	if f == nil {
		return 0, false
	}
	h.n.fsys.log.Debug("passthrough open", "object", h.e.Name())
	return int(f.Fd()), true
}

// Read implements gofs.FileReader: only called when the kernel did not
// take the passthrough file (no CAP_SYS_ADMIN, or a kernel without it).
func (h *ptHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.n.fsys.warnOnce("kernel passthrough not available (needs root and Linux 6.9+): cached files are read through swiftfs")
	return h.handle.Read(ctx, dest, off)
}

// Release implements gofs.FileReleaser.
func (h *ptHandle) Release(ctx context.Context) syscall.Errno {
	h.n.mu.Lock()
	h.n.openW().ptHandles--
	h.n.mu.Unlock()
	return h.handle.Release(ctx)
}
