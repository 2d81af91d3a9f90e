package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// A write makes the entry dirty (durably); the upload happens after the
// last close plus the write-back delay, once.
func TestWriteBackAfterDelay(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = 150 * time.Millisecond })
	e, err := ev.c.Open("f", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if !e.Dirty() {
		t.Fatal("not dirty after a write")
	}
	if recs := ev.records(); !slices.Contains(recs, fmt.Sprint(e.id)+".json") {
		t.Errorf("no durable record after the first write: %v", recs)
	}
	time.Sleep(200 * time.Millisecond) // longer than the delay, but still open
	if ev.fake.Count("put") != 0 {
		t.Fatal("uploaded while open")
	}
	closed := time.Now()
	ev.c.Release(e)
	if s := ev.c.Stats(); len(s.Dirty) != 1 || s.Dirty[0].State != "queued" {
		t.Errorf("stats after close: %+v, want one queued", s.Dirty)
	}
	waitFor(t, "upload", func() bool { _, ok := ev.data("f"); return ok })
	if d := time.Since(closed); d < 150*time.Millisecond {
		t.Errorf("uploaded %v after close, before the delay", d)
	}
	waitFor(t, "clean", func() bool { return !e.Dirty() })
	if got, _ := ev.data("f"); got != "hello" {
		t.Errorf("object: got %q, want %q", got, "hello")
	}
	if n := ev.fake.Count("put"); n != 1 {
		t.Errorf("PUTs: got %d, want 1", n)
	}
	if s := ev.c.Stats(); len(s.Dirty) != 0 {
		t.Errorf("stats after upload: %+v", s.Dirty)
	}
}

// With SyncWriteBack the last Release uploads and returns the result.
func TestReleaseSyncWriteBack(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.SyncWriteBack = true; o.WriteBackDelay = time.Hour })
	e, _ := ev.c.Open("f", nil, true)
	e.WriteAt([]byte("now"), 0)
	e2, _ := ev.c.Open("f", nil, true) // a second descriptor
	if err := ev.c.Release(e); err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.data("f"); ok {
		t.Error("uploaded at the first of two closes")
	}
	if err := ev.c.Release(e2); err != nil {
		t.Fatalf("last Release: %v", err)
	}
	if got, _ := ev.data("f"); got != "now" {
		t.Errorf("after the last Release: got %q, want %q", got, "now")
	}
	if e.Dirty() {
		t.Error("still dirty")
	}
	// A failure is returned, and the file stays dirty.
	ev.faults.add("put", "f", swiftErr("put", 403), -1)
	e, _ = ev.c.Open("f", nil, true)
	e.WriteAt([]byte("NOW"), 0)
	if err := ev.c.Release(e); !errors.Is(err, swiftclient.ErrForbidden) {
		t.Errorf("Release with a failing upload: got %v, want ErrForbidden", err)
	}
	if !e.Dirty() {
		t.Error("clean after a failed upload")
	}
}

// A rename within the delay moves the pending upload: one PUT, under the
// new name.
// RenameEntry tells whether the old name may exist in Swift (the caller
// then deletes it): not for a file created here and never uploaded.
func TestRenameEntryMayExist(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	ev.create("tmp.1", []byte("content"))
	if _, dirty, mayExist, err := ev.c.RenameEntry("tmp.1", "a"); err != nil || !dirty || mayExist {
		t.Errorf("never uploaded: dirty %v mayExist %v err %v, want true false nil", dirty, mayExist, err)
	}
	e := ev.c.Lookup("a")
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, mayExist, err := ev.c.RenameEntry("a", "b"); err != nil || !mayExist {
		t.Errorf("uploaded: mayExist %v err %v, want true nil", mayExist, err)
	}
	info := ev.remote("r", []byte("remote"))
	re, err := ev.c.Open("r", info, false)
	if err != nil {
		t.Fatal(err)
	}
	ev.c.Release(re)
	if _, _, mayExist, err := ev.c.RenameEntry("r", "s"); err != nil || !mayExist {
		t.Errorf("downloaded: mayExist %v err %v, want true nil", mayExist, err)
	}
}

