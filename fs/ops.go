package fs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

func writeFlags(flags uint32) bool {
	return flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0
}

// remoteInfo returns what Swift has for the entry: from the listing (at
// most MetadataTTL old), or from a HEAD for a local change whose listing
// entry is older than that (the upload's answer may be stale); nil when
// nothing is there. While Swift is unreachable the namespace's entry is
// taken as it is (outage.go).
func (f *FS) remoteInfo(ctx context.Context, p string, e *nsEntry) (*swiftclient.ObjectInfo, error) {
	if e == nil || !e.remote {
		return nil, nil
	}
	oi := &swiftclient.ObjectInfo{Name: f.names.object(p), Size: e.size, ETag: e.etag,
		LastModified: e.mtime, LargeObject: e.large}
	if e.etag != "" && (e.localAt.IsZero() || f.now().Sub(e.localAt) < f.opts.MetadataTTL) {
		return oi, nil
	}
	st, err := f.client.Stat(ctx, oi.Name)
	if errors.Is(err, swiftclient.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		if isOutage(err) && e.etag != "" {
			return oi, nil
		}
		return nil, err
	}
	return &st, nil
}

// Open implements gofs.NodeOpener: the object's content comes whole into
// the cache (streamed; reads wait only for their bytes), shared by every
// descriptor of the file. Opening for write without writing uploads
// nothing; O_TRUNC of a non-empty file makes it dirty.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	if n.kind == kindDir {
		return nil, 0, syscall.EISDIR
	}
	write := writeFlags(flags)
	if f.opts.ReadOnly && write {
		return nil, 0, syscall.EROFS
	}
	n.mu.Lock()
	if n.openR().local != nil {
		lf := n.openR().local
		n.openW().handles++
		n.mu.Unlock()
		if flags&syscall.O_TRUNC != 0 {
			lf.f.Truncate(0)
		}
		return &handle{n: n, lf: lf, flags: flags}, 0, 0
	}
	n.mu.Unlock()
	// The name and what it holds are read under renameMu, after any rename
	// in progress: a node renamed over is the old file, never the new one.
	f.renameMu.RLock()
	defer f.renameMu.RUnlock()
	p, ok := n.path()
	n.mu.Lock()
	cur, replaced := n.openR().entry, n.replaced
	if cur == nil && replaced && n.openR().held != nil {
		// Renamed over a moment ago: the old file, whose copy is held.
		cur = n.openR().held
	}
	if cur != nil && !f.cache.Reopen(cur) {
		cur = nil
	}
	n.mu.Unlock()
	if cur == nil && (replaced || !ok) {
		// The kernel opened a name it looked up before a rename or unlink
		// replaced it; ESTALE makes it look the name up again (and find the
		// new file, or nothing). The old file's content is gone from Swift.
		if replaced {
			n.settleReplaced()
		}
		return nil, 0, syscall.ESTALE
	}
	obj := f.names.object(p)
	var remote *swiftclient.ObjectInfo
	dlo := false
	if cur == nil {
		ne, err := f.lookupEntry(ctx, p)
		if err != nil {
			return nil, 0, f.fail("open", p, err)
		}
		if ne == nil || ne.kind != n.kind {
			// The name now holds something else (renamed over, e.g. by a
			// symlink): the kernel looks it up again and retries.
			return nil, 0, syscall.ESTALE
		}
		if remote, err = f.remoteInfo(ctx, p, ne); err != nil {
			return nil, 0, f.fail("open", p, err)
		}
		if remote != nil && remote.Size == 0 && !write {
			// A Dynamic Large Object's manifest lists as 0 bytes; only a
			// HEAD tells its size. Zero-byte objects are cheap to check.
			if st, err := f.client.Stat(ctx, remote.Name); err == nil && st.LargeObject && st.Size > 0 {
				remote = &st
				dlo = true
				n.mu.Lock()
				n.a.size = st.Size
				n.mu.Unlock()
				f.updateEntry(p, func(e *nsEntry) { e.size, e.large, e.etag = st.Size, true, st.ETag })
			}
		}
	}
	trunc := write && flags&syscall.O_TRUNC != 0
	// A file already open here is shared whole: its copy, not whatever the
	// name holds now (it may have been renamed over or unlinked since: the
	// kernel reopens a file it knows, e.g. through a lookup made before).
	e := cur
	if cur == nil {
		var err error
		if e, err = f.cache.Open(obj, remote, trunc); err != nil {
			return nil, 0, f.fail("open", p, err)
		}
		if !trunc && f.uncachedOpen(remote, e.Complete()) {
			f.cache.Release(e)
			return nil, 0, f.fail("open", p, errUnreachableUncached)
		}
		// A rename over the name while we opened (e.g. by a symlink, the
		// Butler's lock idiom): do not hand out the new object as this file.
		if ne, _ := f.lookupEntry(ctx, p); ne == nil || ne.kind != n.kind || (remote != nil && ne.etag != remote.ETag && ne.localAt.IsZero()) {
			f.cache.Release(e)
			return nil, 0, syscall.ESTALE
		}
	}
	if trunc {
		before := e.Size()
		if err := e.Truncate(0); err != nil {
			f.cache.Release(e)
			return nil, 0, f.fail("open", p, err)
		}
		if (before > 0 || (remote != nil && remote.Size > 0)) && !e.Dirty() {
			if err := e.MarkDirty(); err != nil {
				f.cache.Release(e)
				return nil, 0, f.fail("open", p, err)
			}
		}
	}
	var fuseFlags uint32
	n.mu.Lock()
	n.openW().entry = e
	n.openW().handles++
	if remote != nil && !e.Dirty() && n.openR().keepETag == remote.ETag && e.Complete() {
		fuseFlags |= fuse.FOPEN_KEEP_CACHE
	}
	if remote != nil {
		n.openW().keepETag = remote.ETag
	} else {
		n.openW().keepETag = ""
	}
	// Kernel passthrough (reads at local disk speed) for read-only opens of
	// a complete, clean copy. The kernel refuses a cached-mode open of an
	// inode while passthrough files are open on it (ETXTBSY), so a writer
	// arriving then gets a direct-I/O handle (allowed alongside); and a
	// passthrough handle is only offered when no cached-mode handle is open.
	mode := handleCached
	switch {
	case dlo:
		// The kernel still believes the listing's size 0: direct I/O reads
		// are not cut at the cached size.
		fuseFlags |= fuse.FOPEN_DIRECT_IO
	case f.opts.Passthrough && !write && e.Complete() && !e.Dirty() && n.openR().handles-n.openR().ptHandles == 1:
		mode = handlePassthrough
		n.openW().ptHandles++
	case n.openR().ptHandles > 0:
		mode = handleDirect
		fuseFlags |= fuse.FOPEN_DIRECT_IO
	}
	n.mu.Unlock()
	if !write {
		f.prefetchAfterOpen(p) // prefetch.go
	}
	h := &handle{n: n, e: e, flags: flags}
	if trunc {
		h.wrote = true
	}
	switch mode {
	case handlePassthrough:
		return &ptHandle{handle: h}, fuseFlags, 0
	}
	return h, fuseFlags, 0
}

