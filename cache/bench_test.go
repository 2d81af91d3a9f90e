package cache

import (
	"testing"
)

// BenchmarkWriteAt measures sequential 128 KiB writes (FUSE's usual size)
// into one dirty entry, with the budget and --cache-min-free checks on.
func BenchmarkWriteAt(b *testing.B) {
	ev := newEnv(b, func(o *Options) { o.MinFree = 1 << 20; o.checkInvariants = false; o.MaxBytes = 64 << 30 })
	e, err := ev.c.Open("f", nil, true)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.WriteAt(buf, int64(i)*int64(len(buf))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ev.c.Remove("f")
	ev.c.Release(e)
}