func TestRenameDirtyUploadsOnce(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = 100 * time.Millisecond })
	ev.create("tmp.123", []byte("content"))
	moved, dirty, err := ev.c.Rename("tmp.123", "final")
	if err != nil || !moved || !dirty {
		t.Fatalf("Rename: moved %v dirty %v err %v, want true true nil", moved, dirty, err)
	}
	if ev.c.Lookup("tmp.123") != nil || ev.c.Lookup("final") == nil {
		t.Fatal("index not updated")
	}
	waitFor(t, "upload", func() bool { _, ok := ev.data("final"); return ok })
	time.Sleep(150 * time.Millisecond)
	if got := ev.fake.Names(); !slices.Equal(got, []string{"final"}) {
		t.Errorf("objects: got %q, want [final]", got)
	}
	if n := ev.fake.Count("put"); n != 1 {
		t.Errorf("PUTs: got %d, want 1", n)
	}
	// The record follows the rename: a restart finds "final".
	ev.restart()
	if e := ev.c.Lookup("final"); e == nil || e.Dirty() {
		t.Errorf("after restart: entry %v", e)
	}
}

// A rename while the upload runs stops it; the content is uploaded under
// the new name.
func TestRenameDuringUpload(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Millisecond })
	block := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	ev.client.setPutHook(func(ctx context.Context, name string) error {
		if name == "a" {
			once.Do(func() { close(started) })
			select {
			case <-block:
			case <-ctx.Done():
				return &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "put", Name: name, Err: ctx.Err()}
			}
		}
		return nil
	})
	ev.create("a", []byte("data"))
	<-started
	done := make(chan error, 1)
	go func() { _, _, err := ev.c.Rename("a", "b"); done <- err }()
	time.Sleep(20 * time.Millisecond)
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "upload of b", func() bool { _, ok := ev.data("b"); return ok })
	if _, ok := ev.data("a"); ok {
		t.Error("a uploaded too")
	}
}

// Remove cancels the pending upload and forgets the record at once.
func TestRemoveCancelsUpload(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = 50 * time.Millisecond })
	ev.create("gone", []byte("x"))
	e := ev.c.Lookup("gone")
	ev.c.Remove("gone")
	if recs := ev.records(); slices.Contains(recs, fmt.Sprint(e.id)+".json") {
		t.Errorf("record still there after Remove: %v", recs)
	}
	time.Sleep(150 * time.Millisecond)
	if n := ev.fake.Count("put"); n != 0 {
		t.Errorf("PUTs after Remove: got %d, want 0", n)
	}
	waitFor(t, "files deleted", func() bool { return ev.dataBytes() == 0 })
	// A crash now does not bring it back.
	ev.restart()
	time.Sleep(50 * time.Millisecond)
	if ev.c.Lookup("gone") != nil || ev.fake.Count("put") != 0 {
		t.Error("removed file came back after a restart")
	}
}

// An unlinked file still open keeps working locally and is never uploaded.
func TestRemoveWhileOpen(t *testing.T) {
	ev := newEnv(t, nil)
	e, _ := ev.c.Open("f", nil, true)
	e.WriteAt([]byte("abc"), 0)
	ev.c.Remove("f")
	if _, err := e.WriteAt([]byte("def"), 3); err != nil {
		t.Fatalf("write after unlink: %v", err)
	}
	got, _ := readAll(context.Background(), e)
	if string(got) != "abcdef" {
		t.Errorf("read after unlink: got %q, want %q", got, "abcdef")
	}
	if err := e.Sync(context.Background()); err != nil {
		t.Errorf("fsync after unlink: %v", err)
	}
	ev.c.Release(e)
	time.Sleep(60 * time.Millisecond)
	if n := ev.fake.Count("put"); n != 0 {
		t.Errorf("PUTs: got %d, want 0", n)
	}
	waitFor(t, "files deleted", func() bool { return ev.dataBytes() == 0 && len(ev.records()) == 0 })
}

