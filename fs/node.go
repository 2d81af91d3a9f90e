package fs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// node is one inode: a directory, a file or a symlink. Its identity
// follows renames (go-fuse moves it in the tree); its path is asked from
// the tree when needed.
//
// One node lives per name the kernel knows (after `ls -l` of a million
// files, a million of them): what only opened, written, local, replaced
// files and symlinks need is in nodeOpen, allocated the first time it is
// set; a node that is only looked up (stat, `ls -l`) has none. The fields
// are ordered so that the struct has no padding (TestNodeSize keeps it in
// its size class).
type node struct {
	gofs.Inode
	fsys *FS

	mu sync.Mutex
	a  attrs     // GUARDED_BY(mu): last known attributes
	o  *nodeOpen // GUARDED_BY(mu): nil until first set (openR, openW)
	// attrAt is the time of the last chmod/chown/utimes here: for
	// OverlayWindow the node's own values win over namespace entries (a
	// lookup may hold a copy read before the change).
	attrAt int64 // GUARDED_BY(mu): Unix ns, 0 when never

	kind     kind // set at creation, never changed
	unlinked bool // GUARDED_BY(mu)
	// replaced is set (under FS.renameMu) when a rename puts another file
	// at this node's name: the node stands for the old file from then on,
	// even in the moment before go-fuse moves it out of the tree.
	replaced bool // GUARDED_BY(mu)
	// lookups counts the kernel's LOOKUPs of names in this directory.
	lookups atomic.Uint32
}

// nodeOpen is the part of a node that only some nodes need. Once
// allocated it stays (keepETag and written outlive the handles). All its
// fields are guarded by the node's mu.
type nodeOpen struct {
	entry     *cache.Entry // the shared cache copy while handles are open
	handles   int
	ptHandles int        // open passthrough handles
	keepETag  string     // version in the kernel's page cache
	target    string     // symlink target, when known
	local     *localFile // content of a local-only file
	// held is the old file's copy of a replaced node, kept for a moment
	// (heldFor) for opens the kernel sends through a lookup made before the
	// rename: they get the old file, as on a local disk. Without it they
	// get ESTALE, and the kernel retries only once.
	held    *cache.Entry
	written int64 // Unix ns of the last write through an open handle
}

// noOpen is what openR gives for a node without a nodeOpen: all zero,
// never written.
var noOpen nodeOpen

// openR returns the node's nodeOpen for reading (the zero one when it has
// none). LOCKS_REQUIRED(n.mu)
func (n *node) openR() *nodeOpen {
	if n.o == nil {
		return &noOpen
	}
	return n.o
}

// openW returns the node's nodeOpen for writing, allocating it.
// LOCKS_REQUIRED(n.mu)
func (n *node) openW() *nodeOpen {
	if n.o == nil {
		n.o = &nodeOpen{}
	}
	return n.o
}

// ownAttrsLocked reports whether this node's mode, owner and mtime were
// set here (chmod/chown/utimes) within OverlayWindow: they then win over
// copies of namespace entries. LOCKS_REQUIRED(n.mu)
func (n *node) ownAttrsLocked() bool {
	return n.attrAt != 0 && time.Duration(n.fsys.now().UnixNano()-n.attrAt) < n.fsys.opts.OverlayWindow
}

// refreshAttrsLocked takes e's attributes, keeping mode, owner and mtime
// set by a recent chmod/chown/utimes on this node. LOCKS_REQUIRED(n.mu)
func (n *node) refreshAttrsLocked(e attrs) {
	if n.ownAttrsLocked() {
		e.perm, e.uid, e.gid, e.mtime, e.explicit = n.a.perm, n.a.uid, n.a.gid, n.a.mtime, n.a.explicit
		e.atime, e.ctime = n.a.atime, n.a.ctime
	}
	n.a = e
}

// isReplaced reports whether a rename put another file at n's name.
func (n *node) isReplaced() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.replaced
}

// heldFor is how long a replaced node keeps the old file's copy (node.held):
// opens already on their way when the rename happened arrive within
// milliseconds; the kernel forgets the old inode soon after.
const heldFor = 2 * time.Second