// Create implements gofs.NodeCreater: a new, empty, dirty copy in the
// cache; nothing reaches Swift before the upload after close or fsync.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return nil, nil, 0, syscall.EROFS
	}
	dir, ok := n.path()
	if !ok {
		return nil, nil, 0, syscall.ENOENT
	}
	if errno := f.checkName(dir, name); errno != 0 {
		return nil, nil, 0, errno
	}
	p := joinPath(dir, name)
	existing, err := f.lookupEntry(ctx, p)
	if err != nil {
		return nil, nil, 0, f.fail("create", p, err)
	}
	if existing != nil {
		if flags&syscall.O_EXCL != 0 {
			return nil, nil, 0, syscall.EEXIST
		}
		if existing.kind == kindDir {
			return nil, nil, 0, syscall.EISDIR
		}
		ch := n.childNode(ctx, name, existing)
		cn := ch.Operations().(*node)
		fh, ff, errno := cn.Open(ctx, flags)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		n.fillAttr(cn.currentAt(p, true), ch.StableAttr().Ino, &out.Attr)
		n.timeouts(out)
		return ch, fh, ff, 0
	}
	a := n.newAttrs(ctx, kindFile, mode&0o7777)
	ne := &nsEntry{attrs: a}
	cn := &node{fsys: f, kind: kindFile, a: a}
	var h *handle
	if f.isLocalOnly(name) {
		lf, err := f.newLocal(p, a)
		if err != nil {
			return nil, nil, 0, f.fail("create", p, err)
		}
		ne.localOnly = true
		cn.openW().local = lf
		f.localMu.Lock()
		f.locals[p] = cn.openR().local
		f.localMu.Unlock()
		cn.openW().handles = 1
		h = &handle{n: cn, lf: cn.openR().local, flags: flags}
	} else {
		e, err := f.cache.Open(f.names.object(p), nil, true)
		if err != nil {
			return nil, nil, 0, f.fail("create", p, err)
		}
		ct, meta := encode(baseType(name, kindFile), a)
		e.SetAttrs(ct, meta)
		if err := e.Truncate(0); err == nil {
			err = e.MarkDirty()
		}
		if err != nil {
			f.cache.Release(e)
			return nil, nil, 0, f.fail("create", p, err)
		}
		cn.openW().entry = e
		cn.openW().handles = 1
		h = &handle{n: cn, e: e, flags: flags, wrote: true}
	}
	f.setEntry(p, ne)
	ch := n.NewInode(ctx, cn, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: f.newIno()})
	n.fillAttr(a, ch.StableAttr().Ino, &out.Attr)
	n.timeouts(out)
	return ch, h, 0, 0
}