// fsync is a barrier: when Sync returns nil the content is in Swift; it
// returns the upload's error otherwise.
func TestSyncBarrier(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	e, _ := ev.c.Open("db", nil, true)
	e.WriteAt([]byte("v1"), 0)
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ev.data("db"); got != "v1" {
		t.Errorf("after fsync: got %q, want %q", got, "v1")
	}
	e.WriteAt([]byte("v2"), 0)
	ev.faults.add("put", "db", swiftErr("put", 503), -1)
	err := e.Sync(context.Background())
	if !errors.Is(err, swiftclient.ErrUnavailable) {
		t.Errorf("fsync during an outage: got %v, want ErrUnavailable", err)
	}
	if !e.Dirty() || e.LastError() == nil {
		t.Errorf("after a failed fsync: dirty %v, last error %v", e.Dirty(), e.LastError())
	}
	ev.faults.clear()
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ev.data("db"); got != "v2" {
		t.Errorf("after fsync: got %q, want %q", got, "v2")
	}
	// An interrupted fsync (context cancelled) leaves the file dirty and
	// queued, not forgotten.
	e.WriteAt([]byte("v3"), 0)
	ev.c.Release(e)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Sync(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fsync: got %v", err)
	}
	if err := ev.c.SyncAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ev.data("db"); got != "v3" {
		t.Errorf("after SyncAll: got %q, want %q", got, "v3")
	}
}

// Writes during an upload keep the entry dirty for another upload, or
// (when Swift refused the body that changed while it was sent) make the
// upload start again; fsync then still returns success.
func TestWriteDuringUpload(t *testing.T) {
	for _, when := range []string{"before the body is sent", "after the body was sent"} {
		t.Run(when, func(t *testing.T) {
			ev := newEnv(t, nil)
			started, block := make(chan struct{}), make(chan struct{})
			var once sync.Once
			hold := func() { once.Do(func() { close(started); <-block }) }
			if when == "before the body is sent" {
				ev.client.setPutHook(func(context.Context, string) error { hold(); return nil })
			} else {
				ev.client.mu.Lock()
				ev.client.afterPut = func(string) { hold() }
				ev.client.mu.Unlock()
			}
			e, _ := ev.c.Open("f", nil, true)
			e.WriteAt([]byte("one"), 0)
			errc := make(chan error, 1)
			go func() { errc <- e.Sync(context.Background()) }()
			<-started
			e.WriteAt([]byte("two"), 0)
			close(block)
			if err := <-errc; err != nil {
				t.Fatalf("fsync: %v", err)
			}
			got, _ := ev.data("f")
			if got != "two" && !e.Dirty() {
				t.Fatalf("after fsync: Swift has %q and the entry is clean", got)
			}
			ev.c.Release(e)
			waitFor(t, "the last version uploaded", func() bool { got, _ := ev.data("f"); return got == "two" })
			waitFor(t, "clean", func() bool { return !e.Dirty() })
		})
	}
}

// pausingBody pauses once, after its first read, until resume is closed.
type pausingBody struct {
	r      io.ReadSeeker
	once   sync.Once
	paused chan struct{}
	resume chan struct{}
}

func (b *pausingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.once.Do(func() { close(b.paused); <-b.resume })
	return n, err
}

func (b *pausingBody) Seek(off int64, whence int) (int64, error) { return b.r.Seek(off, whence) }

// A write while the upload streams the file (read once, no MD5 pass
// before) cuts the upload short: Swift never stores a mix of the bytes
// before and after the write, and the new content is uploaded next.
func TestWriteWhileBodyStreams(t *testing.T) {
	ev := newEnv(t, nil)
	const size = 1 << 20
	one, two := bytes.Repeat([]byte("1"), size), bytes.Repeat([]byte("2"), size)
	pb := &pausingBody{paused: make(chan struct{}), resume: make(chan struct{})}
	var stored []string
	ev.client.mu.Lock()
	ev.client.wrapBody = func(r io.ReadSeeker) io.ReadSeeker {
		if pb.r == nil {
			pb.r = r
			return pb
		}
		return r
	}
	ev.client.afterPut = func(name string) {
		got, _ := ev.data(name)
		stored = append(stored, got)
	}
	ev.client.mu.Unlock()
	e, _ := ev.c.Open("f", nil, true)
	if _, err := e.WriteAt(one, 0); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- e.Sync(context.Background()) }()
	<-pb.paused // part of "one" is sent
	if _, err := e.WriteAt(two, 0); err != nil {
		t.Fatal(err)
	}
	close(pb.resume)
	if err := <-errc; err != nil {
		t.Fatalf("fsync: %v", err)
	}
	ev.c.Release(e)
	waitFor(t, "the last version uploaded", func() bool { got, _ := ev.data("f"); return got == string(two) })
	waitFor(t, "clean", func() bool { return !e.Dirty() })
	ev.client.mu.Lock()
	defer ev.client.mu.Unlock()
	for i, got := range stored {
		if got != string(one) && got != string(two) {
			t.Errorf("upload %d stored a mix of two versions (%d bytes, %d of them '1')", i, len(got), strings.Count(got, "1"))
		}
	}
	if len(stored) == 0 {
		t.Error("nothing was uploaded")
	}
}

