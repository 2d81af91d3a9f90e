package metrics

import (
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sys/unix"

	"github.com/swiftfs/swiftfs/cache"
)

// Metrics holds one mount's metrics in a registry of its own (not
// Prometheus's global default). It is the swiftclient.Observer and the
// fs.OpObserver of the mount; the cache's figures are read from
// cache.Stats at each scrape (SetCache). Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	swiftRequests *prometheus.CounterVec
	swiftLatency  *prometheus.HistogramVec
	swiftSent     prometheus.Counter
	swiftReceived prometheus.Counter

	fuseLatency *prometheus.HistogramVec
	fuseErrors  *prometheus.CounterVec
	// fuseOps caches fuseLatency's child per op (the hot path: every FUSE
	// request): op string -> prometheus.Observer.
	fuseOps sync.Map
}

// Buckets of the latency histograms, in seconds: FUSE requests answered
// from memory take microseconds, a request that waits for Swift up to a
// minute (Swift requests are timed to the answer's headers).
var (
	fuseBuckets  = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	swiftBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
)

// New makes the metrics of a mount, with the Go runtime's and the
// process's standard metrics (go_*, process_*) and swiftfs_build_info.
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		swiftRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swiftfs_swift_requests_total",
			Help: "HTTP requests to Swift and its auth service, by method and status code (0: no answer).",
		}, []string{"method", "code"}),
		swiftLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swiftfs_swift_request_duration_seconds",
			Help:    "Time from sending a Swift request to its answer's headers (a PUT's includes sending the body), by method.",
			Buckets: swiftBuckets,
		}, []string{"method"}),
		swiftSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiftfs_swift_sent_bytes_total",
			Help: "Request body bytes sent to Swift (uploads).",
		}),
		swiftReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiftfs_swift_received_bytes_total",
			Help: "Response body bytes received from Swift (downloads, listings).",
		}),
		fuseLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swiftfs_fuse_request_duration_seconds",
			Help:    "Time to answer a FUSE request, by operation (its _count is the number of requests).",
			Buckets: fuseBuckets,
		}, []string{"op"}),
		fuseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swiftfs_fuse_errors_total",
			Help: "FUSE requests answered with an error, by operation and errno (ENOENT of a lookup is the usual answer for a missing name).",
		}, []string{"op", "errno"}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "swiftfs_build_info",
		Help:        "Always 1; the label tells the swiftfs version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.swiftRequests, m.swiftLatency, m.swiftSent, m.swiftReceived,
		m.fuseLatency, m.fuseErrors, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the metrics are registered (for tests and the
// handler).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetCache adds the cache's figures, read from s.Stats at each scrape.
// now is the clock for the age of the oldest dirty file (time.Now when nil).
func (m *Metrics) SetCache(s StatsSource, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.reg.MustRegister(&cacheCollector{src: s, now: now})
}

// Request implements swiftclient.Observer.
func (m *Metrics) Request(method string, status int, latency time.Duration) {
	m.swiftRequests.WithLabelValues(method, strconv.Itoa(status)).Inc()
	m.swiftLatency.WithLabelValues(method).Observe(latency.Seconds())
}

// Sent implements swiftclient.Observer.
func (m *Metrics) Sent(n int64) { m.swiftSent.Add(float64(n)) }

// Received implements swiftclient.Observer.
func (m *Metrics) Received(n int64) { m.swiftReceived.Add(float64(n)) }

// FUSEOp implements fs.OpObserver.
func (m *Metrics) FUSEOp(op string, latency time.Duration, errno syscall.Errno) {
	o, ok := m.fuseOps.Load(op)
	if !ok {
		o, _ = m.fuseOps.LoadOrStore(op, m.fuseLatency.WithLabelValues(op))
	}
	o.(prometheus.Observer).Observe(latency.Seconds())
	if errno != 0 {
		m.fuseErrors.WithLabelValues(op, errnoName(errno)).Inc()
	}
}

// errnoName is the errno's symbolic name ("ENOENT"), or its number.
func errnoName(e syscall.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return strconv.Itoa(int(e))
}

// StatsSource is what the cache metrics are read from (*cache.Cache).
type StatsSource interface{ Stats() cache.Stats }
