package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// kill -9 with dirty files: the next start uploads them, nothing written
// before the crash is lost; clean complete copies are reused without a
// download when their fingerprint matches.
func TestCrashRecovery(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	// A clean copy.
	want := randBytes(200_000)
	info := ev.remote("clean", want)
	e, _ := ev.c.Open("clean", info, false)
	readAll(context.Background(), e)
	ev.c.Release(e)
	// A dirty file, closed.
	ev.create("closed", []byte("closed before the crash"))
	// A dirty file still open, written in several places.
	open, _ := ev.c.Open("open", nil, true)
	open.WriteAt([]byte("hello "), 0)
	open.WriteAt([]byte("world"), 6)
	// A file being renamed and one removed.
	ev.create("tmp", []byte("renamed"))
	ev.c.Rename("tmp", "final")
	ev.create("gone", []byte("x"))
	ev.c.Remove("gone")
	gets := ev.fake.Count("get")

	ev.restart()

	waitFor(t, "uploads after restart", func() bool { return len(ev.c.Stats().Dirty) == 0 })
	for name, want := range map[string]string{"closed": "closed before the crash", "open": "hello world", "final": "renamed"} {
		if got, _ := ev.data(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"gone", "tmp"} {
		if _, ok := ev.data(name); ok {
			t.Errorf("%s uploaded", name)
		}
	}
	e, err := ev.c.Open("clean", info, false)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(context.Background(), e)
	ev.c.Release(e)
	if !bytes.Equal(got, want) || ev.fake.Count("get") != gets {
		t.Errorf("clean copy after restart: equal %v, GETs %d, want true, %d", bytes.Equal(got, want), ev.fake.Count("get"), gets)
	}
	// Changed in Swift meanwhile: fetched again.
	info2 := ev.remote("clean", []byte("new"))
	e, _ = ev.c.Open("clean", info2, false)
	got, _ = readAll(context.Background(), e)
	ev.c.Release(e)
	if string(got) != "new" {
		t.Errorf("after a remote change: got %q", got)
	}
}

// A dirty entry recovered is served (it is the newest) before and while
// it is uploaded.
func TestRecoveredDirtyServed(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	ev.remote("f", []byte("old"))
	ev.create("f", []byte("new!"))
	ev.faults.add("put", "f", swiftErr("put", 503), -1)
	ev.restart()
	info, _ := ev.fake.Stat(context.Background(), "f")
	e, err := ev.c.Open("f", &info, false)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(context.Background(), e)
	ev.c.Release(e)
	if string(got) != "new!" {
		t.Errorf("got %q, want %q", got, "new!")
	}
	ev.faults.clear()
	if err := ev.c.SyncAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ev.data("f"); got != "new!" {
		t.Errorf("uploaded %q", got)
	}
}

// Start-up removes what a crash left half-done.
func TestRecoveryCleansUp(t *testing.T) {
	ev := newEnv(t, nil)
	big := ev.remote("partial", randBytes(1<<20))
	gate := ev.client.setGate(100_000)
	e, _ := ev.c.Open("partial", big, false)
	_ = e
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(filepath.Join(ev.dir, "data", "999"), []byte("stray"), 0o600)
	os.WriteFile(filepath.Join(ev.dir, "meta", ".tmp-123"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(ev.dir, "meta", "77.json"), []byte("garbage"), 0o600)
	ev.c.crash()
	close(gate)
	ev.c = ev.open()
	if ev.c.Lookup("partial") != nil {
		t.Error("partial download recovered")
	}
	if recs := ev.records(); len(recs) != 0 {
		t.Errorf("meta/ after recovery: %v", recs)
	}
	if n := ev.dataBytes(); n != 0 {
		t.Errorf("data/ holds %d bytes", n)
	}
}

// Only one daemon per cache directory.
func TestDirectoryLock(t *testing.T) {
	ev := newEnv(t, nil)
	if _, err := New(ev.opts, ev.client); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second New on the same directory: got %v", err)
	}
}

// SLO upload above SegmentSize: segments, then the manifest; a re-upload
// replaces them and deletes the old ones; a shrink below the segment size
// uploads a plain object and deletes the segments too.
func TestSLOUpload(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.SegmentSize = 64 << 10; o.WriteBackDelay = time.Hour })
	e, _ := ev.c.Open("big", nil, true)
	v1 := randBytes(200_000)
	e.WriteAt(v1, 0)
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs1 := ev.names(".swiftfs-segments/")
	if len(segs1) != 4 {
		t.Fatalf("segments: got %d (%q), want 4", len(segs1), segs1)
	}
	info, _ := ev.fake.Stat(context.Background(), "big")
	if got, _ := ev.fake.Data("big"); !bytes.Equal(got, v1) || !info.SLO || info.Size != int64(len(v1)) {
		t.Errorf("v1: equal %v, SLO %v, size %d", bytes.Equal(got, v1), info.SLO, info.Size)
	}
	v2 := randBytes(150_000)
	e.Truncate(0)
	e.WriteAt(v2, 0)
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "old segments deleted", func() bool { return len(ev.names(".swiftfs-segments/")) == 3 })
	for _, s := range segs1 {
		if slices.Contains(ev.names(""), s) {
			t.Errorf("old segment %s left", s)
		}
	}
	if got, _ := ev.fake.Data("big"); !bytes.Equal(got, v2) {
		t.Error("v2 content differs")
	}
	e.Truncate(1000)
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "segments deleted after a shrink", func() bool { return len(ev.names(".swiftfs-segments/")) == 0 })
	if got, _ := ev.fake.Data("big"); !bytes.Equal(got, v2[:1000]) {
		t.Error("v3 content differs")
	}
	ev.c.Release(e)
	waitFor(t, "garbage lists done", func() bool {
		for _, r := range ev.records() {
			if isGCFile(r) {
				return false
			}
		}
		return true
	})
}

