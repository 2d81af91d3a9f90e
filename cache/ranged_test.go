package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// rangeClient wraps the test client with what the on-demand tests need:
// a record of every GET's range, a count of the body bytes the server
// delivered, GETs that hold their body until released, and a latency per
// block of body.
type rangeClient struct {
	*testClient
	served atomic.Int64 // body bytes delivered

	mu   sync.Mutex
	gets []getCall // GUARDED_BY(mu)
	// hold, when set, decides which GETs deliver nothing until release
	// is closed (or the GET's context ends).
	hold    func(off, length int64) bool // GUARDED_BY(mu)
	release chan struct{}                // GUARDED_BY(mu)
	// latency, when set, is slept before every block of at most
	// latencyBlock body bytes.
	latency      time.Duration // GUARDED_BY(mu)
	latencyBlock int           // GUARDED_BY(mu)
}

type getCall struct{ off, length int64 }

func (rc *rangeClient) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, swiftclient.ObjectInfo, error) {
	body, info, err := rc.testClient.Get(ctx, name, off, length)
	if err != nil {
		return body, info, err
	}
	rc.mu.Lock()
	rc.gets = append(rc.gets, getCall{off, length})
	r := &meteredBody{ctx: ctx, r: body, rc: rc, latency: rc.latency, block: rc.latencyBlock}
	if rc.hold != nil && rc.hold(off, length) {
		r.release = rc.release
	}
	rc.mu.Unlock()
	return r, info, nil
}

// holdGets makes the GETs that match (opened from now on) deliver nothing
// until the returned function is called.
func (rc *rangeClient) holdGets(match func(off, length int64) bool) (release func()) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ch := make(chan struct{})
	rc.hold, rc.release = match, ch
	return sync.OnceFunc(func() { close(ch) })
}

// stopHolding lets GETs opened from now on through (held ones stay held
// until released).
func (rc *rangeClient) stopHolding() {
	rc.mu.Lock()
	rc.hold = nil
	rc.mu.Unlock()
}

// openHeld opens name with every GET held until the three workers have
// theirs (each stream stuck at the start of its chunk); GETs opened after
// that go through. It returns the entry and the function that lets the
// workers' GETs go; both are released when the test ends.
func openHeld(t *testing.T, ev *env, rc *rangeClient, name string, info *swiftclient.ObjectInfo) (*Entry, func()) {
	t.Helper()
	release := rc.holdGets(func(off, length int64) bool { return true })
	t.Cleanup(release)
	e, err := ev.c.Open(name, info, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.c.Release(e) })
	waitFor(t, "the workers' GETs", func() bool { return len(rc.calls()) == 3 })
	rc.stopHolding()
	return e, release
}

func (rc *rangeClient) setLatency(d time.Duration, block int) {
	rc.mu.Lock()
	rc.latency, rc.latencyBlock = d, block
	rc.mu.Unlock()
}

func (rc *rangeClient) calls() []getCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]getCall(nil), rc.gets...)
}

type meteredBody struct {
	ctx     context.Context
	r       io.ReadCloser
	rc      *rangeClient
	release chan struct{}
	latency time.Duration
	block   int
}

