package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// small download options: parallel above 2 × 64 KiB.
func smallChunks(o *Options) {
	o.DownloadChunk = 64 << 10
	o.DownloadStreams = 3
}

// lazyChunks is smallChunks with --verify=lazy: bytes of a plain object
// are served as they arrive, before the whole-object MD5 (the streaming
// that the demand tests in ranged_test.go exercise; verify_test.go has
// the checks before serving).
func lazyChunks(o *Options) {
	smallChunks(o)
	o.LazyVerify = true
}

func TestOpenDownloadRead(t *testing.T) {
	tests := []struct {
		name string
		size int
		gets int // GET requests expected
	}{
		{"empty", 0, 1},
		{"small", 1000, 1},
		{"two chunks, one stream", 128 << 10, 1},
		{"parallel ranges", 300<<10 + 7, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, smallChunks)
			want := randBytes(tt.size)
			info := ev.remote("obj", want)
			e, err := ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: read %d bytes, want %d (equal: %v)", tt.name, len(got), len(want), bytes.Equal(got, want))
			}
			waitFor(t, "download complete", e.Complete)
			if n := ev.fake.Count("get"); n != tt.gets {
				t.Errorf("%s: %d GETs, want %d", tt.name, n, tt.gets)
			}
			ev.c.Release(e)

			// A second open of the unchanged object reuses the copy.
			e, err = ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			got, _ = readAll(context.Background(), e)
			ev.c.Release(e)
			if !bytes.Equal(got, want) || ev.fake.Count("get") != tt.gets {
				t.Errorf("%s: reopen: equal %v, GETs %d, want true, %d", tt.name, bytes.Equal(got, want), ev.fake.Count("get"), tt.gets)
			}
			if s := ev.c.Stats(); s.Hits != 1 || s.Misses != 1 {
				t.Errorf("%s: hits %d misses %d, want 1 1", tt.name, s.Hits, s.Misses)
			}
		})
	}
}

// A remotely changed object is fetched again; an unchanged one is not.
func TestOpenRevalidates(t *testing.T) {
	ev := newEnv(t, nil)
	info := ev.remote("obj", []byte("version 1"))
	e, _ := ev.c.Open("obj", info, false)
	readAll(context.Background(), e)
	ev.c.Release(e)
	info2 := ev.remote("obj", []byte("version two"))
	e, _ = ev.c.Open("obj", info2, false)
	got, _ := readAll(context.Background(), e)
	ev.c.Release(e)
	if string(got) != "version two" {
		t.Errorf("after a remote change: got %q, want %q", got, "version two")
	}
	if n := ev.fake.Count("get"); n != 2 {
		t.Errorf("GETs: got %d, want 2", n)
	}
	// The listing may lag: the GET tells the truth, and the download
	// restarts with the version it found.
	ev.fake.PutRaw("obj", []byte("version 3!"), "", nil)
	e, _ = ev.c.Open("obj", info, false) // stale info: version 1
	got, err := readAll(context.Background(), e)
	ev.c.Release(e)
	if err != nil || string(got) != "version 3!" {
		t.Errorf("stale info: got %q, %v, want %q", got, err, "version 3!")
	}
}

// A read returns as soon as its bytes are on disk, while the rest of a
// large object is still being downloaded; a read of later bytes whose GET
// (its own, see ranged_test.go) is held waits, and honours its context.
func TestReadWhileDownloadStreams(t *testing.T) {
	ev := newEnv(t, lazyChunks)
	want := randBytes(1 << 20) // 16 ranges of 64 KiB
	info := ev.remote("big", want)
	gate := ev.client.setGate(200 << 10) // bodies stop at 200 KiB
	e, err := ev.c.Open("big", info, false)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := e.ReadAt(context.Background(), buf, 10)
	if err != nil || n != len(buf) || !bytes.Equal(buf, want[10:10+4096]) {
		t.Fatalf("early read: n %d, err %v, equal %v", n, err, bytes.Equal(buf, want[10:10+4096]))
	}
	if e.Complete() {
		t.Fatal("download complete although its GETs are held")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = e.ReadAt(ctx, buf, int64(len(want))-100)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read of held bytes: got %v, want %v", err, context.DeadlineExceeded)
	}
	close(gate)
	got, err := readAll(context.Background(), e)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("after the gate opened: %d bytes, err %v, equal %v", len(got), err, bytes.Equal(got, want))
	}
	ev.c.Release(e)
}