// holdReplaced keeps e (from cache.Hold, may be nil) as the old file's copy
// of this replaced node until heldFor has passed or the kernel forgets it.
func (n *node) holdReplaced(e *cache.Entry) {
	if e == nil {
		return
	}
	n.setHeld(e)
	time.AfterFunc(heldFor, n.dropHeld)
}

// dropHeld lets the old file's copy go (see holdReplaced).
func (n *node) dropHeld() { n.setHeld(nil) }

// setHeld replaces the held copy, releasing the one before.
func (n *node) setHeld(e *cache.Entry) {
	n.mu.Lock()
	old := n.openR().held
	if e != nil || old != nil {
		n.openW().held = e
	}
	n.mu.Unlock()
	if old != nil {
		n.fsys.cache.Release(old)
	}
}

// OnForget implements gofs.NodeOnForgetter: the kernel no longer knows
// the inode, so no open can come through it.
func (n *node) OnForget() { n.dropHeld() }

// settleReplaced waits (briefly) until go-fuse has taken a replaced node
// out of the tree: it does so right after Rename returns, and until then
// the tree would still give the old node for the name.
func (n *node) settleReplaced() {
	for i := 0; i < 2000 && n.isReplaced(); i++ {
		if _, ok := n.path(); !ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

var (
	_ gofs.NodeLookuper    = (*node)(nil)
	_ gofs.NodeOnForgetter = (*node)(nil)
	_ gofs.NodeGetattrer   = (*node)(nil)
	_ gofs.NodeSetattrer   = (*node)(nil)
	_ gofs.NodeReaddirer   = (*node)(nil)
	_ gofs.NodeOpener      = (*node)(nil)
	_ gofs.NodeCreater     = (*node)(nil)
	_ gofs.NodeMkdirer     = (*node)(nil)
	_ gofs.NodeUnlinker    = (*node)(nil)
	_ gofs.NodeRmdirer     = (*node)(nil)
	_ gofs.NodeRenamer     = (*node)(nil)
	_ gofs.NodeSymlinker   = (*node)(nil)
	_ gofs.NodeReadlinker  = (*node)(nil)
	_ gofs.NodeStatfser    = (*node)(nil)
	_ gofs.NodeFsyncer     = (*node)(nil)
)

// path returns the node's path from the mount root, false when orphaned.
func (n *node) path() (string, bool) {
	if n == n.fsys.root {
		return "", true
	}
	p := n.Path(n.fsys.root.EmbeddedInode())
	if strings.Contains(p, ".go-fuse.") {
		return "", false
	}
	return p, true
}

func (n *node) fillAttr(a attrs, ino uint64, out *fuse.Attr) {
	out.Mode = a.mode()
	out.Size = uint64(a.size)
	if a.kind == kindDir {
		out.Size = 4096
		out.Nlink = 2
	} else {
		out.Nlink = 1
	}
	out.Ino = ino
	out.Uid = a.uid
	out.Gid = a.gid
	out.Rdev = a.rdev
	if a.mtime.IsZero() {
		a.mtime = n.fsys.mountTime
	}
	at, mt, ct := a.atimeOr(), a.mtime, a.ctimeOr()
	out.SetTimes(&at, &mt, &ct)
	out.Blksize = 1 << 16
	out.Blocks = (out.Size + 511) / 512
}

// current returns the node's attributes, with the live size and mtime of
// an open or dirty copy.
func (n *node) current() attrs {
	p, ok := n.path()
	return n.currentAt(p, ok)
}

// currentAt is current for a node whose path the caller knows (a child
// being looked up is not in the tree yet: asking the tree for its path
// would find it orphaned). hasPath is false for an orphaned node.
func (n *node) currentAt(p string, hasPath bool) attrs {
	n.mu.Lock()
	a := n.a
	e := n.openR().entry
	written := n.openR().written
	lf := n.openR().local
	n.mu.Unlock()
	if e != nil {
		a.size = e.Size()
	} else if lf != nil {
		a.size = lf.size()
	} else if a.kind == kindFile && hasPath {
		if ce := n.fsys.cache.Lookup(n.fsys.names.object(p)); ce != nil && ce.Dirty() {
			a.size = ce.Size()
		}
	}
	if written > a.mtime.UnixNano() {
		// Written since: mtime and ctime are the last write (a write does
		// not change atime).
		a.mtime = time.Unix(0, written)
		if a.ctime < written {
			a.ctime = 0
		}
	}
	return a
}

func (n *node) timeouts(out *fuse.EntryOut) {
	d := n.fsys.kernelTTL()
	out.SetEntryTimeout(d)
	out.SetAttrTimeout(d)
}

// kernelTTL is how long the kernel may cache names and attributes.
func (f *FS) kernelTTL() time.Duration { return min(time.Second, f.opts.MetadataTTL) }

// childNode returns the inode for a child, reusing a live one of the same
// type so that st_ino stays stable while the kernel knows it.
func (n *node) childNode(ctx context.Context, name string, e *nsEntry) *gofs.Inode {
	if ch := n.GetChild(name); ch != nil {
		if cn, ok := ch.Operations().(*node); ok && cn.isReplaced() {
			// Renamed over a moment ago: wait for go-fuse to put the new
			// file's node here instead of handing out the old one.
			cn.settleReplaced()
		}
	}
	if ch := n.GetChild(name); ch != nil {
		if cn, ok := ch.Operations().(*node); ok && cn.kind == e.kind {
			cn.mu.Lock()
			if cn.openR().entry == nil && cn.openR().local == nil {
				cn.refreshAttrsLocked(e.attrs)
			} else if !cn.ownAttrsLocked() {
				cn.a.perm, cn.a.uid, cn.a.gid = e.perm, e.uid, e.gid
			}
			cn.mu.Unlock()
			return ch
		}
	}
	cn := &node{fsys: n.fsys, kind: e.kind, a: e.attrs}
	return n.NewInode(ctx, cn, gofs.StableAttr{Mode: e.mode() & syscall.S_IFMT, Ino: n.fsys.newIno()})
}

// Lookup implements gofs.NodeLookuper: answered from the directory's
// listing (no HEAD per name). It counts the kernel's lookups in the
// directory, which tell a readdir that the names it lists are being
// stat'ed (dirHandle.Lookup).
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	n.lookups.Add(1)
	return n.lookup(ctx, name, out)
}

func (n *node) lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if len(name) > 255 {
		return nil, syscall.ENAMETOOLONG // NAME_MAX (statfs says so too)
	}
	dir, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	p := joinPath(dir, name)
	e, err := n.fsys.lookupEntry(ctx, p)
	if err != nil {
		return nil, n.fsys.fail("lookup", p, err)
	}
	if e == nil {
		if n.fsys.walks.stale(ctx, p, n.fsys.now()) {
			n.fsys.log.Debug("lookup of a name just renamed over a symlink to it: ESTALE, the kernel walks again", "path", p)
			return nil, syscall.ESTALE // see symwalk.go
		}
		if n.fsys.walks.recent(p, n.fsys.now()) {
			// Not cached: a walk through the old symlink must reach us
			// (symwalk.go). go-fuse answers ENOENT with a timeout set
			// here as a plain ENOENT error.
			out.SetEntryTimeout(n.fsys.kernelTTL())
			return nil, syscall.ENOENT
		}
		// With no timeout set, go-fuse answers a negative entry (node ID
		// 0) that the kernel caches for Options.NegativeTimeout
		// (kernelTTL, mount.go): a repeated probe of a missing name is
		// no round trip. Names made through this mount replace the
		// cached entry at once (the kernel instantiates it).
		return nil, syscall.ENOENT
	}
	ch := n.childNode(ctx, name, e)
	cn := ch.Operations().(*node)
	if e.localOnly {
		n.fsys.localMu.Lock()
		lf := n.fsys.locals[p]
		n.fsys.localMu.Unlock()
		cn.mu.Lock()
		if cn.openR().local == nil && lf != nil {
			cn.openW().local = lf
		}
		cn.mu.Unlock()
	}
	n.fillAttr(cn.currentAt(p, true), ch.StableAttr().Ino, &out.Attr)
	n.timeouts(out)
	return ch, 0
}

