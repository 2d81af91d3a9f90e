package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// remoteSLO stores data as a Static Large Object of segSize segments, as
// another client (or an earlier mount) would, and returns its Stat.
func (ev *env) remoteSLO(name string, data []byte, segSize int) *swiftclient.ObjectInfo {
	ev.t.Helper()
	var segs []swiftclient.Segment
	for off, i := 0, 0; off < len(data); off, i = off+segSize, i+1 {
		b := data[off:min(off+segSize, len(data))]
		n := fmt.Sprintf("segs/%s/%04d", name, i)
		ev.fake.PutRaw(n, b, "application/octet-stream", nil)
		segs = append(segs, swiftclient.Segment{Name: n, Size: int64(len(b)), ETag: md5hex(b)})
	}
	if _, err := ev.fake.Put(context.Background(), name, nil, 0, swiftclient.PutOptions{Segments: segs}); err != nil {
		ev.t.Fatal(err)
	}
	info, err := ev.fake.Stat(context.Background(), name)
	if err != nil {
		ev.t.Fatal(err)
	}
	return &info
}

// No byte altered on its way is served by default: a read of bytes whose
// GET body had one byte flipped returns the right bytes (the unit, a
// segment or the whole object, is fetched again) or, when every GET is
// altered, ErrCorrupted, never the wrong byte. With --verify=lazy the
// bytes may be served first; the copy then fails for good.
func TestNoCorruptedByteServed(t *testing.T) {
	const size = 1<<20 + 1000 // 17 chunks of 64 KiB: a parallel download
	const flipAt = 600_000    // in segment 2 of 256 KiB segments
	tests := []struct {
		name    string
		slo     bool
		lazy    bool
		flips   int // GETs altered, -1 all
		wantErr bool
		retried string // what the log says of the retry
	}{
		{name: "plain once", flips: 1, retried: "download corrupted, retrying"},
		{name: "plain always", flips: -1, wantErr: true},
		{name: "SLO once", slo: true, flips: 1, retried: "bytes=262144"},
		{name: "SLO always", slo: true, flips: -1, wantErr: true},
		{name: "lazy plain always", lazy: true, flips: -1, wantErr: true},
		{name: "lazy SLO always", slo: true, lazy: true, flips: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, func(o *Options) {
				smallChunks(o)
				o.LazyVerify = tt.lazy
			})
			want := randBytes(size)
			info := ev.remote("obj", want)
			if tt.slo {
				info = ev.remoteSLO("obj", want, 256<<10)
			}
			ev.client.setFlip(flipAt, tt.flips)
			e, err := ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.c.Release(e)
			buf := make([]byte, 200)
			n, err := e.ReadAt(context.Background(), buf, flipAt-100)
			wrong := err == nil && !bytes.Equal(buf[:n], want[flipAt-100:flipAt-100+n])
			switch {
			case wrong && !tt.lazy:
				t.Fatalf("read returned the altered byte")
			case !tt.wantErr && (err != nil || n != len(buf)):
				t.Fatalf("read: %d, %v; want the right bytes", n, err)
			case tt.wantErr && !tt.lazy && !errors.Is(err, swiftclient.ErrCorrupted):
				t.Fatalf("read: %d, %v; want ErrCorrupted", n, err)
			}
			waitFor(t, "download end", func() bool {
				e.mu.Lock()
				defer e.mu.Unlock()
				return !e.busy
			})
			got, err := readAll(context.Background(), e)
			if tt.wantErr {
				if !errors.Is(err, swiftclient.ErrCorrupted) {
					t.Errorf("whole read after the download: %v, want ErrCorrupted", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, want) || !e.Complete() {
				t.Errorf("whole content: err %v, equal %v, complete %v", err, bytes.Equal(got, want), e.Complete())
			}
			if !strings.Contains(ev.log.String(), "download corrupted, retrying") || !strings.Contains(ev.log.String(), strings.TrimPrefix(tt.retried, "bytes=")) {
				t.Errorf("log lacks the retry (%q)", tt.retried)
			}
		})
	}
}

