package cache

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/swiftfs/swiftfs/swiftclient"
)

func objNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("d/f%03d", i))
	}
	return out
}

// Prefetched objects come through the normal download (one GET each,
// verified) and the reader's Opens then find them: no second GET. Objects
// with an entry already (downloaded, or dirty here) are not fetched again.
func TestPrefetchThenOpen(t *testing.T) {
	ev := newEnv(t, nil)
	names := objNames(10)
	var infos []*swiftObject
	for i, n := range names {
		data := randBytes(4096 + i)
		infos = append(infos, &swiftObject{n, data, ev.remote(n, data)})
	}
	// f000 is downloaded and f001 dirty before the prefetch.
	e, err := ev.c.Open(names[0], infos[0].info, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "download", e.Complete)
	ev.c.Release(e)
	ev.create(names[1], []byte("local"))
	ev.fake.ResetCounts()

	var objs []swiftclient.ObjectInfo
	for _, o := range infos {
		objs = append(objs, *o.info)
	}
	ev.c.Prefetch("d", objs)
	waitFor(t, "prefetch idle", ev.c.PrefetchIdle)
	if n := ev.fake.Count("get"); n != 8 {
		t.Errorf("%d GETs for the prefetch, want 8 (one per object not in the cache)", n)
	}
	st := ev.c.Stats()
	if st.Prefetched != 8 {
		t.Errorf("Prefetched %d, want 8", st.Prefetched)
	}
	for _, o := range infos[2:] {
		e, err := ev.c.Open(o.name, o.info, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(context.Background(), e)
		ev.c.Release(e)
		if err != nil || !bytes.Equal(got, o.data) {
			t.Errorf("%s: read %d bytes (err %v), want %d", o.name, len(got), err, len(o.data))
		}
	}
	if n := ev.fake.Count("get"); n != 8 {
		t.Errorf("%d GETs after the reader's opens, want still 8", n)
	}
	if st := ev.c.Stats(); st.PrefetchHits != 8 || st.PrefetchWasted != 0 {
		t.Errorf("PrefetchHits %d, PrefetchWasted %d; want 8, 0", st.PrefetchHits, st.PrefetchWasted)
	}
	if e := ev.c.Lookup(names[1]); e == nil || e.Size() != int64(len("local")) {
		t.Errorf("the file written here, %s, was replaced by the prefetch", names[1])
	}
}

type swiftObject struct {
	name string
	data []byte
	info *swiftclient.ObjectInfo
}

// The budget: prefetches take at most a quarter of it, never evict dirty
// data nor another unused prefetched copy; unused copies are the first
// evicted for a reader's download.
func TestPrefetchBudget(t *testing.T) {
	const kib = 1 << 10
	tests := []struct {
		name     string
		max      int64
		dirty    int   // bytes of a dirty file made first
		clean    int   // bytes of a clean, closed copy made first
		n        int   // 4 KiB objects prefetched
		want     int64 // prefetches started
		thenOpen int   // then a reader opens an object of this size
		wasted   int64 // prefetched copies evicted for it
	}{
		{"a quarter of the budget", 64 * kib, 0, 0, 20, 4, 0, 0},
		{"dirty data stays", 64 * kib, 56 * kib, 0, 5, 2, 0, 0},
		{"unused copies go first", 64 * kib, 0, 40 * kib, 4, 4, 20 * kib, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, func(o *Options) { o.MaxBytes = tt.max; o.WriteBackDelay = 1 << 40 })
			if tt.dirty > 0 {
				ev.create("dirty", randBytes(tt.dirty))
			}
			var cleanInfo *swiftclient.ObjectInfo
			if tt.clean > 0 {
				cleanInfo = ev.remote("clean", randBytes(tt.clean))
				e, err := ev.c.Open("clean", cleanInfo, false)
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, "download", e.Complete)
				ev.c.Release(e)
			}
			var objs []swiftclient.ObjectInfo
			for i, n := range objNames(tt.n) {
				objs = append(objs, *ev.remote(n, randBytes(4*kib-i)))
			}
			ev.fake.ResetCounts()
			ev.c.Prefetch("d", objs)
			waitFor(t, "prefetch idle", ev.c.PrefetchIdle)
			st := ev.c.Stats()
			if st.Prefetched != tt.want || int64(ev.fake.Count("get")) != tt.want {
				t.Errorf("Prefetched %d with %d GETs, want %d", st.Prefetched, ev.fake.Count("get"), tt.want)
			}
			if st.UsedBytes > tt.max {
				t.Errorf("used %d bytes, over the budget %d", st.UsedBytes, tt.max)
			}
			if tt.dirty > 0 {
				if e := ev.c.Lookup("dirty"); e == nil || !e.Dirty() || e.Size() != int64(tt.dirty) {
					t.Errorf("the dirty file was evicted or changed")
				}
			}
			if tt.thenOpen > 0 {
				info := ev.remote("reader", randBytes(tt.thenOpen))
				e, err := ev.c.Open("reader", info, false)
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, "download", e.Complete)
				ev.c.Release(e)
				if st := ev.c.Stats(); st.PrefetchWasted != tt.wasted {
					t.Errorf("PrefetchWasted %d, want %d", st.PrefetchWasted, tt.wasted)
				}
				if tt.clean > 0 && ev.c.Lookup("clean") == nil {
					t.Errorf("the older clean copy was evicted before the unused prefetched ones")
				}
			}
		})
	}
}

