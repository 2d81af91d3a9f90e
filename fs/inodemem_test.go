package fs

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// memRoot is a directory whose every name exists: Lookup makes a child
// with mk, as node.lookup does.
type memRoot struct {
	gofs.Inode
	mk  func() gofs.InodeEmbedder
	ino uint64
}

func (r *memRoot) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	r.ino++
	return r.NewInode(ctx, r.mk(), gofs.StableAttr{Mode: syscall.S_IFREG, Ino: r.ino}), 0
}

type bareInode struct{ gofs.Inode }

// heapPerLookup is the live heap each of n LOOKUPs through go-fuse's bridge
// (as the kernel sends them for `ls -l`) leaves behind.
func heapPerLookup(t *testing.T, n int, mk func() gofs.InodeEmbedder) float64 {
	root := &memRoot{mk: mk, ino: 1}
	raw := gofs.NewNodeFS(root, &gofs.Options{})
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("object-%07d.fits", i) // the names' bytes are the listing's, not counted
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, name := range names {
		var out fuse.EntryOut
		if st := raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, name, &out); st != fuse.OK {
			t.Fatalf("lookup %s: %v", name, st)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(raw)
	runtime.KeepAlive(names)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestHeapPerLookedUpName measures what a name the kernel knows costs:
// go-fuse's share (an Inode of its own with a bare embedder) and swiftfs's
// node on top. docs/DESIGN.md ("Memory") quotes these figures; the bounds
// keep swiftfs's share from growing unnoticed.
func TestHeapPerLookedUpName(t *testing.T) {
	const n = 30000
	bare := heapPerLookup(t, n, func() gofs.InodeEmbedder { return &bareInode{} })
	withNode := heapPerLookup(t, n, func() gofs.InodeEmbedder { return &node{} })
	t.Logf("heap per looked-up name: go-fuse with a bare Inode %.0f B, with swiftfs's node %.0f B (node's own share %.0f B)",
		bare, withNode, withNode-bare)
	// node's share: the node struct less the Inode it embeds (240 - 128
	// bytes); its open-file state is not allocated for a lookup.
	if own := withNode - bare; own > 128 {
		t.Errorf("swiftfs's node adds %.0f B of heap to a looked-up name, want at most 128", own)
	}
}