// By default a read of a plain object far ahead of its download waits
// for the whole object's MD5; a read of an SLO waits only for its
// segment, fetched at once, and checked against the manifest.
func TestStrictServesCheckedSegments(t *testing.T) {
	const size = 1<<20 + 1000
	for _, slo := range []bool{false, true} {
		t.Run(fmt.Sprintf("slo=%v", slo), func(t *testing.T) {
			ev := newEnv(t, smallChunks)
			want := randBytes(size)
			info := ev.remote("obj", want)
			if slo {
				info = ev.remoteSLO("obj", want, 256<<10)
			}
			gate := ev.client.setGate(size - 1000) // no GET delivers the last bytes
			defer close(gate)
			e, err := ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.c.Release(e)
			buf := make([]byte, 4096)
			off := int64(600_000) // segment 2
			// A plain object's read must still wait when this ends; an SLO's
			// returns once its segment is checked (well before, unless broken).
			wait := 200 * time.Millisecond
			if slo {
				wait = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			n, err := e.ReadAt(ctx, buf, off)
			cancel()
			if !slo {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("read before the whole object is in: %d, %v; want to wait (DeadlineExceeded)", n, err)
				}
				return
			}
			if err != nil || !bytes.Equal(buf, want[off:off+4096]) {
				t.Fatalf("read of a checked segment: %d, %v", n, err)
			}
			if e.Complete() {
				t.Fatal("complete although the last bytes are held")
			}
			e.mu.Lock()
			u := e.unitAtLocked(off)
			ok := u != nil && u.verified && u.start == 512<<10 && u.end == 768<<10
			e.mu.Unlock()
			if !ok {
				t.Errorf("unit of the read: %+v, want segment 2 checked", u)
			}
		})
	}
}

// A manifest that does not match the object's ETag (altered on its way)
// or whose segment MD5 does not match the segment's bytes fails the
// download with ErrCorrupted; no byte is served.
func TestSLOManifestMismatch(t *testing.T) {
	tests := []struct {
		name  string
		alter func(m *swiftclient.Manifest)
	}{
		{"ETag", func(m *swiftclient.Manifest) { m.ETag = strings.Repeat("0", 32) }},
		{"segment MD5", func(m *swiftclient.Manifest) { m.Segments[1].MD5 = strings.Repeat("0", 32) }},
		{"segment size", func(m *swiftclient.Manifest) { m.Size++; m.Segments[1].Size++ }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, smallChunks)
			want := randBytes(600_000)
			info := ev.remoteSLO("obj", want, 256<<10)
			ev.client.mu.Lock()
			ev.client.manifestHook = tt.alter
			ev.client.mu.Unlock()
			e, err := ev.c.Open("obj", info, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.c.Release(e)
			n, err := e.ReadAt(context.Background(), make([]byte, 100), 300_000)
			if n != 0 || !errors.Is(err, swiftclient.ErrCorrupted) {
				t.Errorf("read: %d, %v; want 0, ErrCorrupted", n, err)
			}
		})
	}
}

func TestSegmentSizeFor(t *testing.T) {
	c := &Cache{opts: Options{SegmentSize: 32 << 20}}
	tests := []struct{ size, want int64 }{
		{100 << 20, 32 << 20},
		{1000 * 32 << 20, 32 << 20},
		{1000*32<<20 + 1, 33 << 20},
		{100 << 30, 103 << 20}, // 102.4 MiB, rounded up to the MiB
	}
	for _, tt := range tests {
		if got := c.segmentSizeFor(tt.size); got != tt.want || (tt.size+got-1)/got > maxSegments {
			t.Errorf("segmentSizeFor(%d) = %d, want %d (at most %d segments)", tt.size, got, tt.want, maxSegments)
		}
	}
}

// Files up to SLOThreshold are uploaded whole; larger ones as SLOs of
// SegmentSize segments, which a fresh download then checks one by one.
func TestSLOThreshold(t *testing.T) {
	tests := []struct {
		size     int
		wantSegs int // 0: a plain object
	}{
		{200_000, 0},
		{300_000, 5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			ev := newEnv(t, func(o *Options) {
				o.SegmentSize, o.SLOThreshold, o.WriteBackDelay = 64<<10, 256<<10, time.Hour
			})
			e, _ := ev.c.Open("f", nil, true)
			data := randBytes(tt.size)
			e.WriteAt(data, 0)
			if err := e.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			ev.c.Release(e)
			info, _ := ev.fake.Stat(context.Background(), "f")
			if n := len(ev.names(".swiftfs-segments/")); n != tt.wantSegs || info.SLO != (tt.wantSegs > 0) {
				t.Fatalf("segments %d, SLO %v; want %d", n, info.SLO, tt.wantSegs)
			}
			m, err := ev.fake.Manifest(context.Background(), "f")
			if err != nil || len(m.Segments) != tt.wantSegs {
				t.Errorf("manifest: %d segments, %v; want %d", len(m.Segments), err, tt.wantSegs)
			}
		})
	}
}
