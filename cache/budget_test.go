package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Concurrent readers and writers never push the cache over its budget:
// neither the accounting nor the files on disk.
func TestBudgetHeldUnderConcurrency(t *testing.T) {
	const max = 4 << 20
	ev := newEnv(t, func(o *Options) {
		o.MaxBytes = max
		o.DownloadChunk = 64 << 10
		o.WriteBackDelay = time.Millisecond
	})
	objs := map[string][]byte{}
	for i := range 12 {
		name := fmt.Sprintf("in/%02d", i)
		objs[name] = randBytes(300<<10 + i*10_000)
		ev.remote(name, objs[name])
	}
	stop := make(chan struct{})
	var over atomic.Int64
	var monitor sync.WaitGroup
	monitor.Add(1)
	go func() {
		defer monitor.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if u := ev.c.usedBytes(); u > max {
				over.Store(u)
			}
			if err := ev.c.checkNow(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	var noSpace, reads, writes atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 30 {
				if w%2 == 0 { // reader
					name := fmt.Sprintf("in/%02d", r.IntN(12))
					info, err := ev.fake.Stat(context.Background(), name)
					if err != nil {
						t.Error(err)
						return
					}
					e, err := ev.c.Open(name, &info, false)
					if errors.Is(err, ErrNoSpace) {
						noSpace.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					got, err := readAll(context.Background(), e)
					ev.c.Release(e)
					if err != nil || !bytes.Equal(got, objs[name]) {
						t.Errorf("read %s: err %v, equal %v", name, err, bytes.Equal(got, objs[name]))
					}
					reads.Add(1)
				} else { // writer
					name := fmt.Sprintf("out/%d-%d", w, i)
					e, err := ev.c.Open(name, nil, true)
					if errors.Is(err, ErrNoSpace) {
						noSpace.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					data := randBytes(100_000 + r.IntN(400_000))
					for off := 0; off < len(data); off += 64 << 10 {
						end := min(off+64<<10, len(data))
						if _, err := e.WriteAt(data[off:end], int64(off)); err != nil {
							if !errors.Is(err, ErrNoSpace) {
								t.Error(err)
							}
							noSpace.Add(1)
							break
						}
					}
					ev.c.Release(e)
					writes.Add(1)
				}
				// The budget holds on disk too: files of evicted
				// entries count until they are deleted.
				if disk := ev.c.diskBytes(); disk > max {
					t.Errorf("data files hold %d bytes, budget %d\n%s", disk, max, ev.c.describe())
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	monitor.Wait()
	if u := over.Load(); u != 0 {
		t.Errorf("used %d bytes, over the budget of %d", u, max)
	}
	t.Logf("%d reads, %d writes, %d ENOSPC", reads.Load(), writes.Load(), noSpace.Load())
	if err := ev.c.SyncAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if disk := ev.c.diskBytes(); disk > max {
		t.Errorf("data files hold %d bytes, budget %d", disk, max)
	}
}

// ENOSPC: a write that does not fit fails and changes nothing; what was
// written before stays, dirty, and is uploaded intact.
func TestNoSpace(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.MaxBytes = 4 << 20; o.WriteBackDelay = time.Hour })
	e, _ := ev.c.Open("f", nil, true)
	first := randBytes(3 << 20)
	if _, err := e.WriteAt(first, 0); err != nil {
		t.Fatal(err)
	}
	n, err := e.WriteAt(randBytes(2<<20), 3<<20)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) || n != 0 {
		t.Fatalf("write over budget: got %d, %v, want 0, ENOSPC", n, err)
	}
	if err := e.Truncate(8 << 20); !errors.Is(err, ErrNoSpace) {
		t.Errorf("truncate over budget: got %v, want ENOSPC", err)
	}
	if e.Size() != 3<<20 || !e.Dirty() {
		t.Errorf("after ENOSPC: size %d, dirty %v", e.Size(), e.Dirty())
	}
	// Another file cannot take the space either, while this one is dirty.
	other, _ := ev.c.Open("g", nil, true)
	if _, err := other.WriteAt(randBytes(2<<20), 0); !errors.Is(err, ErrNoSpace) {
		t.Errorf("second file: got %v, want ENOSPC", err)
	}
	ev.c.Release(other)
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev.c.Release(e)
	got, _ := ev.fake.Data("f")
	if !bytes.Equal(got, first) {
		t.Errorf("uploaded %d bytes, equal %v", len(got), bytes.Equal(got, first))
	}
	// Once uploaded (clean, closed) the space can be reclaimed.
	other, _ = ev.c.Open("g", nil, true)
	if _, err := other.WriteAt(randBytes(2<<20), 0); err != nil {
		t.Errorf("after the upload: %v", err)
	}
	ev.c.Release(other)
	if ev.c.Lookup("f") != nil {
		t.Error("clean f not evicted to make room")
	}
}

// Truncate gives back the budget it no longer needs.
func TestTruncateAccounting(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	e, _ := ev.c.Open("f", nil, true)
	e.WriteAt(randBytes(5<<20), 0)
	if u := ev.c.usedBytes(); u != 5<<20 {
		t.Errorf("used after 5 MiB: %d", u)
	}
	tests := []struct{ size, used int64 }{
		{3<<20 + 1, 3<<20 + 64<<10}, {10 << 20, 10 << 20}, {0, 0}, {100, 4096}, {20<<20 + 1, 21 << 20},
	}
	for _, tt := range tests {
		if err := e.Truncate(tt.size); err != nil {
			t.Fatal(err)
		}
		if u := ev.c.usedBytes(); u != tt.used || e.Size() != tt.size {
			t.Errorf("truncate %d: used %d size %d, want %d %d", tt.size, u, e.Size(), tt.used, tt.size)
		}
	}
	e.WriteAt([]byte("x"), 20<<20+4096)
	ev.c.Release(e) // the last close trims the charge to the blocks used
	if u := ev.c.usedBytes(); u != 20<<20+8192 {
		t.Errorf("used after close: got %d, want %d", u, 20<<20+8192)
	}
	// Many small files are charged by the block, not by the megabyte.
	for i := range 100 {
		ev.create(fmt.Sprintf("small%d", i), []byte("tiny"))
	}
	if u := ev.c.usedBytes(); u != 20<<20+8192+100*4096 {
		t.Errorf("used with 100 small files: got %d, want %d", u, 20<<20+8192+100*4096)
	}
}

// Only clean, unpinned entries are evicted, oldest first; open and dirty
// ones stay, and a download that cannot fit evicts nothing.
func TestEvictionOnlyCleanUnpinned(t *testing.T) {
	const mib = 1 << 20
	ev := newEnv(t, func(o *Options) { o.MaxBytes = 5 * mib; o.WriteBackDelay = time.Hour })
	for i := range 4 {
		name := fmt.Sprintf("clean%d", i)
		info := ev.remote(name, randBytes(mib))
		e, _ := ev.c.Open(name, info, false)
		readAll(context.Background(), e)
		ev.c.Release(e)
	}
	info0, _ := ev.fake.Stat(context.Background(), "clean0")
	open0, _ := ev.c.Open("clean0", &info0, false) // open: pinned
	dirty, _ := ev.c.Open("dirty", nil, true)
	if _, err := dirty.WriteAt(randBytes(mib), 0); err != nil {
		t.Fatal(err) // 5 MiB charged now
	}
	ev.c.Release(dirty)
	info := ev.remote("new", randBytes(mib+mib/2))
	e, err := ev.c.Open("new", info, false)
	if err != nil {
		t.Fatal(err)
	}
	readAll(context.Background(), e)
	ev.c.Release(e)
	for name, want := range map[string]bool{"clean0": true, "clean1": false, "clean2": false, "clean3": true, "dirty": true, "new": true} {
		if got := ev.c.Lookup(name) != nil; got != want {
			t.Errorf("%s cached: got %v, want %v", name, got, want)
		}
	}
	if d := ev.c.Lookup("dirty"); d == nil || !d.Dirty() {
		t.Error("dirty entry lost")
	}
	ev.c.Release(open0)
	// 4.5 MiB cannot fit beside the 1 MiB dirty file: refused, and
	// nothing is evicted for it.
	big := ev.remote("big", randBytes(4*mib+mib/2))
	if _, err := ev.c.Open("big", big, false); !errors.Is(err, ErrNoSpace) {
		t.Errorf("open of a too-big object: got %v, want ENOSPC", err)
	}
	for _, name := range []string{"clean0", "clean3", "dirty", "new"} {
		if ev.c.Lookup(name) == nil {
			t.Errorf("%s evicted for a download that could not fit", name)
		}
	}
}

// --cache-min-free counts bytes of downloads not yet written.
func TestMinFree(t *testing.T) {
	ev2 := newEnv(t, func(o *Options) { o.MinFree = 1 })
	free := ev2.c.freeSpace()
	if free <= 0 {
		t.Skip("statfs unavailable")
	}
	// Well beyond what the disk has: other processes on the machine may
	// free space between the two statfs calls.
	ev3 := newEnv(t, func(o *Options) { o.MinFree = 2*free + 50_000 })
	info := ev3.remote("obj", randBytes(100_000))
	if _, err := ev3.c.Open("obj", info, false); !errors.Is(err, ErrNoSpace) {
		t.Errorf("download leaving less than MinFree: got %v, want ENOSPC", err)
	}
}