func (b *meteredBody) Read(p []byte) (int, error) {
	if b.release != nil {
		select {
		case <-b.release:
			b.release = nil
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	if b.latency > 0 {
		if len(p) > b.block {
			p = p[:b.block]
		}
		select {
		case <-time.After(b.latency):
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	n, err := b.r.Read(p)
	b.rc.served.Add(int64(n))
	return n, err
}

func (b *meteredBody) Close() error { return b.r.Close() }

// newRangedEnv is newEnv with a rangeClient between the cache and the fake.
func newRangedEnv(t *testing.T, mod func(*Options)) (*env, *rangeClient) {
	t.Helper()
	var rc *rangeClient
	ev := newEnvWith(t, mod, func(tc *testClient) swiftclient.Client {
		rc = &rangeClient{testClient: tc}
		return rc
	})
	return ev, rc
}

func readAtOK(t *testing.T, e *Entry, want []byte, off int64, n int) {
	t.Helper()
	buf := make([]byte, n)
	got, err := e.ReadAt(context.Background(), buf, off)
	if err != nil || got != n || !bytes.Equal(buf, want[off:off+int64(n)]) {
		t.Fatalf("ReadAt(%d bytes at %d): n %d, err %v, equal %v", n, off, got, err, bytes.Equal(buf[:got], want[off:off+int64(got)]))
	}
}

// checkDone waits for the download to complete and checks the content,
// that every byte was delivered once (plus over), and the budget.
func checkDone(t *testing.T, ev *env, rc *rangeClient, e *Entry, want []byte, over int64) {
	t.Helper()
	got, err := readAll(context.Background(), e)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("whole content: %d bytes, err %v, equal %v", len(got), err, bytes.Equal(got, want))
	}
	waitFor(t, "download complete (MD5 checked)", e.Complete)
	if s := rc.served.Load(); s < int64(len(want)) || s > int64(len(want))+over {
		t.Errorf("bytes delivered by the server: %d, want %d to %d (each byte once)", s, len(want), int64(len(want))+over)
	}
	if n := ev.c.inflight.Load(); n != 0 {
		t.Errorf("bytes still reserved for the download: %d, want 0", n)
	}
	if u := ev.c.usedBytes(); u != int64(len(want)) {
		t.Errorf("charged: %d, want %d", u, len(want))
	}
}

// A read of the last 2880 bytes (a FITS block) and one in the middle of a
// large object are served by ranged GETs of their own while the streams
// are still at the start: the server delivered only the bytes those reads
// need before they returned. The download then completes with every byte
// fetched once and the whole-object MD5 checked.
func TestReadFarAheadFetchesOnDemand(t *testing.T) {
	ev, rc := newRangedEnv(t, lazyChunks) // 64 KiB chunks, 3 streams
	size := 4<<20 + 1000                  // 65 chunks
	want := randBytes(size)
	info := ev.remote("big.fits", want)
	e, release := openHeld(t, ev, rc, "big.fits", info) // the streams are stuck at 0, 64 Ki and 128 Ki

	readAtOK(t, e, want, int64(size-2880), 2880)
	tail := rc.served.Load()
	t.Logf("last 2880 bytes read after the server delivered %d of %d bytes", tail, size)
	// The read spans the last two chunks: bytes from the 4 KiB boundary
	// before it to the end of the object, nothing else.
	if wantTail := int64(size) - int64(size-2880)&^4095; tail != wantTail {
		t.Errorf("bytes delivered before the read of the last block returned: %d, want %d", tail, wantTail)
	}
	mid := int64(size/2 + 100)
	readAtOK(t, e, want, mid, 4096)
	if d := rc.served.Load() - tail; d > 64<<10 {
		t.Errorf("bytes delivered for a 4 KiB read in the middle: %d, want at most one demand span (64 KiB)", d)
	}
	if e.Complete() {
		t.Fatal("download complete although the streams are held")
	}
	for _, g := range rc.calls()[:3] {
		if g.off >= 3*64<<10 {
			t.Errorf("worker GET at %d, want one of the first three chunks", g.off)
		}
	}
	release()
	checkDone(t, ev, rc, e, want, 0)
}

// A read far ahead of a stream inside the span that stream fetches cuts
// the span: the stream stops at the cut, a demand stream fetches the read's
// bytes, and the rest of the span goes to the front of the workers' queue,
// also after the workers had run out of work.
func TestReadAheadCutsClaimedSpan(t *testing.T) {
	ev, rc := newRangedEnv(t, func(o *Options) {
		o.DownloadChunk = 1 << 20 // near 32 KiB, demand spans 128 KiB
		o.DownloadStreams = 3
		o.LazyVerify = true
	})
	size := 3 << 20
	want := randBytes(size)
	info := ev.remote("obj", want)
	release := rc.holdGets(func(off, length int64) bool { return off == 0 })
	defer release()
	e, err := ev.c.Open("obj", info, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.c.Release(e)
	// Chunks 1 and 2 arrive, their workers end: only the held one runs.
	waitFor(t, "chunks 1 and 2", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.availableLocked(1<<20, int64(size)) && e.pdl != nil && e.pdl.workers == 1
	})
	rc.stopHolding()
	// 300 KiB: beyond a quarter chunk (demandNearClaimed), so the held
	// stream is not waited for. The demand stream fetches from the 4 KiB
	// boundary before the read, one demand span (128 KiB); the rest of
	// chunk 0 goes to a worker started for it.
	readAtOK(t, e, want, 300<<10+7, 10_000)
	cut, rest := int64(300<<10), int64(300<<10+128<<10)
	readAtOK(t, e, want, rest+1000, 4096)
	if e.Complete() {
		t.Fatal("complete although the first stream is held")
	}
	release()
	// The held stream reads blocks of 32 KiB and stops at the cut: no
	// byte is delivered twice.
	checkDone(t, ev, rc, e, want, 0)
	gets := rc.calls()
	demand := getCall{cut, rest - cut}
	// The rest of the cut chunk is fetched by the worker started for it
	// (one GET), or, when the second read comes first, by a demand of its
	// own and then a worker (two); checkDone saw each byte delivered once.
	if !slices.Contains(gets, demand) || len(gets) < 5 || len(gets) > 6 {
		t.Errorf("GETs: %v, want the 3 chunks (the first cut at %d), %v (the demand) and the rest of the cut chunk in one or two GETs", gets, cut, demand)
	}
}

// At most DownloadStreams demand streams run besides the workers; further
// demands put their span at the front of the workers' queue. Every read
// returns once the streams move.
func TestDemandStreamsBounded(t *testing.T) {
	ev, rc := newRangedEnv(t, lazyChunks) // 3 workers, 3 demand streams
	size := 2 << 20
	want := randBytes(size)
	info := ev.remote("obj", want)
	release := rc.holdGets(func(off, length int64) bool { return true })
	defer release()
	e, err := ev.c.Open("obj", info, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.c.Release(e)
	offs := []int64{300 << 10, 700 << 10, 1100 << 10, 1500 << 10, 1900 << 10}
	var wg sync.WaitGroup
	for _, off := range offs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1000)
			n, err := e.ReadAt(context.Background(), buf, off)
			if err != nil || n != len(buf) || !bytes.Equal(buf, want[off:off+1000]) {
				t.Errorf("read at %d: n %d, err %v", off, n, err)
			}
		}()
	}
	// Every read demanded its bytes: its span was cut at its offset and
	// is being fetched, or queued first for the workers (who, when a read
	// came before they started, take such spans instead of the first).
	waitFor(t, "every read's span cut and fetched or queued", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, off := range offs {
			i := sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].end > off })
			if i == len(e.chunks) {
				return false // not started yet
			}
			if s := e.chunks[i]; s.start != off || !(s.claimed || s.prio > 0) {
				return false
			}
		}
		return true
	})
	waitFor(t, "3 workers and 3 demand streams", func() bool { return len(rc.calls()) == 6 })
	time.Sleep(20 * time.Millisecond) // room for a seventh GET, which must not come
	if n := len(rc.calls()); n != 6 {
		t.Errorf("GETs while held: %d, want 6", n)
	}
	release()
	wg.Wait()
	checkDone(t, ev, rc, e, want, 0)
}

