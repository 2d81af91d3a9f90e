package cache

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

// testClient wraps the fake with what its Fault hook cannot do: GET bodies
// that stall part-way (a download still streaming) or arrive corrupted.
type testClient struct {
	*swiftfake.Fake

	mu sync.Mutex
	// corrupt is the number of GETs whose body gets a flipped byte (-1:
	// every one).
	corrupt int // GUARDED_BY(mu)
	// gate, when set, makes GET bodies stop before offset gateAt until it
	// is closed.
	gate   chan struct{} // GUARDED_BY(mu)
	gateAt int64         // GUARDED_BY(mu)
	// putHook, when set, runs before every Put (and may block, honouring
	// ctx, or fail it).
	putHook func(ctx context.Context, name string) error // GUARDED_BY(mu)
	// afterPut, when set, runs after every successful Put.
	afterPut func(name string) // GUARDED_BY(mu)
	// wrapBody, when set, wraps every Put's body (to pause it part-way).
	wrapBody func(io.ReadSeeker) io.ReadSeeker // GUARDED_BY(mu)
	// flips is the number of GETs (-1: every one) whose body has the
	// object's byte at offset flipAt flipped, when they carry it.
	flips  int   // GUARDED_BY(mu)
	flipAt int64 // GUARDED_BY(mu)
	// manifestHook, when set, may alter every manifest read.
	manifestHook func(*swiftclient.Manifest) // GUARDED_BY(mu)
}

func (tc *testClient) Manifest(ctx context.Context, name string) (swiftclient.Manifest, error) {
	m, err := tc.Fake.Manifest(ctx, name)
	tc.mu.Lock()
	h := tc.manifestHook
	tc.mu.Unlock()
	if err == nil && h != nil {
		h(&m)
	}
	return m, err
}

// setFlip makes the next n GETs (-1: all) that carry the object's byte at
// offset at deliver it flipped.
func (tc *testClient) setFlip(at int64, n int) {
	tc.mu.Lock()
	tc.flipAt, tc.flips = at, n
	tc.mu.Unlock()
}

func (tc *testClient) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opts swiftclient.PutOptions) (swiftclient.ObjectInfo, error) {
	tc.mu.Lock()
	h, wrap := tc.putHook, tc.wrapBody
	tc.mu.Unlock()
	if wrap != nil && body != nil {
		body = wrap(body)
	}
	if h != nil {
		if err := h(ctx, name); err != nil {
			return swiftclient.ObjectInfo{}, err
		}
	}
	info, err := tc.Fake.Put(ctx, name, body, size, opts)
	tc.mu.Lock()
	a := tc.afterPut
	tc.mu.Unlock()
	if err == nil && a != nil {
		a(name)
	}
	return info, err
}

func (tc *testClient) setPutHook(h func(ctx context.Context, name string) error) {
	tc.mu.Lock()
	tc.putHook = h
	tc.mu.Unlock()
}

var _ swiftclient.Client = (*testClient)(nil)

func (tc *testClient) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, swiftclient.ObjectInfo, error) {
	rc, info, err := tc.Fake.Get(ctx, name, off, length)
	if err != nil {
		return rc, info, err
	}
	tc.mu.Lock()
	corrupt := tc.corrupt != 0
	if tc.corrupt > 0 {
		tc.corrupt--
	}
	gate, gateAt := tc.gate, tc.gateAt
	flip := tc.flips != 0 && off <= tc.flipAt && (length < 0 || tc.flipAt < off+length) && tc.flipAt < info.Size
	if flip && tc.flips > 0 {
		tc.flips--
	}
	flipAt := tc.flipAt
	tc.mu.Unlock()
	if flip {
		b, _ := io.ReadAll(rc)
		rc.Close()
		if i := flipAt - off; i < int64(len(b)) {
			b[i] ^= 0x01
		}
		rc = io.NopCloser(bytes.NewReader(b))
	}
	if corrupt {
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) > 0 {
			b[len(b)/2] ^= 0xff
		}
		rc = io.NopCloser(bytes.NewReader(b))
	}
	if gate != nil {
		rc = &stallReader{ctx: ctx, r: rc, pos: off, at: gateAt, gate: gate}
	}
	return rc, info, nil
}

func (tc *testClient) setGate(at int64) chan struct{} {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.gate = make(chan struct{})
	tc.gateAt = at
	return tc.gate
}

func (tc *testClient) setCorrupt(n int) {
	tc.mu.Lock()
	tc.corrupt = n
	tc.mu.Unlock()
}

// stallReader passes bytes up to offset at, then waits for gate.
type stallReader struct {
	ctx  context.Context
	r    io.ReadCloser
	pos  int64
	at   int64
	gate chan struct{}
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.pos >= s.at {
		select {
		case <-s.gate:
		case <-s.ctx.Done():
			return 0, s.ctx.Err()
		}
	} else if rest := s.at - s.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.r.Read(p)
	s.pos += int64(n)
	return n, err
}

func (s *stallReader) Close() error { return s.r.Close() }

// env is one cache over one fake container, in a temporary directory.
type env struct {
	t      testing.TB
	fake   *swiftfake.Fake
	client *testClient
	api    swiftclient.Client // what the cache talks to: client, or a wrapper of it
	dir    string
	opts   Options
	c      *Cache
	log    *syncBuffer
	faults *faults // installed before the cache starts (the fake reads Fault unlocked)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv makes a cache with short delays (20 ms write-back delay, retries
// after 10 ms doubling up to 100 ms, permanent failures after an hour) and
// the invariant checks on; mod adjusts the options.
func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	return newEnvWith(t, mod, nil)
}