// However many open an object at once, it is downloaded once.
func TestOneDownloadPerObject(t *testing.T) {
	for _, size := range []int{10_000, 1 << 20} {
		ev := newEnv(t, smallChunks)
		want := randBytes(size)
		info := ev.remote("obj", want)
		gate := ev.client.setGate(1000)
		var wg sync.WaitGroup
		const n = 16
		entries := make([]*Entry, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := ev.c.Open("obj", info, false)
				if err != nil {
					t.Error(err)
					return
				}
				entries[i] = e
			}()
		}
		wg.Wait()
		close(gate)
		for i, e := range entries {
			if e == nil {
				continue
			}
			if e != entries[0] {
				t.Errorf("size %d: open %d got another entry", size, i)
			}
			got, err := readAll(context.Background(), e)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("size %d: open %d: err %v, equal %v", size, i, err, bytes.Equal(got, want))
			}
			ev.c.Release(e)
		}
		wantGets := 1
		if size > 2*(64<<10) {
			wantGets = (size + 64<<10 - 1) / (64 << 10)
		}
		if got := ev.fake.Count("get"); got != wantGets {
			t.Errorf("size %d: %d GETs, want %d (one download)", size, got, wantGets)
		}
	}
}

// A download whose bytes do not match the ETag is retried; when it keeps
// failing, the entry fails with ErrCorrupted (EIO), the bytes are never
// served and the copy is not reused.
func TestCorruptedDownload(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		corrupt int // GETs corrupted; -1 all
		wantErr bool
	}{
		{"once, stream", 50_000, 1, false},
		{"always, stream", 50_000, -1, true},
		{"always, parallel", 400 << 10, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, smallChunks)
			want := randBytes(tt.size)
			info := ev.remote("obj", want)
			ev.client.setCorrupt(tt.corrupt)
			e, err := ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			parallel := tt.size > 128<<10
			if parallel && tt.wantErr {
				// Ranges are served as they arrive (the price of
				// streaming); once the check failed, nothing more is.
				waitFor(t, "download end", func() bool {
					e.mu.Lock()
					defer e.mu.Unlock()
					return !e.busy
				})
			}
			buf := make([]byte, 100)
			n, err := e.ReadAt(context.Background(), buf, 0)
			if tt.wantErr {
				if !errors.Is(err, swiftclient.ErrCorrupted) || n != 0 {
					t.Errorf("%s: read: n %d, err %v, want 0, ErrCorrupted", tt.name, n, err)
				}
				if !parallel {
					// One stream: not a byte was served before the check.
					if _, werr := e.WriteAt([]byte("x"), 0); !errors.Is(werr, swiftclient.ErrCorrupted) {
						t.Errorf("%s: write to a failed entry: got %v, want ErrCorrupted", tt.name, werr)
					}
				}
			} else if err != nil || !bytes.Equal(buf[:n], want[:100]) {
				t.Errorf("%s: read: err %v, equal %v", tt.name, err, bytes.Equal(buf[:n], want[:100]))
			}
			ev.c.Release(e)
			if !tt.wantErr {
				return
			}
			if ev.c.Lookup("obj") != nil {
				t.Errorf("%s: failed entry still in the index", tt.name)
			}
			// The next open downloads again (and now succeeds).
			ev.client.setCorrupt(0)
			e, err = ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(context.Background(), e)
			ev.c.Release(e)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: reopen: err %v, equal %v", tt.name, err, bytes.Equal(got, want))
			}
		})
	}
}

// In the stream case no byte of a corrupted download is ever returned:
// a reader waiting on the download gets the error.
func TestCorruptedBytesNeverServed(t *testing.T) {
	ev := newEnv(t, smallChunks)
	want := randBytes(100_000)
	info := ev.remote("obj", want)
	ev.client.setCorrupt(-1)
	gate := ev.client.setGate(90_000)
	e, err := ev.c.Open("obj", info, false)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		n, err := e.ReadAt(context.Background(), make([]byte, 10), 0)
		res <- result{n, err}
	}()
	select {
	case r := <-res:
		t.Fatalf("read returned before the download was verified: %d, %v", r.n, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	r := <-res
	if r.n != 0 || !errors.Is(r.err, swiftclient.ErrCorrupted) {
		t.Errorf("read: got %d, %v, want 0, ErrCorrupted", r.n, r.err)
	}
	ev.c.Release(e)
}

// A download that does not fit the budget is refused at Open.
func TestDownloadAdmission(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.MaxBytes = 100_000 })
	info := ev.remote("big", randBytes(150_000))
	if _, err := ev.c.Open("big", info, false); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Open of an object over budget: got %v, want ErrNoSpace", err)
	}
	if used := ev.c.usedBytes(); used != 0 {
		t.Errorf("used after a refused download: got %d, want 0", used)
	}
	if ev.c.Lookup("big") != nil {
		t.Error("refused download left an entry")
	}
}