// Overwriting a large object downloaded here (segments unknown to the
// cache) deletes its old segments after the new content is in place.
func TestSLOOverwriteDeletesOldSegments(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.SegmentSize = 64 << 10; o.WriteBackDelay = time.Hour })
	ctx := context.Background()
	var segs []swiftclient.Segment
	var whole []byte
	for i, n := range []string{"other_segments/a", "other_segments/b"} {
		d := randBytes(70_000 + i)
		whole = append(whole, d...)
		ev.fake.PutRaw(n, d, "", nil)
		segs = append(segs, swiftclient.Segment{Name: n, Size: int64(len(d)), ETag: md5hex(d)})
	}
	if _, err := ev.fake.Put(ctx, "big", nil, 0, swiftclient.PutOptions{Segments: segs}); err != nil {
		t.Fatal(err)
	}
	info, _ := ev.fake.Stat(ctx, "big")
	e, err := ev.c.Open("big", &info, false)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(ctx, e)
	if !bytes.Equal(got, whole) {
		t.Fatal("download of the SLO differs")
	}
	e.WriteAt([]byte("changed"), 5)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ev.c.Release(e)
	copy(whole[5:], "changed")
	if got, _ := ev.fake.Data("big"); !bytes.Equal(got, whole) {
		t.Error("new content differs")
	}
	waitFor(t, "old segments deleted", func() bool { return len(ev.names("other_segments/")) == 0 })
	waitFor(t, "manifest copy deleted", func() bool {
		for _, n := range ev.names(".swiftfs-segments/") {
			if strings.HasSuffix(n, ".replaced") {
				return false
			}
		}
		return true
	})
	if n := len(ev.names(".swiftfs-segments/")); n != 3 {
		t.Errorf("segments of the new SLO: %d, want 3", n)
	}
}

// Segments of an upload whose manifest did not make it are journalled:
// when a segment failed they are deleted at once; when the manifest PUT
// failed and the daemon died, the next run deletes them after its upload.
func TestSLOJournalCleanup(t *testing.T) {
	t.Run("segment failed", func(t *testing.T) {
		ev := newEnv(t, func(o *Options) { o.SegmentSize = 64 << 10; o.WriteBackDelay = time.Hour })
		ev.faults.add("put", ".swiftfs-segments/", swiftErr("put", 413), 1)
		e, _ := ev.c.Open("big", nil, true)
		e.WriteAt(randBytes(300_000), 0)
		if err := e.Sync(context.Background()); !errors.Is(err, swiftclient.ErrTooLarge) {
			t.Fatalf("Sync: got %v, want ErrTooLarge", err)
		}
		if n := len(ev.names(".swiftfs-segments/")); n != 0 {
			t.Errorf("segments left after a failed segment upload: %d", n)
		}
		ev.c.Release(e)
	})
	t.Run("manifest failed, crash", func(t *testing.T) {
		ev := newEnv(t, func(o *Options) { o.SegmentSize = 64 << 10; o.WriteBackDelay = time.Hour })
		ev.faults.add("put", "big", swiftErr("put", 503), -1)
		e, _ := ev.c.Open("big", nil, true)
		data := randBytes(300_000)
		e.WriteAt(data, 0)
		if err := e.Sync(context.Background()); err == nil {
			t.Fatal("Sync succeeded with the manifest failing")
		}
		orphans := ev.names(".swiftfs-segments/")
		if len(orphans) != 5 {
			t.Fatalf("segments written: %d, want 5", len(orphans))
		}
		ev.restart()
		ev.faults.clear()
		if err := ev.c.SyncAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "orphans deleted", func() bool {
			for _, o := range orphans {
				if slices.Contains(ev.names(""), o) {
					return false
				}
			}
			return true
		})
		if got, _ := ev.fake.Data("big"); !bytes.Equal(got, data) {
			t.Error("content differs")
		}
		if n := len(ev.names(".swiftfs-segments/")); n != 5 {
			t.Errorf("segments: %d, want 5", n)
		}
	})
	t.Run("crash before the gc", func(t *testing.T) {
		ev := newEnv(t, func(o *Options) { o.SegmentSize = 64 << 10; o.WriteBackDelay = time.Hour })
		e, _ := ev.c.Open("big", nil, true)
		e.WriteAt(randBytes(200_000), 0)
		e.Sync(context.Background())
		old := ev.names(".swiftfs-segments/")
		ev.faults.add("delete", "", swiftErr("delete", 503), -1)
		e.WriteAt([]byte("x"), 0)
		if err := e.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		ev.restart()
		ev.faults.clear()
		waitFor(t, "garbage deleted by the next run", func() bool {
			for _, o := range old {
				if slices.Contains(ev.names(""), o) {
					return false
				}
			}
			return true
		})
	})
}