// Setattr implements gofs.NodeSetattrer: truncate changes the cached copy;
// chmod, chown and utimes are persisted in the object's content type and
// metadata (with the next upload of a dirty file, else by a POST).
func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	p, ok := n.path()
	if sz, has := in.GetSize(); has {
		if n.kind != kindFile {
			return syscall.EISDIR
		}
		if int64(sz) != n.current().size {
			// A size change is a write: mtime and ctime move (ftruncate
			// also sends the new mtime; truncate leaves it to us).
			n.mu.Lock()
			n.openW().written = f.now().UnixNano()
			n.mu.Unlock()
		}
		if errno := n.truncate(ctx, fh, p, ok, int64(sz)); errno != 0 {
			return errno
		}
	}
	if in.Valid&(fuse.FATTR_MODE|fuse.FATTR_UID|fuse.FATTR_GID|fuse.FATTR_MTIME|fuse.FATTR_ATIME) != 0 {
		n.mu.Lock()
		n.applyAttrsLocked(in, f.now())
		a := n.a
		local := n.openR().local != nil
		n.mu.Unlock()
		if ok && !local {
			if err := f.persistAttrs(ctx, n, p, a); err != nil {
				return f.fail("setattr", p, err)
			}
		}
	}
	n.fillAttr(n.current(), n.StableAttr().Ino, &out.Attr)
	out.SetTimeout(f.kernelTTL())
	return 0
}

func (n *node) truncate(ctx context.Context, fh gofs.FileHandle, p string, ok bool, size int64) syscall.Errno {
	f := n.fsys
	if h, isH := fh.(*handle); isH {
		if h.lf != nil {
			if err := h.lf.f.Truncate(size); err != nil {
				return f.fail("truncate", p, err)
			}
			return 0
		}
		if err := h.e.Truncate(size); err != nil {
			return f.fail("truncate", p, err)
		}
		h.mu.Lock()
		h.wrote = true
		h.mu.Unlock()
		return 0
	}
	n.mu.Lock()
	lf := n.openR().local
	n.mu.Unlock()
	if lf != nil {
		if err := lf.f.Truncate(size); err != nil {
			return f.fail("truncate", p, err)
		}
		return 0
	}
	// truncate(path): open the copy, change it, release (schedules upload).
	h, _, errno := n.Open(ctx, syscall.O_WRONLY)
	if errno != 0 {
		return errno
	}
	hh := h.(*handle)
	err := hh.e.Truncate(size)
	if ok {
		n.stampForUpload(p, hh.e)
	}
	hh.Release(ctx)
	if err != nil {
		return f.fail("truncate", p, err)
	}
	return 0
}

