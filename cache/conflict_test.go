package cache

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// Every upload of a checked name guards against another writer: a new
// name is created with If-None-Match: * (no HEAD), an overwrite compares
// the version first. Table: what another client does before our upload,
// and what must be in Swift afterwards.
func TestConflictEveryFile(t *testing.T) {
	const ours, theirs = "ours", "theirs"
	cases := []struct {
		name     string
		base     string // "" : the name is new here, else the content it was read as
		other    func(ev *env, name string)
		conflict bool
		stats    int // HEAD requests the upload may make
	}{
		{name: "new name, nobody else", stats: 0},
		{name: "new name created by another client", other: func(ev *env, n string) { ev.remote(n, []byte(theirs)) }, conflict: true, stats: 1},
		{name: "overwrite, unchanged", base: "base", stats: 1},
		{name: "overwrite, changed by another client", base: "base", other: func(ev *env, n string) { ev.remote(n, []byte(theirs)) }, conflict: true, stats: 1},
		{name: "overwrite, deleted by another client", base: "base", other: func(ev *env, n string) { ev.fake.Delete(context.Background(), n, swiftclient.DeleteOptions{}) }, conflict: true, stats: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t, func(o *Options) {
				o.CheckConflict = func(string) bool { return true }
				o.WriteBackDelay = time.Hour
			})
			var remote *swiftclient.ObjectInfo
			if tc.base != "" {
				remote = ev.remote("f", []byte(tc.base))
			}
			e, err := ev.c.Open("f", remote, true)
			if err != nil {
				t.Fatal(err)
			}
			e.Truncate(0)
			e.WriteAt([]byte(ours), 0)
			if tc.other != nil {
				tc.other(ev, "f")
			}
			ev.fake.ResetCounts()
			err = e.Sync(context.Background())
			ev.c.Release(e)
			if got := ev.fake.Count("stat"); got > tc.stats {
				t.Errorf("%d HEADs, want at most %d", got, tc.stats)
			}
			if !tc.conflict {
				if err != nil {
					t.Fatalf("Sync: %v", err)
				}
				if got, _ := ev.data("f"); got != ours {
					t.Errorf("Swift holds %q, want %q", got, ours)
				}
				if n := len(ev.names("f.conflict-")); n != 0 {
					t.Errorf("%d conflict copies, want none", n)
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
				t.Fatalf("Sync: got %v, want a ConflictError", err)
			}
			if got, _ := ev.data(ce.Copy); got != ours || !strings.HasPrefix(ce.Copy, "f.conflict-") {
				t.Errorf("conflict copy %q holds %q, want %q", ce.Copy, got, ours)
			}
			want, exists := theirs, true
			if tc.base != "" && tc.other != nil && !strings.Contains(tc.name, "changed") {
				exists = false
			}
			if got, ok := ev.data("f"); ok != exists || (exists && got != want) {
				t.Errorf("their version: got %q (exists %v), want %q (exists %v)", got, ok, want, exists)
			}
			st := ev.c.Stats()
			if len(st.Conflicts) != 1 || st.Conflicts[0].Copy != ce.Copy {
				t.Errorf("Stats.Conflicts = %+v, want the copy %q", st.Conflicts, ce.Copy)
			}
			if err := ev.c.SyncAll(context.Background()); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), ce.Copy) {
				t.Errorf("first SyncAll after the conflict: %v, want ErrConflict naming %q", err, ce.Copy)
			}
			if err := ev.c.SyncAll(context.Background()); err != nil {
				t.Errorf("second SyncAll: %v, want nil (reported once)", err)
			}
			if n := strings.Count(ev.log.String(), "upload diverted to a conflict copy"); n != 1 {
				t.Errorf("%d log lines about the conflict, want 1", n)
			}
		})
	}
}