// Getattr implements gofs.NodeGetattrer.
func (n *node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if n != n.fsys.root {
		n.mu.Lock()
		open := n.openR().entry != nil || n.openR().local != nil || n.unlinked || n.replaced
		n.mu.Unlock()
		if !open {
			if p, ok := n.path(); ok {
				if e, err := n.fsys.lookupEntry(ctx, p); err == nil && e != nil && e.kind == n.kind {
					n.mu.Lock()
					n.refreshAttrsLocked(e.attrs)
					n.mu.Unlock()
				}
			}
		}
	} else {
		n.fsys.refreshRoot(ctx)
	}
	n.fillAttr(n.current(), n.StableAttr().Ino, &out.Attr)
	n.unlinkedNlink(&out.Attr)
	out.SetTimeout(n.fsys.kernelTTL())
	return 0
}

// unlinkedNlink reports a link count of 0 for an unlinked file that is
// still open (fstat after unlink).
func (n *node) unlinkedNlink(out *fuse.Attr) {
	n.mu.Lock()
	if n.unlinked {
		out.Nlink = 0
	}
	n.mu.Unlock()
}

// refreshRoot reads the root's own marker attributes, if any.
func (f *FS) refreshRoot(ctx context.Context) {
	if f.ensureListed(ctx, "") != nil {
		return
	}
	f.nsMu.Lock()
	self := f.dirLocked("").self
	f.nsMu.Unlock()
	if self != nil {
		f.root.mu.Lock()
		f.root.a = self.attrs
		f.root.mu.Unlock()
	}
}