// CancelPrefetch drops the queued prefetches of its key, not those
// running nor another key's.
func TestCancelPrefetch(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.PrefetchWorkers = 1 })
	var objs []swiftclient.ObjectInfo
	for _, n := range objNames(5) {
		objs = append(objs, *ev.remote(n, randBytes(100)))
	}
	other := *ev.remote("e/x", randBytes(100))
	ev.fake.ResetCounts()
	gate := ev.client.setGate(0) // the first GET's body waits
	ev.c.Prefetch("d", objs)
	ev.c.Prefetch("e", []swiftclient.ObjectInfo{other})
	waitFor(t, "the first GET", func() bool { return ev.fake.Count("get") == 1 })
	ev.c.CancelPrefetch("d")
	close(gate)
	waitFor(t, "prefetch idle", ev.c.PrefetchIdle)
	if n := ev.fake.Count("get"); n != 2 {
		t.Errorf("%d GETs, want 2 (the running one, and the other key's)", n)
	}
	if ev.c.Lookup(objs[0].Name) == nil || ev.c.Lookup("e/x") == nil {
		t.Errorf("the running prefetch or the other key's was dropped")
	}
	for _, o := range objs[1:] {
		if ev.c.Lookup(o.Name) != nil {
			t.Errorf("%s prefetched after the cancel", o.Name)
		}
	}
}

// A prefetch that fails (the object was deleted after the listing) leaves
// nothing behind and logs at debug level only; a reader's open then
// downloads again and its failure is an error.
func TestPrefetchFailure(t *testing.T) {
	ev := newEnv(t, nil)
	info := *ev.remote("d/gone", randBytes(100))
	if err := ev.fake.Delete(context.Background(), "d/gone", swiftclient.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ev.c.Prefetch("d", []swiftclient.ObjectInfo{info})
	waitFor(t, "prefetch idle", ev.c.PrefetchIdle)
	log := ev.log.String()
	if !strings.Contains(log, "prefetch failed") || strings.Contains(log, "download failed") {
		t.Errorf("log after a failed prefetch:\n%s", log)
	}
	if ev.c.Lookup("d/gone") != nil {
		t.Errorf("the failed prefetch left an entry")
	}
	e, err := ev.c.Open("d/gone", &info, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(context.Background(), e); err == nil {
		t.Errorf("read of a deleted object succeeded")
	}
	ev.c.Release(e)
	if !strings.Contains(ev.log.String(), "download failed") {
		t.Errorf("a reader's failed download was not logged as an error")
	}
}
