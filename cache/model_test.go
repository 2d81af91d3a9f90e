package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// TestModel runs random sequences of file operations, crashes and Swift
// outages through the cache, the way package fs drives it (including its
// part of rename and unlink in Swift), and compares the end state in Swift
// with a reference model: every file the model holds is in Swift with its
// content, nothing else is, and no SLO segment is left that no manifest
// uses. SWIFTFS_MODEL_SEEDS=n runs more seeds.
func TestModel(t *testing.T) {
	seeds := 24
	if s, err := strconv.Atoi(os.Getenv("SWIFTFS_MODEL_SEEDS")); err == nil {
		seeds = s
	}
	if testing.Short() {
		seeds = 4
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, uint64(seed), 80) })
	}
}

type modelRun struct {
	t     *testing.T
	ev    *env
	r     *rand.Rand
	files map[string][]byte // the model: what a reader must see
	open  map[string]*Entry // one descriptor per name at most
	down  bool              // Swift refuses everything
	log   []string
}

func runModel(t *testing.T, seed uint64, steps int) {
	ev := newEnv(t, func(o *Options) {
		o.SegmentSize = 8 << 10
		o.WriteBackDelay = 5 * time.Millisecond
		o.RetryBackoff = time.Millisecond
		o.RetryBackoffMax = 20 * time.Millisecond
	})
	m := &modelRun{t: t, ev: ev, r: rand.New(rand.NewPCG(seed, 7)), files: map[string][]byte{}, open: map[string]*Entry{}}
	defer func() {
		if t.Failed() {
			t.Logf("seed %d, operations:\n%s", seed, strings.Join(m.log, "\n"))
		}
	}()
	names := []string{"a", "b", "c", "d/e"}
	for range steps {
		name := names[m.r.IntN(len(names))]
		other := names[m.r.IntN(len(names))]
		switch k := m.r.IntN(100); {
		case k < 30:
			m.write(name)
		case k < 38:
			m.truncate(name)
		case k < 50:
			m.close(name)
		case k < 58:
			m.fsync(name)
		case k < 66:
			m.unlink(name)
		case k < 76:
			if name != other {
				m.rename(name, other)
			}
		case k < 80:
			m.crash()
		case k < 85:
			m.setDown(!m.down)
		case k < 92:
			m.read(name)
		default:
			m.note("sleep")
			time.Sleep(time.Duration(m.r.IntN(8)) * time.Millisecond)
		}
		if t.Failed() {
			return
		}
	}
	m.setDown(false)
	for name := range m.open {
		m.close(name)
	}
	if err := ev.c.SyncAll(context.Background()); err != nil {
		t.Fatalf("SyncAll: %v", err)
	}
	m.check()
}

func (m *modelRun) note(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *modelRun) setDown(down bool) {
	m.note("swift down: %v", down)
	m.down = down
	m.ev.faults.clear()
	if down {
		// Not "stat": the model's lookups stand for fs's listing, fresh
		// enough (the cache HEADs only to check conflicts, off here).
		for _, op := range []string{"get", "put", "delete", "copy", "list", "update"} {
			m.ev.faults.add(op, "", swiftErr(op, 503), -1)
		}
	}
}

// remote is what fs would pass to Open: the object in Swift, if any.
func (m *modelRun) remote(name string) *swiftclient.ObjectInfo {
	info, err := m.ev.fake.Stat(context.Background(), name)
	if err != nil {
		return nil
	}
	return &info
}

func (m *modelRun) entry(name string) *Entry {
	if e := m.open[name]; e != nil {
		return e
	}
	remote := m.remote(name)
	if m.down && m.ev.c.Lookup(name) == nil && remote != nil {
		return nil // not cached: the download would fail
	}
	if _, exists := m.files[name]; !exists {
		remote = nil
	}
	e, err := m.ev.c.Open(name, remote, remote == nil)
	if err != nil {
		m.t.Fatalf("open %s: %v", name, err)
	}
	if _, exists := m.files[name]; !exists {
		if err := e.MarkDirty(); err != nil { // a new file (fs Create)
			m.t.Fatalf("create %s: %v", name, err)
		}
		m.files[name] = []byte{}
	}
	m.open[name] = e
	return e
}

func (m *modelRun) write(name string) {
	e := m.entry(name)
	if e == nil {
		return
	}
	cur := m.files[name]
	off := m.r.IntN(len(cur) + 1)
	if m.r.IntN(4) == 0 {
		off += m.r.IntN(5000) // a hole
	}
	data := randBytes(1 + m.r.IntN(12000))
	data[0] = byte(m.r.Uint32())
	m.note("write %s at %d, %d bytes", name, off, len(data))
	if _, err := e.WriteAt(data, int64(off)); err != nil {
		m.t.Fatalf("write %s: %v", name, err)
	}
	if end := off + len(data); end > len(cur) {
		cur = append(cur, make([]byte, end-len(cur))...)
	}
	copy(cur[off:], data)
	m.files[name] = cur
	// Dirty (durably), or already uploaded by a retry that began after
	// the write.
	if b, err := os.ReadFile(m.ev.c.metaPath(e.id)); err != nil || !strings.Contains(string(b), `"dirty":true`) {
		if got, _ := m.ev.fake.Data(name); !e.Dirty() && !bytes.Equal(got, cur) {
			m.t.Errorf("write %s: clean, record %s (%v), but Swift has %d bytes, want %d", name, b, err, len(got), len(cur))
		}
	}
}

func (m *modelRun) truncate(name string) {
	e := m.entry(name)
	if e == nil {
		return
	}
	size := m.r.IntN(len(m.files[name]) + 3000)
	m.note("truncate %s to %d", name, size)
	if err := e.Truncate(int64(size)); err != nil {
		m.t.Fatalf("truncate %s: %v", name, err)
	}
	cur := m.files[name]
	if size < len(cur) {
		cur = cur[:size]
	} else {
		cur = append(cur, make([]byte, size-len(cur))...)
	}
	m.files[name] = cur
}