// Readdir implements gofs.NodeReaddirer from the cached listing. (go-fuse
// reads directories through OpendirHandle, readdir.go, which streams the
// same way.)
func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ds, errno := n.readdirStream(ctx)
	if errno != 0 {
		return nil, errno
	}
	return ds, 0
}

// readdirStream lists the directory if needed and returns a stream over a
// snapshot of its entries: a readdir of a million names copies no name.
func (n *node) readdirStream(ctx context.Context) (*dirStream, syscall.Errno) {
	dir, ok := n.path()
	if !ok {
		return &dirStream{n: n, s: &dirSnap{}}, 0
	}
	if err := n.fsys.ensureListed(ctx, dir); err != nil {
		return nil, n.fsys.fail("readdir", dir, err)
	}
	return &dirStream{n: n, s: n.fsys.dirSnapshot(dir)}, 0
}

// Statfs implements gofs.NodeStatfser: the container's quota (or 1 PiB)
// as the size, its bytes used as used.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	ci := n.fsys.containerInfo(ctx)
	const bs = 4096
	total := int64(1 << 50)
	if ci.QuotaBytes > 0 {
		total = ci.QuotaBytes
	}
	used := min(ci.Bytes, total)
	out.Bsize = bs
	out.Frsize = bs
	out.Blocks = uint64(total / bs)
	out.Bfree = uint64((total - used) / bs)
	out.Bavail = out.Bfree
	out.Files = 1 << 40
	out.Ffree = out.Files - uint64(ci.Objects)
	out.NameLen = 255
	return 0
}

// Fsync on a directory (fsyncdir) succeeds: every namespace change is
// already sent to Swift when its call returns. On a file without a handle
// it syncs the cached copy.
func (n *node) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h, ok := fh.(*handle); ok {
		return h.Fsync(ctx, flags)
	}
	if n.kind != kindFile {
		return 0
	}
	p, ok := n.path()
	if !ok {
		return 0
	}
	if e := n.fsys.cache.Lookup(n.fsys.names.object(p)); e != nil {
		if err := e.Sync(ctx); err != nil && !errors.Is(err, cache.ErrNotReady) {
			return n.fsys.fail("fsync", p, err)
		}
	}
	return 0
}

func caller(ctx context.Context) (uint32, uint32) {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Uid, c.Gid
	}
	return 0, 0
}

// freeName is the prologue of the calls that make a new name in n (mkdir,
// symlink, mknod): the new entry's path, once its name is valid and no
// entry has it (EEXIST; with dirtyTaken also when a dirty cached file has
// it).
func (n *node) freeName(ctx context.Context, op, name string, dirtyTaken bool) (string, syscall.Errno) {
	f := n.fsys
	dir, ok := n.path()
	if !ok {
		return "", syscall.ENOENT
	}
	p := joinPath(dir, name)
	if errno := f.checkName(dir, name); errno != 0 {
		return "", errno
	}
	if e, err := f.lookupEntry(ctx, p); err != nil {
		return "", f.fail(op, p, err)
	} else if e != nil {
		return "", syscall.EEXIST
	}
	if dirtyTaken {
		if ce := f.cache.Lookup(f.names.object(p)); ce != nil && ce.Dirty() {
			return "", syscall.EEXIST
		}
	}
	return p, 0
}

