package fs

import (
	"context"
	"slices"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readdirPlusMax is the largest directory whose READDIRPLUS answers always
// carry an inode for every name. The kernel asks for READDIRPLUS on every
// readdir (go-fuse does not let it choose), and an entry with an inode
// makes go-fuse and swiftfs keep ~500 bytes for it (go-fuse's Inode and
// tables, the node) for as long as the kernel keeps the name cached, even
// after an `ls` or a glob that never stats it. Above this size a readdir
// starts with plain entries (except for names that have an inode already)
// and switches to inodes for the rest of the stream once the kernel looks
// up a name in the directory: `ls -l` stats the names of each batch before
// it reads the next, so it costs one batch of LOOKUPs, while `ls`, `find`
// or os.listdir of a million names cost their listing only. This is what
// the kernel's own "readdirplus auto" mode does.
const readdirPlusMax = 10000

// dirSnap is what a readdir shows: the directory's listing (shared, not
// copied) with the changes made since, sorted, on top.
type dirSnap struct {
	base  *listing
	delta []snapItem
	count int
}

type snapItem struct {
	name string
	mode uint32
	gone bool // a listed name deleted here
}

// dirSnapshot returns dir's entries as they are now.
func (f *FS) dirSnapshot(dir string) *dirSnap {
	f.nsMu.Lock()
	ds := f.dirLocked(dir)
	s := &dirSnap{base: ds.base, count: ds.len(), delta: make([]snapItem, 0, len(ds.delta))}
	for name, e := range ds.delta {
		it := snapItem{name: name, gone: e == nil}
		if e != nil {
			it.mode = e.mode()
		}
		s.delta = append(s.delta, it)
	}
	f.nsMu.Unlock()
	slices.SortFunc(s.delta, func(a, b snapItem) int { return strings.Compare(a.name, b.name) })
	return s
}

// dirStream yields a dirSnap's entries in name order (a deterministic
// readdir), with the inode numbers of names that have a live inode.
type dirStream struct {
	n       *node
	s       *dirSnap
	i, j    int    // next entry of s.base, of s.delta
	off     uint64 // entries returned
	next    fuse.DirEntry
	hasNext bool // next holds the next entry
}

var (
	_ gofs.DirStream     = (*dirStream)(nil)
	_ gofs.FileSeekdirer = (*dirStream)(nil)
)

func (d *dirStream) HasNext() bool {
	if !d.hasNext {
		d.next, d.hasNext = d.advance()
	}
	return d.hasNext
}

func (d *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	if !d.HasNext() {
		return fuse.DirEntry{}, syscall.ENOENT
	}
	e := d.next
	d.hasNext = false
	d.off++
	e.Off = d.off
	if ch := d.n.GetChild(e.Name); ch != nil {
		e.Ino = ch.StableAttr().Ino
	}
	return e, 0
}

// advance merges the listing with the changes.
func (d *dirStream) advance() (fuse.DirEntry, bool) {
	for {
		haveBase := d.i < d.s.base.len()
		var bn string
		if haveBase {
			bn = d.s.base.name(d.i)
		}
		if d.j < len(d.s.delta) {
			it := d.s.delta[d.j]
			if !haveBase || it.name <= bn {
				d.j++
				if haveBase && it.name == bn {
					d.i++
				}
				if it.gone {
					continue
				}
				return fuse.DirEntry{Name: it.name, Mode: it.mode}, true
			}
		}
		if !haveBase {
			return fuse.DirEntry{}, false
		}
		d.i++
		return fuse.DirEntry{Name: bn, Mode: d.s.base.mode(d.i - 1)}, true
	}
}

// Seekdir goes to the entry after the off-th (0: the start), in the same
// snapshot.
func (d *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off > uint64(d.s.count) {
		return syscall.EINVAL
	}
	d.i, d.j, d.off, d.hasNext = 0, 0, 0, false
	for d.off < off && d.HasNext() {
		d.hasNext = false
		d.off++
	}
	return 0
}

func (d *dirStream) Close() {}

// dirHandle is an open directory. The snapshot is taken at the first
// read, as go-fuse does for a NodeReaddirer.
type dirHandle struct {
	n       *node
	ds      *dirStream
	cur     fuse.DirEntry // what Readdirent returned last (go-fuse copies it)
	plus    bool          // READDIRPLUS gives every name an inode
	lookups uint32        // n.lookups when the stream was made
}

var (
	_ gofs.NodeOpendirHandler = (*node)(nil)
	_ gofs.FileReaddirenter   = (*dirHandle)(nil)
	_ gofs.FileSeekdirer      = (*dirHandle)(nil)
	_ gofs.FileLookuper       = (*dirHandle)(nil)
	_ gofs.FileReleasedirer   = (*dirHandle)(nil)
)

// OpendirHandle implements gofs.NodeOpendirHandler.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{n: n}, 0, 0
}

func (h *dirHandle) open(ctx context.Context) syscall.Errno {
	if h.ds != nil {
		return 0
	}
	ds, errno := h.n.readdirStream(ctx)
	if errno != 0 {
		return errno
	}
	h.ds = ds
	h.plus = ds.s.count <= readdirPlusMax
	h.lookups = h.n.lookups.Load()
	return 0
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if errno := h.open(ctx); errno != 0 {
		return nil, errno
	}
	if !h.ds.HasNext() {
		return nil, 0
	}
	var errno syscall.Errno
	h.cur, errno = h.ds.Next()
	return &h.cur, errno
}

func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := h.open(ctx); errno != 0 {
		return errno
	}
	return h.ds.Seekdir(ctx, off)
}

// Lookup implements gofs.FileLookuper for READDIRPLUS: the name's inode,
// except in a directory above readdirPlusMax until the kernel looked a
// name up there, where a name that has no inode gets a plain entry (ENOENT
// here: go-fuse then sends node ID 0, which the kernel takes as "no
// attributes for this name", not as a negative entry).
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if !h.plus && h.n.lookups.Load() != h.lookups {
		h.plus = true
	}
	if !h.plus && h.n.GetChild(name) == nil {
		return nil, syscall.ENOENT
	}
	return h.n.lookup(ctx, name, out)
}

func (h *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) {}
