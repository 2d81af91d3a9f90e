package fs

import (
	"testing"
	"unsafe"
)

// One node lives per name the kernel knows: a field that pushes it past
// the 320-byte size class costs 32 bytes per inode (32 MB after `ls -l`
// of a million files).
func TestNodeSize(t *testing.T) {
	// 240 is a size class of Go's allocator: one node per name the kernel
	// knows (docs/DESIGN.md, "Memory").
	if got := unsafe.Sizeof(node{}); got > 240 {
		t.Errorf("node is %d bytes, want at most 240 (order fields without padding, or move rare ones to nodeOpen)", got)
	}
}
