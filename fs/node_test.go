package fs

import (
	"testing"
	"unsafe"
)

// One node lives per name the kernel knows: a field that pushes it past
// the 320-byte size class costs 32 bytes per inode (32 MB after `ls -l`
// of a million files).
func TestNodeSize(t *testing.T) {
	if got := unsafe.Sizeof(node{}); got > 320 {
		t.Errorf("node is %d bytes, want at most 320 (order fields without padding, or move rare ones out)", got)
	}
}