func (m *modelRun) read(name string) {
	want, exists := m.files[name]
	if !exists {
		return
	}
	e := m.entry(name)
	if e == nil {
		return
	}
	m.note("read %s", name)
	got, err := readAll(context.Background(), e)
	if err != nil || !bytes.Equal(got, want) {
		m.t.Errorf("read %s: %d bytes, err %v, want %d bytes (equal %v)", name, len(got), err, len(want), bytes.Equal(got, want))
	}
}

func (m *modelRun) close(name string) {
	e := m.open[name]
	if e == nil {
		return
	}
	m.note("close %s", name)
	delete(m.open, name)
	if err := m.ev.c.Release(e); err != nil {
		m.t.Fatalf("release %s: %v", name, err)
	}
}

func (m *modelRun) fsync(name string) {
	e := m.open[name]
	if e == nil {
		return
	}
	m.note("fsync %s", name)
	err := e.Sync(context.Background())
	if m.down {
		return // fails, or succeeds when there was nothing to upload
	}
	if err != nil {
		m.t.Fatalf("fsync %s: %v", name, err)
	}
	got, ok := m.ev.fake.Data(name)
	if !ok || !bytes.Equal(got, m.files[name]) {
		m.t.Errorf("after fsync %s: Swift has %d bytes (present %v), want %d", name, len(got), ok, len(m.files[name]))
	}
}

// unlink is what fs's Unlink does: cache.Remove, then the object.
func (m *modelRun) unlink(name string) {
	if _, ok := m.files[name]; !ok || m.down {
		return
	}
	m.close(name)
	m.note("unlink %s", name)
	m.ev.c.Remove(name)
	info := m.remote(name)
	if info != nil {
		if err := m.ev.fake.Delete(context.Background(), name, swiftclient.DeleteOptions{MultipartManifest: info.LargeObject}); err != nil {
			m.t.Fatalf("delete %s: %v", name, err)
		}
	}
	delete(m.files, name)
}

// rename is what fs's renameFile does around cache.Rename.
func (m *modelRun) rename(from, to string) {
	if _, ok := m.files[from]; !ok || m.down {
		return
	}
	m.close(to)
	m.note("rename %s to %s", from, to)
	ctx := context.Background()
	src, dst := m.remote(from), m.remote(to)
	moved, dirty, err := m.ev.c.Rename(from, to)
	if err != nil {
		m.t.Fatalf("rename: %v", err)
	}
	if dst != nil && dst.LargeObject {
		if err := m.ev.fake.Delete(ctx, to, swiftclient.DeleteOptions{MultipartManifest: true}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			m.t.Fatal(err)
		}
	}
	src = m.remote(from) // a stopped upload may have finished
	switch {
	case dirty:
		if src != nil {
			m.ev.fake.Delete(ctx, from, swiftclient.DeleteOptions{})
		}
	case src != nil || moved:
		if _, err := m.ev.fake.Copy(ctx, from, to, swiftclient.CopyOptions{ManifestOnly: src != nil && src.LargeObject}); err != nil {
			m.t.Fatalf("copy: %v", err)
		}
		m.ev.fake.Delete(ctx, from, swiftclient.DeleteOptions{})
	}
	m.files[to] = m.files[from]
	delete(m.files, from)
	if e := m.open[from]; e != nil {
		delete(m.open, from)
		m.open[to] = e
	}
}

func (m *modelRun) crash() {
	m.note("crash and restart")
	m.open = map[string]*Entry{} // descriptors die with the daemon
	m.ev.restart()
	dirty := m.ev.c.DirtyNames()
	var got []string
	for name := range m.files {
		d, _ := m.ev.fake.Data(name)
		got = append(got, fmt.Sprintf("%s: model %d, dirty %v (%d), Swift %d", name, len(m.files[name]), dirty[name] != 0 || m.ev.c.Lookup(name) != nil && m.ev.c.Lookup(name).Dirty(), dirty[name], len(d)))
	}
	slices.Sort(got)
	m.note("  recovered: %s", strings.Join(got, "; "))
}

// check compares Swift with the model once everything is uploaded.
func (m *modelRun) check() {
	ev := m.ev
	prefix := ev.opts.SegmentPrefix
	if prefix == "" {
		prefix = ".swiftfs-segments/"
	}
	for name, want := range m.files {
		got, ok := ev.fake.Data(name)
		if !ok || !bytes.Equal(got, want) {
			m.t.Errorf("%s in Swift: %d bytes (present %v), want %d", name, len(got), ok, len(want))
		}
	}
	var sloBytes int64
	for _, n := range ev.fake.Names() {
		if strings.HasPrefix(n, prefix) {
			continue
		}
		if _, ok := m.files[n]; !ok {
			m.t.Errorf("%s in Swift, not in the model", n)
		}
		if info, err := ev.fake.Stat(context.Background(), n); err == nil && info.SLO {
			sloBytes += info.Size
		}
	}
	// Old segments go in the background: wait for the collector.
	segBytes := func() int64 {
		var n int64
		for _, s := range ev.names(prefix) {
			d, _ := ev.fake.Data(s)
			n += int64(len(d))
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for segBytes() != sloBytes && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := segBytes(); got != sloBytes {
		m.t.Errorf("segments hold %d bytes, the SLOs in use %d: orphans left %q", got, sloBytes, ev.names(prefix))
	}
	if s := ev.c.Stats(); len(s.Dirty) != 0 {
		m.t.Errorf("still dirty: %+v", s.Dirty)
	}
}
