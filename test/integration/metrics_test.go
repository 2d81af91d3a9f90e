//go:build integration && linux

package integration

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// docStep is one command of the example in docs/CONFIGURATION.md
// ("Metrics") and the output shown for it.
type docStep struct {
	cmd  string
	want []string
}

// metricsExample reads the console block of the Metrics section.
func metricsExample(t *testing.T) []docStep {
	t.Helper()
	b, err := os.ReadFile("../../docs/CONFIGURATION.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal("docs/CONFIGURATION.md has no Metrics section")
	}
	_, block, ok := strings.Cut(sec, "```console\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the Metrics section has no console block")
	}
	var steps []docStep
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			steps = append(steps, docStep{cmd: c})
		} else if len(steps) > 0 {
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, l)
		}
	}
	return steps
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type scrapeResult map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, addr string) scrapeResult {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return fams
}

// get sums the series of fam whose labels include the given name, value
// pairs: counter and gauge values, histogram counts.
func (s scrapeResult) get(fam string, labels ...string) float64 {
	f := s[fam]
	if f == nil {
		return 0
	}
	sum := 0.0
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
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// swiftOK sums the 2xx requests of a method.
func (s scrapeResult) swiftOK(method string) float64 {
	sum := 0.0
	for _, code := range []string{"200", "201", "202", "204", "206"} {
		sum += s.get("swiftfs_swift_requests_total", "method", method, "code", code)
	}
	return sum
}

// TestMetricsScrape runs the example of docs/CONFIGURATION.md ("Metrics")
// on a real mount, compares the output with the document's, then checks
// that the figures move as they should: PUTs and bytes sent by an upload,
// a miss and then a hit for a file read twice, FUSE requests and errors.
func TestMetricsScrape(t *testing.T) {
	container, c := newContainer(t)
	remote := strings.Repeat("r", 50000)
	putObject(t, c, "remote.bin", remote, "application/octet-stream")
	addr := freeAddr(t)
	steps := metricsExample(t)
	if len(steps) < 4 || !strings.HasPrefix(steps[0].cmd, "swiftfs mount ") {
		t.Fatalf("the example does not start with a mount: %+v", steps)
	}
	// The example's mount, in the foreground as every test's mount, with
	// our address and a budget to check.
	var flags []string
	args := strings.Fields(steps[0].cmd)
	for _, a := range args[2 : len(args)-2] { // then CONTAINER MOUNTPOINT
		switch a {
		case "--daemon":
		case "127.0.0.1:9100":
			flags = append(flags, addr)
		default:
			flags = append(flags, a)
		}
	}
	if !strings.Contains(strings.Join(flags, " "), "--metrics-addr "+addr) {
		t.Fatalf("the example's mount has no --metrics-addr 127.0.0.1:9100: %q", steps[0].cmd)
	}
	m := startMount(t, container, "", append(flags, "--cache-size", "1G")...)
	start := scrapeMetrics(t, addr)

	var dirty scrapeResult
	repl := strings.NewReplacer("/data/demo", m.dir, "127.0.0.1:9100", addr)
	for i, s := range steps[1:] {
		cmd := repl.Replace(s.cmd)
		if rest, ok := strings.CutPrefix(cmd, "swiftfs "); ok {
			cmd = binary + " " + rest
		}
		want := strings.Join(s.want, "\n")
		if backend == "swifttest" {
			want = strings.ReplaceAll(want, `code="201",method="PUT"`, `code="200",method="PUT"`) // swifttest answers PUTs 200
		}
		// The kernel closes files (FUSE release) after close(2) returned:
		// a scrape may come before the last one, so it is repeated until
		// the output matches or 10 s passed.
		var out []byte
		for deadline := time.Now().Add(10 * time.Second); ; {
			var err error
			out, err = exec.Command("bash", "-c", cmd).CombinedOutput()
			if err != nil && len(s.want) == 0 {
				t.Fatalf("step %d %q: %v\n%s\n%s", i+1, cmd, err, out, m.log.String())
			}
			if strings.TrimSpace(string(out)) == want || len(s.want) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("step %d %q printed\n%s\nwant (docs/CONFIGURATION.md)\n%s", i+1, s.cmd, got, want)
		}
		if strings.Contains(want, "swiftfs_writeback_queued_files") {
			dirty = scrapeMetrics(t, addr)
		}
	}
	synced := scrapeMetrics(t, addr)
	if dirty == nil {
		t.Fatal("the example has no scrape before the sync")
	}

	// Writing three files of 10,000 bytes and uploading them.
	checks := []struct {
		what      string
		got, want float64
	}{
		{"files created (FUSE create)", synced.get("swiftfs_fuse_request_duration_seconds", "op", "create") - start.get("swiftfs_fuse_request_duration_seconds", "op", "create"), 3},
		{"new files are misses", dirty.get("swiftfs_cache_misses_total") - start.get("swiftfs_cache_misses_total"), 3},
		{"new files download nothing", dirty.get("swiftfs_cache_miss_bytes_total") - start.get("swiftfs_cache_miss_bytes_total"), 0},
		{"PUT requests of the upload (all codes)", synced.get("swiftfs_swift_requests_total", "method", "PUT") - start.get("swiftfs_swift_requests_total", "method", "PUT"), 3},
		{"PUT latencies observed", synced.get("swiftfs_swift_request_duration_seconds", "method", "PUT") - start.get("swiftfs_swift_request_duration_seconds", "method", "PUT"), 3},
		{"bytes sent by the upload", synced.get("swiftfs_swift_sent_bytes_total") - start.get("swiftfs_swift_sent_bytes_total"), 30000},
		{"oldest dirty age after the sync", synced.get("swiftfs_writeback_oldest_dirty_age_seconds"), 0},
		{"cache budget", synced.get("swiftfs_cache_budget_bytes"), 1 << 30},
		{"build info", synced.get("swiftfs_build_info"), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	atLeast := []struct {
		what      string
		got, want float64
	}{
		{"oldest dirty age before the sync", dirty.get("swiftfs_writeback_oldest_dirty_age_seconds"), 1e-9},
		{"cache used bytes", synced.get("swiftfs_cache_used_bytes"), 30000},
		{"cache entries", synced.get("swiftfs_cache_entries"), 3},
		{"FUSE writes", synced.get("swiftfs_fuse_request_duration_seconds", "op", "write") - start.get("swiftfs_fuse_request_duration_seconds", "op", "write"), 3},
		{"FUSE flushes", synced.get("swiftfs_fuse_request_duration_seconds", "op", "flush") - start.get("swiftfs_fuse_request_duration_seconds", "op", "flush"), 3},
		{"FUSE releases", synced.get("swiftfs_fuse_request_duration_seconds", "op", "release") - start.get("swiftfs_fuse_request_duration_seconds", "op", "release"), 3},
		{"authentication and container check before the first scrape", start.get("swiftfs_swift_requests_total"), 2},
	}
	for _, c := range atLeast {
		if c.got < c.want {
			t.Errorf("%s: %v, want at least %v", c.what, c.got, c.want)
		}
	}

	// A file read twice: a download (miss) first, then the cached copy (hit).
	before := synced
	var reads []scrapeResult
	for range 2 {
		b, err := os.ReadFile(m.path("remote.bin"))
		if err != nil || string(b) != remote {
			t.Fatalf("reading remote.bin: %v (%d bytes)", err, len(b))
		}
		reads = append(reads, scrapeMetrics(t, addr))
	}
	first, second := reads[0], reads[1]
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"first read: misses", first.get("swiftfs_cache_misses_total") - before.get("swiftfs_cache_misses_total"), 1},
		{"first read: miss bytes", first.get("swiftfs_cache_miss_bytes_total") - before.get("swiftfs_cache_miss_bytes_total"), 50000},
		{"first read: hits", first.get("swiftfs_cache_hits_total") - before.get("swiftfs_cache_hits_total"), 0},
		{"second read: misses", second.get("swiftfs_cache_misses_total") - first.get("swiftfs_cache_misses_total"), 0},
		{"second read: hits", second.get("swiftfs_cache_hits_total") - first.get("swiftfs_cache_hits_total"), 1},
		{"second read: hit bytes", second.get("swiftfs_cache_hit_bytes_total") - first.get("swiftfs_cache_hit_bytes_total"), 50000},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := first.swiftOK("GET") - before.swiftOK("GET"); n < 1 {
		t.Errorf("first read: %v successful GETs, want at least 1", n)
	}
	if n := first.get("swiftfs_swift_received_bytes_total") - before.get("swiftfs_swift_received_bytes_total"); n < 50000 {
		t.Errorf("first read: %v bytes received, want at least 50000", n)
	}
	if n := first.get("swiftfs_fuse_request_duration_seconds", "op", "read") - before.get("swiftfs_fuse_request_duration_seconds", "op", "read"); n < 1 {
		t.Errorf("first read: %v FUSE reads, want at least 1", n)
	}

	// A missing name: an ENOENT answer to a lookup, counted as an error.
	if _, err := os.Stat(m.path("no-such-file")); !os.IsNotExist(err) {
		t.Fatalf("stat of a missing file: %v", err)
	}
	after := scrapeMetrics(t, addr)
	if n := after.get("swiftfs_fuse_errors_total", "op", "lookup", "errno", "ENOENT") - second.get("swiftfs_fuse_errors_total", "op", "lookup", "errno", "ENOENT"); n < 1 {
		t.Errorf("lookup ENOENT errors: grew by %v, want at least 1", n)
	}
	if n := after.get("swiftfs_fuse_errors_total", "errno", "EIO"); n != 0 {
		t.Errorf("%v EIO answers", n)
	}
	m.stop() // m.log is complete once the daemon stopped
	if !strings.Contains(m.log.String(), `msg="serving metrics" url=http://`+addr+"/metrics") {
		t.Errorf("the log does not say where the metrics are served:\n%s", m.log.String())
	}
}
