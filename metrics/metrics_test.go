package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/swiftfs/swiftfs/cache"
)

func TestListenAddr(t *testing.T) {
	cases := []struct {
		in       string
		want     string
		loopback bool
		err      bool
	}{
		{":9100", "127.0.0.1:9100", true, false},
		{":0", "127.0.0.1:0", true, false},
		{"127.0.0.1:9100", "127.0.0.1:9100", true, false},
		{"localhost:9100", "localhost:9100", true, false},
		{"[::1]:9100", "[::1]:9100", true, false},
		{"0.0.0.0:9100", "0.0.0.0:9100", false, false},
		{"[::]:9100", "[::]:9100", false, false},
		{"192.0.2.7:9100", "192.0.2.7:9100", false, false},
		{"9100", "", false, true},
		{"127.0.0.1", "", false, true},
		{":http", "", false, true},
		{":65536", "", false, true},
		{"", "", false, true},
	}
	for _, c := range cases {
		got, loopback, err := ListenAddr(c.in)
		if (err != nil) != c.err || got != c.want || loopback != c.loopback {
			t.Errorf("ListenAddr(%q) = %q, %v, %v; want %q, %v, error %v", c.in, got, loopback, err, c.want, c.loopback, c.err)
		}
	}
}

type fixedStats struct{ s cache.Stats }

func (f *fixedStats) Stats() cache.Stats { return f.s }

// scrape fetches /metrics from s and parses it.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value of the series of fam with the given labels (name,
// value pairs): a counter's or gauge's value, a histogram's count.
func value(fams map[string]*dto.MetricFamily, fam string, labels ...string) (float64, bool) {
	f := fams[fam]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestServeExportsObservations: what the observers are told and what
// cache.Stats says come out of /metrics under the documented names.
func TestServeExportsObservations(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := New("test")
	stats := &fixedStats{cache.Stats{UsedBytes: 4096, MaxBytes: 1 << 30, Entries: 3, Hits: 5, Misses: 2, HitBytes: 500, MissBytes: 200,
		ConflictsTotal: 1, QueueLen: 1, Uploading: 1, Failed: 1, DirtyBytes: 30,
		Dirty: []cache.FileState{{Name: "a", Since: now.Add(-90 * time.Second)}, {Name: "b", Since: now.Add(-10 * time.Second)}, {Name: "c"}}}}
	m.SetCache(stats, func() time.Time { return now })
	s, err := Serve(":0", m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.Addr().String(), "127.0.0.1:") {
		t.Errorf("a bare port listens on %s, want 127.0.0.1", s.Addr())
	}

	m.Request("PUT", 201, 30*time.Millisecond)
	m.Request("PUT", 201, 40*time.Millisecond)
	m.Request("GET", 404, time.Millisecond)
	m.Request("GET", 0, time.Second)
	m.Sent(1000)
	m.Received(300)
	m.Received(200)
	m.FUSEOp("lookup", time.Microsecond, 0)
	m.FUSEOp("lookup", time.Microsecond, syscall.ENOENT)
	m.FUSEOp("write", time.Millisecond, syscall.ENOSPC)
	m.FUSEOp("write", time.Millisecond, 0)
	m.FUSEOp("write", time.Millisecond, 0)

	fams := scrape(t, s)
	cases := []struct {
		fam    string
		labels []string
		want   float64
	}{
		{"swiftfs_swift_requests_total", []string{"method", "PUT", "code", "201"}, 2},
		{"swiftfs_swift_requests_total", []string{"method", "GET", "code", "404"}, 1},
		{"swiftfs_swift_requests_total", []string{"method", "GET", "code", "0"}, 1},
		{"swiftfs_swift_request_duration_seconds", []string{"method", "PUT"}, 2},
		{"swiftfs_swift_request_duration_seconds", []string{"method", "GET"}, 2},
		{"swiftfs_swift_sent_bytes_total", nil, 1000},
		{"swiftfs_swift_received_bytes_total", nil, 500},
		{"swiftfs_fuse_request_duration_seconds", []string{"op", "lookup"}, 2},
		{"swiftfs_fuse_request_duration_seconds", []string{"op", "write"}, 3},
		{"swiftfs_fuse_errors_total", []string{"op", "lookup", "errno", "ENOENT"}, 1},
		{"swiftfs_fuse_errors_total", []string{"op", "write", "errno", "ENOSPC"}, 1},
		{"swiftfs_cache_hits_total", nil, 5},
		{"swiftfs_cache_misses_total", nil, 2},
		{"swiftfs_cache_hit_bytes_total", nil, 500},
		{"swiftfs_cache_miss_bytes_total", nil, 200},
		{"swiftfs_cache_used_bytes", nil, 4096},
		{"swiftfs_cache_budget_bytes", nil, 1 << 30},
		{"swiftfs_cache_entries", nil, 3},
		{"swiftfs_cache_dirty_files", nil, 3},
		{"swiftfs_cache_dirty_bytes", nil, 30},
		{"swiftfs_writeback_queued_files", nil, 1},
		{"swiftfs_writeback_uploading_files", nil, 1},
		{"swiftfs_writeback_failed_files", nil, 1},
		{"swiftfs_writeback_oldest_dirty_age_seconds", nil, 90},
		{"swiftfs_writeback_conflicts_total", nil, 1},
		{"swiftfs_build_info", []string{"version", "test"}, 1},
	}
	for _, c := range cases {
		got, ok := value(fams, c.fam, c.labels...)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(fams, "swiftfs_fuse_errors_total", "op", "write", "errno", "0"); ok {
		t.Error("successful requests counted as errors")
	}
	for _, std := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if fams[std] == nil {
			t.Errorf("standard metric %s missing", std)
		}
	}
	// Nothing dirty: the age is 0.
	stats.s.Dirty = nil
	if got, _ := value(scrape(t, s), "swiftfs_writeback_oldest_dirty_age_seconds"); got != 0 {
		t.Errorf("oldest dirty age with nothing dirty: %v, want 0", got)
	}
}

// TestRegistryIsPrivate: two mounts' metrics in one process do not mix,
// and nothing goes to the library's global registry.
func TestRegistryIsPrivate(t *testing.T) {
	a, b := New("a"), New("b")
	a.Sent(7)
	fams, err := b.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "swiftfs_swift_sent_bytes_total" && f.Metric[0].Counter.GetValue() != 0 {
			t.Error("b sees a's bytes")
		}
	}
	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range global {
		if strings.HasPrefix(f.GetName(), "swiftfs_") {
			t.Errorf("%s in the global registry", f.GetName())
		}
	}
}
