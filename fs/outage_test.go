package fs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

// outageFS is an FS over a fake Swift whose every request can be made to
// fail with 503, and a clock the test moves.
type outageFS struct {
	*FS
	fake *swiftfake.Fake
	mu   sync.Mutex
	down bool
	now  time.Time
}

func newOutageFS(t *testing.T) *outageFS {
	t.Helper()
	o := &outageFS{fake: swiftfake.New(), now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	o.fake.Fault = func(op, name string) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.down {
			return &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: op, Name: name, Status: 503}
		}
		return nil
	}
	c, err := cache.New(cache.Options{Dir: t.TempDir(), MaxBytes: 1 << 30}, o.fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(time.Second) })
	clock := func() time.Time { o.mu.Lock(); defer o.mu.Unlock(); return o.now }
	f, err := New(Options{Now: clock}, o.fake, c)
	if err != nil {
		t.Fatal(err)
	}
	o.FS = f
	return o
}

func (o *outageFS) set(down bool, advance time.Duration) {
	o.mu.Lock()
	o.down = down
	o.now = o.now.Add(advance)
	o.mu.Unlock()
}

// Without a Health (the fake tracks none), a listing that fails with an
// outage error falls back to the last listing however old; a directory
// never listed, and answers that are not outages, still fail.
func TestStaleListingDuringOutage(t *testing.T) {
	tests := []struct {
		name    string
		listed  bool // listed before the outage
		down    bool
		wantErr bool
		wantHas bool
	}{
		{"listed, Swift up", true, false, false, true},
		{"listed, Swift down", true, true, false, true},
		{"never listed, Swift down", false, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutageFS(t)
			o.fake.PutRaw("d/a", []byte("x"), "application/octet-stream", nil)
			ctx := context.Background()
			if tc.listed {
				if err := o.ensureListed(ctx, "d"); err != nil {
					t.Fatal(err)
				}
			}
			o.set(tc.down, time.Hour) // far past MetadataTTL
			e, err := o.lookupEntry(ctx, "d/a")
			if (err != nil) != tc.wantErr {
				t.Fatalf("lookup: err %v, want error %v", err, tc.wantErr)
			}
			if (e != nil) != tc.wantHas {
				t.Errorf("lookup: entry %v, want one %v", e, tc.wantHas)
			}
			if err != nil && !isOutage(err) {
				t.Errorf("error %v is not an outage", err)
			}
		})
	}
}

// A local change made during the outage shows over the old listing, and a
// listing after the outage both keeps it (the file is dirty) and shows
// what others changed meanwhile.
func TestOutageOverlayAndRefresh(t *testing.T) {
	o := newOutageFS(t)
	ctx := context.Background()
	o.fake.PutRaw("d/a", []byte("x"), "application/octet-stream", nil)
	if err := o.ensureListed(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	o.set(true, time.Hour)
	e, err := o.cache.Open("d/new", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.MarkDirty(); err != nil {
		t.Fatal(err)
	}
	o.setEntry("d/new", &nsEntry{attrs: attrs{kind: kindFile, perm: 0o644}})
	for _, name := range []string{"d/a", "d/new"} {
		if ne, err := o.lookupEntry(ctx, name); err != nil || ne == nil {
			t.Errorf("during the outage: lookup %s: %v, %v", name, ne, err)
		}
	}
	o.fake.PutRaw("d/b", []byte("y"), "application/octet-stream", nil) // (another client, unseen yet)
	o.set(false, time.Hour)
	for _, name := range []string{"d/a", "d/new", "d/b"} {
		if ne, err := o.lookupEntry(ctx, name); err != nil || ne == nil {
			t.Errorf("after the outage: lookup %s: %v, %v", name, ne, err)
		}
	}
	o.cache.Release(e)
}

// rmdir and a rename over a directory need a fresh listing to know the
// directory is empty: the old listing served during an outage is not
// enough.
func TestDirEmptyNeedsFreshListing(t *testing.T) {
	for _, down := range []bool{false, true} {
		o := newOutageFS(t)
		ctx := context.Background()
		o.fake.PutRaw("e/", nil, "application/directory", nil)
		if err := o.ensureListed(ctx, "e"); err != nil {
			t.Fatal(err)
		}
		o.set(down, 0)
		empty, err := o.dirEmpty(ctx, "e")
		if down && (err == nil || !errors.Is(err, errUnreachableList)) {
			t.Errorf("Swift down: dirEmpty = %v, %v; want errUnreachableList", empty, err)
		}
		if !down && (err != nil || !empty) {
			t.Errorf("Swift up: dirEmpty = %v, %v; want true", empty, err)
		}
	}
}
