package fs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

// step's decisions for sequences of opens in a listing of files f00..f19
// where f05 is a directory: nothing before prefetchTrigger opens in
// order, then a window that doubles up to the maximum, a cancel when the
// order breaks, nothing for a reopen of the same file.
func TestReadAheadStep(t *testing.T) {
	b := newListBuilder("d/", time.Time{}, func(string, string) {})
	for i := range 20 {
		e := nsEntry{attrs: attrs{kind: kindFile, size: 10}, remote: true}
		if i == 5 {
			e = nsEntry{attrs: attrs{kind: kindDir}}
		}
		b.add(fmt.Sprintf("f%02d", i), e, i == 5)
	}
	l := b.finish()
	type want struct{ from, to int }
	none := want{1, 0}
	tests := []struct {
		name    string
		opens   []int
		max     int
		want    []want
		cancels []bool
	}{
		{"in order", []int{0, 1, 2, 3, 4, 6, 7}, 64,
			[]want{none, none, {3, 6}, {7, 11}, {12, 19}, none, none}, nil},
		{"max window", []int{0, 1, 2, 3, 4}, 2,
			[]want{none, none, {3, 4}, {5, 5}, {6, 6}}, nil},
		{"reopen changes nothing", []int{0, 0, 1, 1, 2}, 64,
			[]want{none, none, none, none, {3, 6}}, nil},
		{"random order", []int{7, 3, 12, 0, 9, 1, 14}, 64,
			[]want{none, none, none, none, none, none, none}, nil},
		{"order breaks: cancel, then a new run", []int{0, 1, 2, 10, 11, 12}, 64,
			[]want{none, none, {3, 6}, none, none, {13, 16}},
			[]bool{false, false, false, true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r readAhead
			for k, i := range tt.opens {
				from, to, cancel := r.step("d", l, i, tt.max)
				if from > to {
					from, to = 1, 0
				}
				if got := (want{from, to}); got != tt.want[k] {
					t.Errorf("open %d (f%02d): prefetch %v, want %v", k, i, got, tt.want[k])
				}
				if wantCancel := tt.cancels != nil && tt.cancels[k]; cancel != wantCancel {
					t.Errorf("open %d (f%02d): cancel %v, want %v", k, i, cancel, wantCancel)
				}
			}
		})
	}
}

// prefetchFS is an FS over a fake Swift holding dir d with n small files
// f000.., a subdirectory d/f010/ and a large file d/f020.
func prefetchFS(t *testing.T, n, window int) (*FS, *swiftfake.Fake) {
	t.Helper()
	fake := swiftfake.New()
	for i := range n {
		size := 4096 + i
		if i == 20 {
			size = 2 << 20
		}
		if i == 10 {
			fake.PutRaw(fmt.Sprintf("d/f%03d/inner", i), []byte("x"), "application/octet-stream", nil)
			continue
		}
		fake.PutRaw(fmt.Sprintf("d/f%03d", i), make([]byte, size), "application/octet-stream", nil)
	}
	c, err := cache.New(cache.Options{Dir: t.TempDir(), MaxBytes: 1 << 30}, fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(time.Second) })
	f, err := New(Options{PrefetchFiles: window}, fake, c)
	if err != nil {
		t.Fatal(err)
	}
	return f, fake
}

// readFile does what Open, read and close of p do with the namespace and
// the cache, and notes the open as Open does.
func readFile(t *testing.T, f *FS, p string) {
	t.Helper()
	ctx := context.Background()
	ne, err := f.lookupEntry(ctx, p)
	if err != nil || ne == nil {
		t.Fatalf("lookup %s: %v, %v", p, ne, err)
	}
	remote, err := f.remoteInfo(ctx, p, ne)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.cache.Open(f.names.object(p), remote, false)
	if err != nil {
		t.Fatal(err)
	}
	f.prefetchAfterOpen(p)
	buf := make([]byte, 64<<10)
	var total int64
	for {
		k, err := e.ReadAt(ctx, buf, total)
		total += int64(k)
		if err != nil || k == 0 {
			break
		}
	}
	f.cache.Release(e)
	if total != ne.size {
		t.Fatalf("%s: read %d bytes, want %d", p, total, ne.size)
	}
}

// waitIdle waits until no prefetch is queued or running.
func waitIdle(t *testing.T, c *cache.Cache) {
	t.Helper()
	for range 2000 {
		if c.PrefetchIdle() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("prefetches still running after 10 s")
}

// A reader that opens the files of a directory in listing order gets
// them prefetched (each object is fetched once, prefetched or not: no
// second GET for any); one that opens them in another order, or with
// prefetch off, makes exactly one GET per file it opens and no more.
func TestPrefetchReaders(t *testing.T) {
	const n = 60
	var files []int
	for i := range n {
		if i != 10 {
			files = append(files, i)
		}
	}
	shuffled := append([]int(nil), files...)
	rng := rand.New(rand.NewPCG(1, 2))
	for {
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		ok := true
		for k := 1; k < len(shuffled); k++ {
			if d := shuffled[k] - shuffled[k-1]; d == 1 || (d == 2 && shuffled[k] == 11) {
				ok = false // a step in listing order
			}
		}
		if ok {
			break
		}
	}
	tests := []struct {
		name       string
		order      []int
		opened     int // files the reader opens
		window     int
		prefetched bool
	}{
		{"in order", files, len(files), 64, true},
		{"in order, stops early", files, 15, 8, true},
		{"random order", shuffled, len(shuffled), 64, false},
		{"in order, prefetch off", files, len(files), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fake := prefetchFS(t, n, tt.window)
			fake.ResetCounts()
			for _, i := range tt.order[:tt.opened] {
				readFile(t, f, fmt.Sprintf("d/f%03d", i))
			}
			waitIdle(t, f.cache)
			st := f.cache.Stats()
			gets := fake.Count("get")
			t.Logf("%d files opened, %d GETs, %d prefetched, %d prefetch hits", tt.opened, gets, st.Prefetched, st.PrefetchHits)
			if !tt.prefetched {
				if st.Prefetched != 0 || gets != tt.opened {
					t.Errorf("%d GETs for %d files opened, %d prefetches; want one GET per file, no prefetch", gets, tt.opened, st.Prefetched)
				}
				return
			}
			if st.PrefetchHits == 0 {
				t.Errorf("no open found a prefetched copy")
			}
			if int64(gets) != int64(tt.opened)+st.Prefetched-st.PrefetchHits {
				t.Errorf("%d GETs, want one per file opened or prefetched (%d opened, %d prefetched, %d of them opened)",
					gets, tt.opened, st.Prefetched, st.PrefetchHits)
			}
			if tt.opened < 20 && f.cache.Lookup("d/f020") != nil {
				t.Errorf("the large file d/f020 was prefetched")
			}
			if tt.opened == len(files) && st.PrefetchWasted != 0 {
				t.Errorf("%d prefetched copies dropped unused", st.PrefetchWasted)
			}
			if tt.opened < len(files) {
				unused := st.Prefetched - st.PrefetchHits
				if unused > int64(tt.window) {
					t.Errorf("%d prefetched copies not opened, more than the window %d", unused, tt.window)
				}
			}
		})
	}
}