// A create-only upload whose answer was lost (the PUT landed, the client
// saw a failure) is not retried by the client; the next attempt gets 412
// for our own object, which must count as success, not a conflict.
func TestConflictCreateOnlyLostAnswer(t *testing.T) {
	var la *lostAnswer
	ev := newEnvWith(t, func(o *Options) {
		o.CheckConflict = func(string) bool { return true }
		o.WriteBackDelay = time.Hour
	}, func(tc *testClient) swiftclient.Client {
		la = &lostAnswer{testClient: tc}
		return la
	})
	e, _ := ev.c.Open("f", nil, true)
	e.WriteAt([]byte("ours"), 0)
	la.lose.Store(true)
	if err := e.Sync(context.Background()); err == nil {
		t.Fatal("first Sync: want the lost answer's failure")
	}
	if err := e.Sync(context.Background()); err != nil {
		t.Fatalf("second Sync: %v (the object is ours)", err)
	}
	ev.c.Release(e)
	if n := len(ev.names("f.conflict-")); n != 0 {
		t.Errorf("%d conflict copies of our own object", n)
	}
	if got, _ := ev.data("f"); got != "ours" {
		t.Errorf("Swift holds %q", got)
	}
}

// lostAnswer makes a Put reach the fake but return a transport failure
// while lose is set (once).
type lostAnswer struct {
	*testClient
	lose atomic.Bool
}

func (l *lostAnswer) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opts swiftclient.PutOptions) (swiftclient.ObjectInfo, error) {
	info, err := l.testClient.Put(ctx, name, body, size, opts)
	if err == nil && l.lose.CompareAndSwap(true, false) {
		return swiftclient.ObjectInfo{}, &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "put", Name: name, Err: errors.New("connection reset")}
	}
	return info, err
}

// Two mounts on one host diverting the same name in the same second get
// two conflict copies, not one overwritten by the other.
func TestConflictCopyNameTaken(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 1, 2, 0, time.UTC)
	ev := newEnv(t, func(o *Options) {
		o.CheckConflict = func(string) bool { return true }
		o.WriteBackDelay = time.Hour
		o.Now = func() time.Time { return now }
	})
	info := ev.remote("f", []byte("base"))
	e, _ := ev.c.Open("f", info, false)
	readAll(context.Background(), e)
	e.WriteAt([]byte("ours"), 0)
	ev.remote("f", []byte("theirs"))
	taken := ev.c.wb.conflict("f", "", "").Copy
	ev.remote(taken, []byte("the other mount's copy"))
	err := e.Sync(context.Background())
	ev.c.Release(e)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Copy != taken+"-2" {
		t.Fatalf("Sync: %v, want a conflict copy %q", err, taken+"-2")
	}
	if got, _ := ev.data(taken); got != "the other mount's copy" {
		t.Errorf("the other copy was overwritten: %q", got)
	}
	if got, _ := ev.data(ce.Copy); got != "ours" {
		t.Errorf("%s holds %q", ce.Copy, got)
	}
}

// With --write-back=sync the last close reports the conflict.
func TestConflictAtSyncClose(t *testing.T) {
	ev := newEnv(t, func(o *Options) {
		o.CheckConflict = func(string) bool { return true }
		o.SyncWriteBack = true
	})
	e, _ := ev.c.Open("f", nil, true)
	e.WriteAt([]byte("ours"), 0)
	ev.remote("f", []byte("theirs"))
	if err := ev.c.Release(e); !errors.Is(err, ErrConflict) {
		t.Fatalf("Release: %v, want ErrConflict", err)
	}
	if got, _ := ev.data("f"); got != "theirs" {
		t.Errorf("their version: %q", got)
	}
	if n := len(ev.names("f.conflict-")); n != 1 {
		t.Errorf("%d conflict copies, want 1", n)
	}
}