// Failed uploads are retried with backoff until they succeed.
func TestUploadRetryBackoff(t *testing.T) {
	ev := newEnv(t, nil)
	ev.faults.add("put", "f", swiftErr("put", 503), 4)
	ev.create("f", []byte("data"))
	waitFor(t, "failed state", func() bool {
		s := ev.c.Stats()
		return len(s.Dirty) == 1 && s.Dirty[0].State == "failed" && s.Dirty[0].Error != "" && s.Failed == 1
	})
	waitFor(t, "upload", func() bool { _, ok := ev.data("f"); return ok })
	e := ev.c.Lookup("f")
	waitFor(t, "clean", func() bool { return !e.Dirty() })
	if n := ev.faults.count("put"); n != 5 {
		t.Errorf("PUT attempts: got %d, want 5", n)
	}
	if e.LastError() != nil {
		t.Errorf("last error after success: %v", e.LastError())
	}
}

// The backoff doubles up to its maximum.
func TestBackoff(t *testing.T) {
	ev := newEnv(t, func(o *Options) {
		o.RetryBackoff, o.RetryBackoffMax, o.PermanentRetry = time.Second, time.Minute, 5*time.Minute
	})
	tests := []struct {
		attempts int
		perm     bool
		want     time.Duration
	}{
		{1, false, time.Second}, {2, false, 2 * time.Second}, {4, false, 8 * time.Second},
		{7, false, time.Minute}, {100, false, time.Minute}, {1, true, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := ev.c.wb.backoff(tt.attempts, tt.perm); got != tt.want {
			t.Errorf("backoff(%d, %v): got %v, want %v", tt.attempts, tt.perm, got, tt.want)
		}
	}
}

// A permanent failure (403, quota 413) keeps the file dirty, shows in
// Stats as failed with the error, and never deletes local data.
func TestPermanentFailure(t *testing.T) {
	for _, status := range []int{403, 413} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			ev := newEnv(t, nil)
			ev.faults.add("put", "f", swiftErr("put", status), -1)
			ev.create("f", []byte("precious"))
			waitFor(t, "failure", func() bool { s := ev.c.Stats(); return s.Failed == 1 })
			s := ev.c.Stats()
			fs := s.Dirty[0]
			if fs.State != "failed" || !fs.Permanent || !strings.Contains(fs.Error, fmt.Sprint(status)) || fs.NextRetry.IsZero() {
				t.Errorf("stats: %+v", fs)
			}
			time.Sleep(100 * time.Millisecond)
			if n := ev.faults.count("put"); n != 1 {
				t.Errorf("PUTs: got %d, want 1 (no quick retries of a permanent failure)", n)
			}
			e := ev.c.Lookup("f")
			if !e.Dirty() || e.LastError() == nil {
				t.Errorf("dirty %v, last error %v", e.Dirty(), e.LastError())
			}
			// Local data survives, also a restart.
			ev.restart()
			e = ev.c.Lookup("f")
			if e == nil || !e.Dirty() {
				t.Fatal("dirty file lost after restart")
			}
			got, _ := readAll(context.Background(), e)
			if string(got) != "precious" {
				t.Errorf("local copy: got %q", got)
			}
			ev.faults.clear()
			if err := ev.c.SyncAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, _ := ev.data("f"); got != "precious" {
				t.Errorf("after fixing: got %q", got)
			}
		})
	}
}