// persistAttrs stores a in Swift: in the pending upload of a dirty copy,
// else by POST (files, symlinks) or by rewriting the marker (directories).
func (f *FS) persistAttrs(ctx context.Context, n *node, p string, a attrs) error {
	obj := f.names.object(p)
	ne, _ := f.lookupEntry(ctx, p)
	ct, meta := encode(baseType(p, n.kind), a)
	switch n.kind {
	case kindDir:
		if n == f.root && f.opts.Prefix == "" {
			return nil // the container root has no marker
		}
		info, err := f.putMarker(ctx, p, a)
		if err != nil {
			return err
		}
		f.updateEntry(p, func(e *nsEntry) {
			e.setOwnAttrs(a)
			e.remote, e.markerName, e.etag = true, f.names.marker(p), info.ETag
		})
		return nil
	case kindFile:
		if e := f.cache.Lookup(obj); e != nil && (e.Dirty() || n.hasOpenDirty()) {
			e.SetAttrs(ct, meta)
			f.updateEntry(p, func(e *nsEntry) { e.setOwnAttrs(a) })
			if e.Dirty() {
				return nil
			}
		}
	}
	if ne == nil || !ne.remote {
		if e := f.cache.Lookup(obj); e != nil {
			e.SetAttrs(ct, meta)
		}
		return nil
	}
	// A POST replaces all user metadata: keep the object's other keys (e.g.
	// the FITS HDU index) and its media type.
	st, err := f.client.Stat(ctx, obj)
	if errors.Is(err, swiftclient.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ct, ours := encode(st.ContentType, a)
	merged := maps.Clone(st.Meta)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, ours)
	err = f.client.Update(ctx, obj, ct, merged)
	if errors.Is(err, swiftclient.ErrNotFound) {
		err = nil
	}
	if err == nil {
		f.updateEntry(p, func(e *nsEntry) { e.setOwnAttrs(a) })
	}
	return err
}

func (n *node) hasOpenDirty() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.openR().entry != nil && n.openR().entry.Dirty()
}

// Unlink implements gofs.NodeUnlinker: the pending upload is cancelled and
// the object deleted. Open descriptors keep working on the local copy.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	dir, ok := n.path()
	if !ok {
		return syscall.ENOENT
	}
	p := joinPath(dir, name)
	e, err := f.lookupEntry(ctx, p)
	if err != nil {
		return f.fail("unlink", p, err)
	}
	if e == nil {
		return syscall.ENOENT
	}
	if e.kind == kindDir {
		return syscall.EISDIR
	}
	f.localMu.Lock()
	lf := f.locals[p]
	delete(f.locals, p)
	f.localMu.Unlock()
	if lf != nil {
		f.removeLocal(lf)
	}
	closeLocal := lf != nil
	if ch := n.GetChild(name); ch != nil {
		cn := ch.Operations().(*node)
		cn.mu.Lock()
		cn.unlinked = true
		cn.a.changed(f.now()) // the link count changed
		if cn.openR().local != nil && cn.openR().handles > 0 {
			closeLocal = false // the data goes with the last close (handle.Release)
		}
		cn.mu.Unlock()
	}
	if closeLocal {
		lf.f.Close()
	}
	obj := f.names.object(p)
	ce := f.cache.Lookup(obj)
	mayBeUploaded := ce != nil && ce.Dirty() // an upload may be landing right now
	f.cache.Remove(obj)
	if e.remote || mayBeUploaded {
		err := f.client.Delete(ctx, obj, swiftclient.DeleteOptions{MultipartManifest: e.large})
		if err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			return f.fail("unlink", p, err)
		}
	}
	f.removeEntry(p)
	f.keepDir(ctx, dir)
	return 0
}

// keepDir writes a marker for an implicit directory that just lost its
// last entry, so that it does not vanish (POSIX directories persist).
func (f *FS) keepDir(ctx context.Context, dir string) {
	if dir == "" {
		return
	}
	f.nsMu.Lock()
	ds := f.dirLocked(dir)
	empty := ds.len() == 0
	hasMarker := ds.self != nil
	f.nsMu.Unlock()
	if !empty || hasMarker {
		return
	}
	pe, _ := f.lookupEntry(ctx, dir)
	if pe == nil || pe.markerName != "" {
		return
	}
	a := pe.attrs
	if _, err := f.putMarker(ctx, dir, a); err != nil {
		f.log.Warn("could not keep the emptied directory", "path", dir, "err", err)
		return
	}
	f.updateEntry(dir, func(e *nsEntry) { e.markerName = f.names.marker(dir); e.remote = true })
	f.nsMu.Lock()
	self := &nsEntry{attrs: a, remote: true, markerName: f.names.marker(dir), localAt: f.now()}
	f.dirLocked(dir).self = self
	f.nsMu.Unlock()
}