// Mkdir implements gofs.NodeMkdirer: a marker object "dir/" persists the
// (empty) directory with its mode.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	p, errno := n.freeName(ctx, "mkdir", name, false)
	if errno != 0 {
		return nil, errno
	}
	a := n.newAttrs(ctx, kindDir, mode&0o7777)
	info, err := f.putMarker(ctx, p, a)
	if err != nil {
		return nil, f.fail("mkdir", p, err)
	}
	e := &nsEntry{attrs: a, remote: true, markerName: f.names.marker(p), etag: info.ETag}
	own := *e // once set, e is the namespace's: updateEntry changes it under nsMu
	f.setEntry(p, e)
	f.nsMu.Lock()
	ds := f.dirLocked(p)
	ds.listedAt = f.now()
	self := own
	self.localAt = f.now()
	ds.self = &self
	f.nsMu.Unlock()
	ch := n.childNode(ctx, name, &own)
	n.fillAttr(a, ch.StableAttr().Ino, &out.Attr)
	n.timeouts(out)
	return ch, 0
}

func (f *FS) putMarker(ctx context.Context, p string, a attrs) (swiftclient.ObjectInfo, error) {
	ct, meta := encode(ctDirectory, a)
	return f.client.Put(ctx, f.names.marker(p), strings.NewReader(""), 0,
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: "d41d8cd98f00b204e9800998ecf8427e"})
}

// checkName refuses, before anything is written, names Swift cannot store:
// object names must be valid UTF-8 and at most 1024 bytes (Swift's default
// max_object_name_length) including the mount prefix and directories.
func (f *FS) checkName(dir, name string) syscall.Errno {
	if len(name) > 255 {
		return syscall.ENAMETOOLONG
	}
	if strings.ContainsRune(name, '/') || name == "" || !utf8.ValidString(name) {
		return syscall.EINVAL
	}
	if len(f.names.object(joinPath(dir, name)))+1 > maxObjectName {
		return syscall.ENAMETOOLONG
	}
	return 0
}

// maxObjectName is Swift's default limit on object name length.
const maxObjectName = 1024

// Symlink implements gofs.NodeSymlinker: an object holding the target text
// verbatim, content type application/link, created only if absent
// (If-None-Match: *), so that symlink() as a lock is atomic even across
// mounts.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	f := n.fsys
	if f.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	p, errno := n.freeName(ctx, "symlink", name, true)
	if errno != 0 {
		return nil, errno
	}
	a := n.newAttrs(ctx, kindSymlink, 0o777)
	a.size = int64(len(target))
	ct, meta := encode(ctSymlink, a)
	sum := md5hex([]byte(target))
	info, err := f.client.Put(ctx, f.names.object(p), strings.NewReader(target), int64(len(target)),
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: sum, IfNoneMatch: true})
	if err != nil {
		return nil, f.fail("symlink", p, err)
	}
	e := &nsEntry{attrs: a, remote: true, etag: info.ETag}
	own := *e // once set, e is the namespace's: updateEntry changes it under nsMu
	f.setEntry(p, e)
	ch := n.childNode(ctx, name, &own)
	cn := ch.Operations().(*node)
	cn.mu.Lock()
	cn.openW().target = target
	cn.mu.Unlock()
	n.fillAttr(a, ch.StableAttr().Ino, &out.Attr)
	n.timeouts(out)
	return ch, 0
}

// Readlink implements gofs.NodeReadlinker: the object's content.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	n.mu.Lock()
	t := n.openR().target
	n.mu.Unlock()
	if t != "" {
		return []byte(t), 0
	}
	p, ok := n.path()
	if !ok {
		// Renamed over or removed since the kernel looked it up: it walks
		// the path again and finds what the name holds now.
		return nil, syscall.ESTALE
	}
	rc, _, err := n.fsys.client.Get(ctx, n.fsys.names.object(p), 0, -1)
	if err != nil {
		return nil, n.fsys.fail("readlink", p, err)
	}
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		k, rerr := rc.Read(buf)
		b.Write(buf[:k])
		if rerr != nil {
			break
		}
	}
	n.mu.Lock()
	n.openW().target = b.String()
	n.mu.Unlock()
	return []byte(b.String()), 0
}