// A PUT answered 404 (the container not visible, as for a while after a
// Swift restart) is retried soon, not after PermanentRetry.
func TestNotFoundRetriedSoon(t *testing.T) {
	ev := newEnv(t, nil) // retries after 10 ms, doubling up to 100 ms; permanent: an hour
	ev.faults.add("put", "f", swiftErr("put", 404), 2)
	ev.create("f", []byte("precious"))
	waitFor(t, "upload after two 404s", func() bool { got, ok := ev.data("f"); return ok && got == "precious" })
	if n := ev.faults.count("put"); n < 3 {
		t.Errorf("PUTs: got %d, want 3 or more", n)
	}
}

// Swift down for a while during writes: nothing is lost, and uploads
// resume after it returns, without a sync.
func TestSwiftOutage(t *testing.T) {
	ev := newEnv(t, nil)
	ev.faults.add("", "", swiftErr("any", 503), -1)
	want := map[string][]byte{}
	for i := range 20 {
		name := fmt.Sprintf("dir/file-%02d", i)
		want[name] = randBytes(1000 + i*1000)
		ev.create(name, want[name])
		time.Sleep(15 * time.Millisecond)
	}
	// Rewrite some while down.
	for i := 0; i < 20; i += 3 {
		name := fmt.Sprintf("dir/file-%02d", i)
		e, err := ev.c.Open(name, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		e.WriteAt([]byte("rewritten"), 10)
		copy(want[name][10:], "rewritten")
		ev.c.Release(e)
	}
	time.Sleep(300 * time.Millisecond)
	if s := ev.c.Stats(); len(s.Dirty) != 20 || s.Failed == 0 {
		t.Errorf("during the outage: %d dirty, %d failed", len(s.Dirty), s.Failed)
	}
	if len(ev.names("")) != 0 {
		t.Fatal("objects appeared during the outage")
	}
	ev.faults.clear()
	waitFor(t, "every file uploaded", func() bool { return len(ev.c.Stats().Dirty) == 0 })
	for name, data := range want {
		got, ok := ev.fake.Data(name)
		if !ok || !bytes.Equal(got, data) {
			t.Errorf("%s: present %v, equal %v", name, ok, bytes.Equal(got, data))
		}
	}
}

// Close refuses writes, drains with a bounded wait and leaves what could
// not be uploaded for the next run.
func TestCloseDrains(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	ev.create("a", []byte("A"))
	ev.create("b", []byte("B"))
	open, _ := ev.c.Open("c", nil, true)
	open.WriteAt([]byte("C"), 0)
	ev.faults.add("put", "b", swiftErr("put", 503), -1)
	start := time.Now()
	err := ev.c.Close(500 * time.Millisecond)
	if err == nil {
		t.Error("Close reported success with b not uploaded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if got, _ := ev.data("a"); got != "A" {
		t.Errorf("a: got %q", got)
	}
	if got, _ := ev.data("c"); got != "C" {
		t.Errorf("c (still open): got %q", got)
	}
	if _, err := open.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write after Close: got %v, want EROFS", err)
	}
	if _, err := ev.c.Open("d", nil, true); !errors.Is(err, syscall.EROFS) {
		t.Errorf("create after Close: got %v, want EROFS", err)
	}
	ev.faults.clear()
	ev.c = ev.open()
	waitFor(t, "b uploaded by the next run", func() bool { got, _ := ev.data("b"); return got == "B" })
}

// Close waits at most its timeout, even when an upload hangs.
func TestCloseBounded(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Millisecond })
	ev.client.setPutHook(func(ctx context.Context, name string) error {
		<-ctx.Done() // hangs until cancelled, as a real request to a dead proxy
		return &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "put", Name: name, Err: ctx.Err()}
	})
	ev.create("slow", []byte("x"))
	time.Sleep(20 * time.Millisecond) // the upload is stuck in the fake
	start := time.Now()
	ev.c.Close(200 * time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a hanging upload", d)
	}
}

// An upload that reaches Swift while Remove stops it: Remove deletes the
// object it left, before it returns (a rename may put another there next).
func TestRemoveDuringCommittedUpload(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Millisecond })
	stored, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ev.client.mu.Lock()
	ev.client.afterPut = func(string) { once.Do(func() { close(stored); <-release }) }
	ev.client.mu.Unlock()
	ev.create("f", []byte("unlinked"))
	<-stored
	done := make(chan struct{})
	go func() { ev.c.Remove("f"); close(done) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	<-done
	if _, ok := ev.data("f"); ok {
		t.Error("object of a removed file left in Swift")
	}
}