// Conflict copies: when the object changed in Swift since it was read,
// our content goes to a conflict copy and the other version is untouched.
func TestConflictCopy(t *testing.T) {
	ev := newEnv(t, func(o *Options) {
		o.CheckConflict = func(string) bool { return true }
		o.WriteBackDelay = time.Hour
	})
	info := ev.remote("shared", []byte("base"))
	e, _ := ev.c.Open("shared", info, false)
	readAll(context.Background(), e)
	e.WriteAt([]byte("ours"), 0)
	ev.remote("shared", []byte("theirs")) // another client
	err := e.Sync(context.Background())
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
		t.Fatalf("Sync: got %v, want a ConflictError", err)
	}
	if got, _ := ev.data("shared"); got != "theirs" {
		t.Errorf("their version: got %q", got)
	}
	if got, _ := ev.data(ce.Copy); got != "ours" || !strings.HasPrefix(ce.Copy, "shared.conflict-") {
		t.Errorf("conflict copy %q: got %q", ce.Copy, got)
	}
	ev.c.Release(e)
	// The next open reads their version.
	theirs, _ := ev.fake.Stat(context.Background(), "shared")
	e, _ = ev.c.Open("shared", &theirs, false)
	got, _ := readAll(context.Background(), e)
	ev.c.Release(e)
	if string(got) != "theirs" {
		t.Errorf("open after the conflict: got %q, want %q", got, "theirs")
	}
	// A conflict after the last close forgets the entry at once.
	info = ev.remote("closed", []byte("base"))
	e, _ = ev.c.Open("closed", info, false)
	readAll(context.Background(), e)
	e.WriteAt([]byte("ours"), 0)
	ev.c.Release(e)
	ev.remote("closed", []byte("theirs"))
	if err := ev.c.SyncAll(context.Background()); !errors.Is(err, ErrConflict) {
		t.Errorf("SyncAll: got %v, want ErrConflict", err)
	}
	if ev.c.Lookup("closed") != nil {
		t.Error("closed entry kept after the conflict")
	}
	if got, _ := ev.data("closed"); got != "theirs" {
		t.Errorf("their version: got %q", got)
	}
	// Unchanged remote: a normal upload.
	info = ev.remote("mine", []byte("base"))
	e, _ = ev.c.Open("mine", info, false)
	readAll(context.Background(), e)
	e.WriteAt([]byte("BASE"), 0)
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev.c.Release(e)
	if got, _ := ev.data("mine"); got != "BASE" {
		t.Errorf("mine: got %q", got)
	}
}

// An SLO upload that lost a segment resumes: the next attempt uploads the
// missing segments and the manifest only. When the content changed in
// between, it starts again, and the first attempt's segments are deleted.
func TestSLOResume(t *testing.T) {
	for _, changed := range []bool{false, true} {
		t.Run(fmt.Sprintf("changed=%v", changed), func(t *testing.T) {
			ev := newEnv(t, func(o *Options) { o.SegmentSize = 64 << 10; o.Uploaders = 1; o.WriteBackDelay = time.Hour })
			var mu sync.Mutex
			puts := map[string]int{}
			ev.client.mu.Lock()
			ev.client.afterPut = func(name string) { mu.Lock(); puts[name]++; mu.Unlock() }
			ev.client.mu.Unlock()
			e, _ := ev.c.Open("big", nil, true)
			data := randBytes(300_000)
			e.WriteAt(data, 0)
			// Fail the fourth segment once.
			n := 0
			ev.client.setPutHook(func(ctx context.Context, name string) error {
				if strings.HasSuffix(name, "/00000003") {
					n++
					if n == 1 {
						return swiftErr("put", 503)
					}
				}
				return nil
			})
			if err := e.Sync(context.Background()); !errors.Is(err, swiftclient.ErrUnavailable) {
				t.Fatalf("first attempt: got %v, want ErrUnavailable", err)
			}
			first := ev.names(".swiftfs-segments/")
			if len(first) != 3 {
				t.Fatalf("segments after the failed attempt: %q, want 3", first)
			}
			if changed {
				e.WriteAt([]byte("changed"), 100)
				copy(data[100:], "changed")
			}
			if err := e.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			ev.c.Release(e)
			if got, _ := ev.fake.Data("big"); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range first {
				want := 1
				if got := puts[s]; got != want {
					t.Errorf("segment %s uploaded %d times, want %d", s, got, want)
				}
			}
			waitFor(t, "no orphans", func() bool { return len(ev.names(".swiftfs-segments/")) == 5 })
			if changed == slices.Contains(ev.names(".swiftfs-segments/"), first[0]) {
				t.Errorf("changed %v: first attempt's segment %s still there: %v", changed, first[0], !changed)
			}
		})
	}
}
