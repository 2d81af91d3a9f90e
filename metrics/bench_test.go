package metrics

import (
	"syscall"
	"testing"
	"time"
)

// The cost added to every FUSE request and every Swift request when
// --metrics-addr is on (go test -bench . ./metrics/).
func BenchmarkFUSEOp(b *testing.B) {
	m := New("bench")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.FUSEOp("getattr", 3*time.Microsecond, 0)
		}
	})
}

func BenchmarkFUSEOpError(b *testing.B) {
	m := New("bench")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.FUSEOp("lookup", 3*time.Microsecond, syscall.ENOENT)
		}
	})
}

func BenchmarkSwiftRequest(b *testing.B) {
	m := New("bench")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("GET", 200, 2*time.Millisecond)
			m.Received(65536)
		}
	})
}