// newEnvWith is newEnv with wrap(client) between the cache and the fake.
func newEnvWith(t testing.TB, mod func(*Options), wrap func(*testClient) swiftclient.Client) *env {
	t.Helper()
	fake := swiftfake.New()
	ev := &env{t: t, fake: fake, client: &testClient{Fake: fake}, dir: t.TempDir(), log: &syncBuffer{}}
	ev.api = ev.client
	if wrap != nil {
		ev.api = wrap(ev.client)
	}
	ev.faults = &faults{}
	fake.Fault = ev.faults.check
	ev.opts = Options{
		Dir:             ev.dir,
		MaxBytes:        1 << 30,
		WriteBackDelay:  20 * time.Millisecond,
		RetryBackoff:    10 * time.Millisecond,
		RetryBackoffMax: 100 * time.Millisecond,
		PermanentRetry:  time.Hour,
		Logger:          slog.New(slog.NewTextHandler(ev.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		checkInvariants: true,
	}
	if mod != nil {
		mod(&ev.opts)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cache log:\n%s", ev.log.String())
		}
	})
	ev.c = ev.open()
	return ev
}

// open starts a Cache on the env's directory (again, after a crash).
func (ev *env) open() *Cache {
	ev.t.Helper()
	c, err := New(ev.opts, ev.api)
	if err != nil {
		ev.t.Fatalf("New: %v", err)
	}
	ev.t.Cleanup(func() {
		c.Close(5 * time.Second)
		if err := c.checkNow(); err != nil {
			ev.t.Errorf("after Close: %v", err)
		}
	})
	return c
}

// restart simulates kill -9 and a new start on the same directory.
func (ev *env) restart() {
	ev.t.Helper()
	ev.c.crash()
	ev.c = ev.open()
}

// randBytes returns n pseudo-random bytes (the same for the same n).
func randBytes(n int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(n))
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// remote stores data as another client would and returns its info.
func (ev *env) remote(name string, data []byte) *swiftclient.ObjectInfo {
	ev.t.Helper()
	ev.fake.PutRaw(name, data, "application/octet-stream", nil)
	info, err := ev.fake.Stat(context.Background(), name)
	if err != nil {
		ev.t.Fatal(err)
	}
	return &info
}

// create writes a new file through the cache and closes it.
func (ev *env) create(name string, data []byte) {
	ev.t.Helper()
	e, err := ev.c.Open(name, nil, true)
	if err != nil {
		ev.t.Fatalf("Open %q: %v", name, err)
	}
	if err := e.MarkDirty(); err != nil {
		ev.t.Fatalf("MarkDirty %q: %v", name, err)
	}
	if _, err := e.WriteAt(data, 0); err != nil {
		ev.t.Fatalf("WriteAt %q: %v", name, err)
	}
	if err := ev.c.Release(e); err != nil {
		ev.t.Fatalf("Release %q: %v", name, err)
	}
}

func readAll(ctx context.Context, e *Entry) ([]byte, error) {
	var out []byte
	buf := make([]byte, 100_000)
	for off := int64(0); ; {
		n, err := e.ReadAt(ctx, buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
	}
}

// waitFor polls cond until it holds or 10 s passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// data returns an object's content in the fake ("" when missing).
func (ev *env) data(name string) (string, bool) {
	b, ok := ev.fake.Data(name)
	return string(b), ok
}

// names lists the fake's objects under prefix.
func (ev *env) names(prefix string) []string {
	var out []string
	for _, n := range ev.fake.Names() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// records returns the names in meta/ (records and gc files).
func (ev *env) records() []string {
	ents, _ := os.ReadDir(filepath.Join(ev.dir, "meta"))
	var out []string
	for _, de := range ents {
		out = append(out, de.Name())
	}
	return out
}

// dataBytes is the total size of the files in data/.
func (ev *env) dataBytes() int64 {
	ents, _ := os.ReadDir(filepath.Join(ev.dir, "data"))
	var n int64
	for _, de := range ents {
		if fi, err := de.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// faults makes the fake fail op (any op when "") on names with prefix
// (any name when "") with err while the returned switch is on.
type faults struct {
	mu    sync.Mutex
	rules []faultRule
	calls map[string]int // GUARDED_BY(mu): requests by op, refused ones included
}

// count returns the requests of op, those refused by a fault included
// (the fake's Count leaves them out).
func (f *faults) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

type faultRule struct {
	op, prefix string
	err        error
	times      int // -1: until cleared
}

func (f *faults) check(op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	for i := range f.rules {
		r := &f.rules[i]
		if r.times == 0 || (r.op != "" && r.op != op) || !strings.HasPrefix(name, r.prefix) {
			continue
		}
		if r.times > 0 {
			r.times--
		}
		return r.err
	}
	return nil
}

func (f *faults) add(op, prefix string, err error, times int) {
	f.mu.Lock()
	f.rules = append(f.rules, faultRule{op: op, prefix: prefix, err: err, times: times})
	f.mu.Unlock()
}

func (f *faults) clear() {
	f.mu.Lock()
	f.rules = nil
	f.mu.Unlock()
}

var errInjected = errors.New("injected fault")

func swiftErr(op string, status int) error {
	return &swiftclient.Error{Kind: swiftclient.KindForStatus(status), Op: op, Status: status, Err: errInjected}
}