// --on-conflict=overwrite (CheckConflict false for the name): the last
// upload wins, with no HEAD and no precondition.
func TestConflictOff(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	e, _ := ev.c.Open("f", nil, true)
	e.WriteAt([]byte("ours"), 0)
	ev.remote("f", []byte("theirs"))
	ev.fake.ResetCounts()
	if err := e.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev.c.Release(e)
	if got, _ := ev.data("f"); got != "ours" || ev.fake.Count("stat") != 0 {
		t.Errorf("Swift holds %q after %d HEADs, want ours after none", got, ev.fake.Count("stat"))
	}
}

// A file renamed over one of ours whose upload was stopped after its PUT
// landed (the Butler renaming temps over a final name faster than the
// uploads): the object there is our own old version, no conflict.
func TestConflictRenameOverOwnLandedUpload(t *testing.T) {
	var hang atomic.Bool
	ev := newEnvWith(t, func(o *Options) {
		o.CheckConflict = func(string) bool { return true }
		o.WriteBackDelay = time.Hour
	}, func(tc *testClient) swiftclient.Client { return &landThenHang{testClient: tc, hang: &hang} })
	old, _ := ev.c.Open("final", nil, true)
	old.WriteAt([]byte("version 1"), 0)
	hang.Store(true)
	done := make(chan error, 1)
	go func() { done <- old.Sync(context.Background()) }()
	waitFor(t, "version 1 in Swift", func() bool { got, _ := ev.data("final"); return got == "version 1" })
	tmp, _ := ev.c.Open("tmp", nil, true)
	tmp.WriteAt([]byte("version 2"), 0)
	hang.Store(false)
	if _, dirty, _, err := ev.c.RenameEntry("tmp", "final"); err != nil || !dirty {
		t.Fatalf("RenameEntry: dirty %v, %v", dirty, err)
	}
	<-done
	ev.c.Release(old)
	if err := tmp.Sync(context.Background()); err != nil {
		t.Fatalf("upload of the renamed file: %v", err)
	}
	ev.c.Release(tmp)
	if got, _ := ev.data("final"); got != "version 2" {
		t.Errorf("final holds %q, want version 2", got)
	}
	if n := len(ev.names("final.conflict-")); n != 0 {
		t.Errorf("%d conflict copies of our own version", n)
	}
}

// landThenHang lets a Put reach the fake, then, while hang is set, holds
// its answer until the context ends (an upload stopped after its PUT
// landed).
type landThenHang struct {
	*testClient
	hang *atomic.Bool
}

func (l *landThenHang) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opts swiftclient.PutOptions) (swiftclient.ObjectInfo, error) {
	info, err := l.testClient.Put(ctx, name, body, size, opts)
	if err == nil && l.hang.Load() {
		<-ctx.Done()
		return swiftclient.ObjectInfo{}, &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "put", Name: name, Err: ctx.Err()}
	}
	return info, err
}

// A large object created under a name another writer created first: its
// manifest is refused (412) and the segments already uploaded serve the
// conflict copy's manifest (no segment is uploaded twice).
func TestConflictNewLargeObject(t *testing.T) {
	ev := newEnv(t, func(o *Options) {
		o.CheckConflict = func(string) bool { return true }
		o.SegmentSize = 64 << 10
		o.WriteBackDelay = time.Hour
	})
	data := randBytes(200 << 10)
	e, _ := ev.c.Open("big", nil, true)
	e.WriteAt(data, 0)
	ev.remote("big", []byte("theirs"))
	ev.fake.ResetCounts()
	err := e.Sync(context.Background())
	ev.c.Release(e)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Sync: %v, want a ConflictError", err)
	}
	if got, _ := ev.data("big"); got != "theirs" {
		t.Errorf("their version: %q", got)
	}
	if got, _ := ev.data(ce.Copy); got != string(data) {
		t.Errorf("conflict copy %s: %d bytes, want our %d", ce.Copy, len(got), len(data))
	}
	// 4 segments, the refused manifest, the copy's manifest.
	if n := ev.fake.Count("put"); n != 6 {
		t.Errorf("%d PUTs, want 6 (4 segments uploaded once, 2 manifests)", n)
	}
}