// With every GET slowed down (a latency per 16 KiB), reads of the last
// FITS block and of a block in the middle return long before the object
// could have arrived: the server delivered less than half of it by then
// (streaming in order, it would have had to deliver nearly all of it).
func TestReadAheadUnderLatency(t *testing.T) {
	ev, rc := newRangedEnv(t, func(o *Options) {
		o.DownloadChunk = 1 << 20
		o.DownloadStreams = 4
		o.LazyVerify = true
	})
	size := 32 << 20
	want := randBytes(size)
	info := ev.remote("big.fits", want)
	rc.setLatency(time.Millisecond, 16<<10)
	e, err := ev.c.Open("big.fits", info, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.c.Release(e)
	type res struct {
		what   string
		served int64
	}
	results := make(chan res, 2)
	for _, r := range []struct {
		what string
		off  int64
		n    int
	}{{"last 2880 bytes", int64(size - 2880), 2880}, {"a block in the middle", int64(size/2 + 2880*7), 2880}} {
		go func() {
			readAtOK(t, e, want, r.off, r.n)
			results <- res{r.what, rc.served.Load()}
		}()
	}
	for range 2 {
		r := <-results
		t.Logf("%s read after the server delivered %d of %d bytes", r.what, r.served, size)
		if r.served > int64(size/2) {
			t.Errorf("%s: the server delivered %d of %d bytes before the read returned, want less than half", r.what, r.served, size)
		}
	}
	checkDone(t, ev, rc, e, want, 0)
}

// A ranged answer from another version than the one being downloaded
// restarts the download with that version (as for the workers): no byte
// of the old version is served to the reader, who gets the new one.
func TestDemandSeesNewVersion(t *testing.T) {
	ev, rc := newRangedEnv(t, lazyChunks)
	size := 1 << 20
	old := randBytes(size)
	info := ev.remote("obj", old)
	e, _ := openHeld(t, ev, rc, "obj", info)
	now := bytes.Clone(old)
	for i := range now {
		now[i] ^= 0x5a
	}
	ev.fake.PutRaw("obj", now, "application/octet-stream", nil) // same size, another ETag
	readAtOK(t, e, now, int64(size-2880), 2880)
	got, err := readAll(context.Background(), e)
	if err != nil || !bytes.Equal(got, now) {
		t.Fatalf("content: err %v, equal to the new version %v", err, bytes.Equal(got, now))
	}
	waitFor(t, "download complete", e.Complete)
	e.mu.Lock()
	etag := e.remoteETag
	e.mu.Unlock()
	if etag != md5hex(now) {
		t.Errorf("entry's version %s, want the new one %s", etag, md5hex(now))
	}
}

// With --verify=lazy, bytes fetched on demand are served before the
// whole-object MD5 covers them: when they were corrupted in transit the
// check fails after they were read, and the copy fails for good (every
// later read ErrCorrupted, the next Open downloads again) rather than
// being mended under the reader; when every attempt is corrupted the
// entry fails with ErrCorrupted too. (verify_test.go: no corrupted byte
// served by default.)
func TestDemandBytesVerified(t *testing.T) {
	t.Run("served", func(t *testing.T) {
		ev, rc := newRangedEnv(t, lazyChunks)
		size := 1 << 20
		want := randBytes(size)
		info := ev.remote("obj", want)
		e, release := openHeld(t, ev, rc, "obj", info)
		ev.client.setCorrupt(1) // the demand's GET
		buf := make([]byte, 2880)
		if _, err := e.ReadAt(context.Background(), buf, int64(size-2880)); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(buf, want[size-2880:]) {
			t.Fatal("the demand's GET was not corrupted (test broken)")
		}
		release()
		waitFor(t, "download end", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return !e.busy
		})
		for _, off := range []int64{0, int64(size - 2880)} {
			if _, err := e.ReadAt(context.Background(), make([]byte, 100), off); !errors.Is(err, swiftclient.ErrCorrupted) {
				t.Errorf("read at %d after the check failed: %v, want ErrCorrupted", off, err)
			}
		}
		if !strings.Contains(ev.log.String(), "download corrupted after some of its bytes were read") {
			t.Error("the failure is not logged")
		}
		ev.c.Release(e)
		e2, err := ev.c.Open("obj", info, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(context.Background(), e2)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("a new Open: err %v, equal %v", err, bytes.Equal(got, want))
		}
		ev.c.Release(e2)
	})
	t.Run("always", func(t *testing.T) {
		ev, rc := newRangedEnv(t, lazyChunks)
		size := 1 << 20
		want := randBytes(size)
		info := ev.remote("obj", want)
		ev.client.setCorrupt(-1)
		e, release := openHeld(t, ev, rc, "obj", info)
		e.ReadAt(context.Background(), make([]byte, 2880), int64(size-2880)) // served early, unverified
		release()
		waitFor(t, "download end", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return !e.busy
		})
		if _, err := e.ReadAt(context.Background(), make([]byte, 100), int64(size-2880)); !errors.Is(err, swiftclient.ErrCorrupted) {
			t.Errorf("read after the check failed: %v, want ErrCorrupted", err)
		}
		ev.c.Release(e)
		if ev.c.Lookup("obj") != nil {
			t.Error("failed entry still in the index")
		}
	})
}