// dirEmpty lists dir afresh and reports whether it has no entries.
func (f *FS) dirEmpty(ctx context.Context, dir string) (bool, error) {
	f.nsMu.Lock()
	var forced time.Time
	if ds := f.dirs[dir]; ds != nil {
		ds.listedAt = ds.listedAt.Add(-f.opts.MetadataTTL) // force a fresh listing
		forced = ds.listedAt
	}
	f.nsMu.Unlock()
	if err := f.ensureListed(ctx, dir); err != nil {
		return false, err
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirLocked(dir)
	if !forced.IsZero() && !ds.listedAt.After(forced) {
		// Swift is unreachable and the old listing was served: it cannot
		// tell that nobody else added an entry.
		return false, errUnreachableList
	}
	return ds.len() == 0, nil
}

// Rmdir implements gofs.NodeRmdirer: ENOTEMPTY unless the directory has no
// entries; its marker objects are deleted.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	dir, ok := n.path()
	if !ok {
		return syscall.ENOENT
	}
	p := joinPath(dir, name)
	e, err := f.lookupEntry(ctx, p)
	if err != nil {
		return f.fail("rmdir", p, err)
	}
	if e == nil {
		return syscall.ENOENT
	}
	if e.kind != kindDir {
		return syscall.ENOTDIR
	}
	empty, err := f.dirEmpty(ctx, p)
	if err != nil {
		return f.fail("rmdir", p, err)
	}
	if !empty {
		return syscall.ENOTEMPTY
	}
	for _, m := range []string{f.names.marker(p), f.names.object(p)} {
		if m == f.names.object(p) && e.markerName != m {
			continue
		}
		if err := f.client.Delete(ctx, m, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			return f.fail("rmdir", p, err)
		}
	}
	f.removeEntry(p)
	f.forgetTree(p)
	f.keepDir(ctx, dir)
	return 0
}

// Rename implements gofs.NodeRenamer. A file whose content is only in the
// cache (not uploaded yet) is renamed locally: the pending upload goes to
// the new name, so write-temp-then-rename costs one upload. An uploaded
// file is copied server-side and the old object deleted. A directory is
// renamed object by object (not atomic; see docs/SEMANTICS.md).
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	if flags&^uint32(1) != 0 { // only RENAME_NOREPLACE is supported
		return syscall.EINVAL
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	sdir, ok1 := n.path()
	ddir, ok2 := np.path()
	if !ok1 || !ok2 {
		return syscall.ENOENT
	}
	if errno := f.checkName(ddir, newName); errno != 0 {
		return errno
	}
	src, dst := joinPath(sdir, name), joinPath(ddir, newName)
	if src == dst {
		return 0
	}
	f.renameMu.Lock()
	defer f.renameMu.Unlock()
	se, err := f.lookupEntry(ctx, src)
	if err != nil {
		return f.fail("rename", src, err)
	}
	if se == nil {
		return syscall.ENOENT
	}
	de, err := f.lookupEntry(ctx, dst)
	if err != nil {
		return f.fail("rename", dst, err)
	}
	if de != nil && flags&1 != 0 {
		return syscall.EEXIST
	}
	if se.kind == kindDir {
		if strings.HasPrefix(dst+"/", src+"/") {
			return syscall.EINVAL
		}
		if de != nil {
			if de.kind != kindDir {
				return syscall.ENOTDIR
			}
			empty, err := f.dirEmpty(ctx, dst)
			if err != nil {
				return f.fail("rename", dst, err)
			}
			if !empty {
				return syscall.ENOTEMPTY
			}
		}
		ctime, err := f.renameDir(ctx, src, dst, se, de)
		if err != nil {
			return f.fail("rename", src, err)
		}
		if ch := n.GetChild(name); ch != nil {
			if dn, ok := ch.Operations().(*node); ok {
				dn.renamed(ctime) // the ctime stored with the marker
			}
		}
		f.keepDir(ctx, sdir)
		return 0
	}
	if de != nil && de.kind == kindDir {
		return syscall.EISDIR
	}
	if se.localOnly || f.isLocalOnly(newName) {
		if se.localOnly && f.isLocalOnly(newName) {
			f.localMu.Lock()
			if lf := f.locals[src]; lf != nil {
				delete(f.locals, src)
				if old := f.locals[dst]; old != nil {
					f.removeLocal(old)
				}
				f.locals[dst] = lf
				if err := f.renameLocal(lf, dst, se.attrs); err != nil {
					f.log.Warn("local-only file's new name not recorded; it is dropped at the next start", "path", dst, "err", err)
				}
			}
			f.localMu.Unlock()
			f.removeEntry(src)
			f.setEntry(dst, se)
			return 0
		}
		return syscall.EXDEV
	}
	// The node at dst (if the kernel knows one) is the old file from now
	// on: opens through it must not get the new content (see Open).
	var over *node
	var held *cache.Entry
	var moving *node
	if ch := n.GetChild(name); ch != nil {
		moving, _ = ch.Operations().(*node)
	}
	overTarget := ""
	if ch := np.GetChild(newName); ch != nil {
		if on, ok := ch.Operations().(*node); ok && ch != n.GetChild(name) {
			over = on
			over.mu.Lock()
			over.replaced = true
			overTarget = over.openR().target
			over.mu.Unlock()
			if over.kind == kindFile {
				held = f.cache.Hold(f.names.object(dst))
			}
		}
	}
	ctime, err := f.renameFile(ctx, src, dst, se, de)
	if err != nil {
		if over != nil {
			over.mu.Lock()
			over.replaced = false
			over.mu.Unlock()
		}
		if held != nil {
			f.cache.Release(held)
		}
		return f.fail("rename", src, err)
	}
	if moving != nil {
		moving.renamed(ctime) // the ctime stored with the copy
	}
	if over != nil {
		over.holdReplaced(held)
		if over.kind == kindSymlink && symlinkNamed(overTarget, src) {
			f.walks.add(src, f.now())
		}
	}
	f.keepDir(ctx, sdir)
	return 0
}

func (f *FS) renameFile(ctx context.Context, src, dst string, se, de *nsEntry) (time.Time, error) {
	sobj, dobj := f.names.object(src), f.names.object(dst)
	// A pending version of dst written here is replaced by our own
	// choice: the object under dst may be its upload (landed or not),
	// which no check could tell from another writer's.
	dstOwn := false
	if ce := f.cache.Lookup(dobj); ce != nil && ce.Dirty() {
		dstOwn = true
	}
	moved, dirty, mayExist, err := f.cache.RenameEntry(sobj, dobj)
	if err != nil {
		return time.Time{}, err
	}
	if de != nil && de.large && de.remote {
		// The old target's segments would be orphaned by the overwrite.
		if err := f.client.Delete(ctx, dobj, swiftclient.DeleteOptions{MultipartManifest: true}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			return time.Time{}, err
		}
	}
	ne := *se
	// rename changes the file's ctime (stamped on the copy, or on the
	// pending upload by the caller through the node).
	now := f.now()
	ne.changed(now)
	if dirty {
		base := ""
		if de != nil && de.remote {
			base = de.etag
		}
		f.cache.SetConflictBase(dobj, base)
		if ce := f.cache.Lookup(dobj); ce != nil {
			ce.SetAttrs(encode(baseType(dst, ne.kind), ne.attrs))
		}
		// The pending upload writes dst; src's object goes now when there
		// may be one: in the listing, or uploaded (or stopped after its PUT
		// landed) since the namespace was read. A file created here and
		// never uploaded costs no request (the Butler's temp names).
		if se.remote || mayExist {
			if err := f.client.Delete(ctx, sobj, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
				return time.Time{}, err
			}
		}
		ne.remote = de != nil && de.remote
		if ne.remote {
			ne.etag = de.etag // the version in Swift until the upload, the base of the next rename over it
		}
	} else if se.remote || moved {
		if f.cache.ChecksConflict(dobj) && !dstOwn {
			if err := f.checkReplaced(ctx, dobj, de); err != nil {
				return time.Time{}, err
			}
		}
		co := swiftclient.CopyOptions{ManifestOnly: se.large}
		if se.explicit && !se.large {
			// The new ctime in the copy's content type, whose media type
			// is guessed from the new name as for an upload.
			co.ContentType, co.Meta = encode(baseType(dst, se.kind), ne.attrs)
		}
		info, err := f.client.Copy(ctx, sobj, dobj, co)
		if err != nil {
			return time.Time{}, err
		}
		if err := f.client.Delete(ctx, sobj, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			return time.Time{}, err
		}
		ne.remote = true
		if info.ETag != "" {
			ne.etag = info.ETag
		}
	}
	f.removeEntry(src)
	f.setEntry(dst, &ne)
	return now, nil
}