// Many readers at random offsets while a slowed-down download runs: every
// read returns the object's bytes, the download completes with its MD5
// checked, and a byte is delivered twice only when a stream's block ran
// past a cut (less than 4 KiB per GET).
func TestRandomReadsDuringDownload(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ev, rc := newRangedEnv(t, lazyChunks) // near 4 KiB, demand spans 64 KiB
			size := 3<<20 + 12345
			want := randBytes(size)
			info := ev.remote("obj", want)
			rc.setLatency(200*time.Microsecond, 8<<10)
			e, err := ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.c.Release(e)
			var wg sync.WaitGroup
			for r := range uint64(8) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rnd := rand.New(rand.NewPCG(seed, r))
					for range 25 {
						off := rnd.Int64N(int64(size))
						n := 1 + rnd.IntN(200<<10)
						buf := make([]byte, n)
						got, err := e.ReadAt(context.Background(), buf, off)
						end := min(off+int64(n), int64(size))
						if err != nil || int64(got) != end-off || !bytes.Equal(buf[:got], want[off:end]) {
							t.Errorf("read %d at %d: n %d, err %v", n, off, got, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			checkDone(t, ev, rc, e, want, int64(len(rc.calls()))*4096)
			t.Logf("%d GETs, %d bytes delivered for %d", len(rc.calls()), rc.served.Load(), size)
		})
	}
}