// errReplacedChanged refuses a rename over a registry that another client
// changed (see checkReplaced); it maps to EIO.
var errReplacedChanged = errors.New("the object was changed in Swift by another client since this mount last listed it; rename refused, both versions kept")

// checkReplaced is the conflict check of a rename over a registry whose
// source is already in Swift (its pending upload would be checked by the
// cache instead): the COPY must replace the version this mount knows at
// dst, not a newer one written by another mount meanwhile. Nothing is lost
// when it refuses: the source keeps its name, the other version stays.
func (f *FS) checkReplaced(ctx context.Context, dobj string, de *nsEntry) error {
	base := ""
	if de != nil && de.remote {
		base = de.etag
	}
	same, st, err := swiftclient.IsVersion(ctx, f.client, dobj, base)
	if err != nil || same {
		return err
	}
	return fmt.Errorf("%w (object %q: known ETag %q, in Swift %q)", errReplacedChanged, dobj, base, st.ETag)
}

// renameDir moves every object under src to dst (copy and delete), after
// writing the plan to the rename journal (renamejournal.go), so that a
// crash half-way is finished by the next mount; dirty cached files are
// renamed locally.
func (f *FS) renameDir(ctx context.Context, src, dst string, se, de *nsEntry) (time.Time, error) {
	sp, dp := f.names.dirPrefix(src), f.names.dirPrefix(dst)
	ne := *se
	ctime := f.now()
	ne.changed(ctime) // the directory's ctime; its entries keep theirs
	// The names not uploaded yet, read before the listing: a file whose
	// upload lands after the listing is in one or the other.
	plan := &renamePlan{Src: src, Dst: dst, SrcPrefix: sp, DstPrefix: dp}
	for name := range f.cache.DirtyNames() {
		if strings.HasPrefix(name, sp) {
			plan.Pending = append(plan.Pending, name)
		}
	}
	if err := swiftclient.ListPages(ctx, f.client, swiftclient.ListOptions{Prefix: sp}, func(entries []swiftclient.ObjectInfo) error {
		for _, oi := range entries {
			o := planObject{From: oi.Name, To: dp + oi.Name[len(sp):], Large: oi.LargeObject}
			if oi.Name == sp && se.explicit {
				o.ContentType, o.Meta = encode(ctDirectory, ne.attrs) // the marker, with the new ctime
			}
			plan.Objects = append(plan.Objects, o)
		}
		return nil
	}); err != nil {
		return time.Time{}, err
	}
	if de != nil && de.markerName != "" {
		plan.DeleteFirst = de.markerName
	}
	if se.markerName != "" && se.markerName == f.names.object(src) {
		// A no-slash marker: moved as "dst/", last.
		o := planObject{From: se.markerName, To: f.names.marker(dst)}
		o.ContentType, o.Meta = encode(ctDirectory, ne.attrs)
		plan.Objects = append(plan.Objects, o)
	}
	if f.crashRename.Load() > 0 {
		plan.crash = &f.crashRename
	}
	if err := f.journalRename(plan); err != nil {
		return time.Time{}, err
	}
	err := f.runRename(ctx, plan)
	f.forgetTree(src)
	f.forgetTree(dst)
	if err != nil {
		// The journal stays: the next mount finishes the rename.
		return time.Time{}, fmt.Errorf("%w (the rename is finished by the next mount; journal %s)", err, plan.path)
	}
	if err := f.endRename(plan); err != nil {
		f.log.Warn("directory rename done, its journal not removed (the next mount runs it again, harmlessly)", "journal", plan.path, "err", err)
	}
	f.removeEntry(src)
	if ne.markerName != "" {
		ne.markerName = f.names.marker(dst)
	}
	f.setEntry(dst, &ne)
	return ctime, nil
}
