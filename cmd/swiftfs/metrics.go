package main

import (
	"log/slog"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/fs"
	"github.com/swiftfs/swiftfs/metrics"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// mountMetrics is what --metrics-addr adds to a mount; nil when it is off
// (every method then does nothing, and the observers are untyped nil, so
// that swiftclient and fs do not wrap anything).
type mountMetrics struct {
	m   *metrics.Metrics
	srv *metrics.Server
}

// startMetrics listens on addr (empty: no metrics) before anything is
// mounted, so that a taken port fails the mount at once.
func startMetrics(addr string, log *slog.Logger) (*mountMetrics, error) {
	if addr == "" {
		return nil, nil
	}
	m := metrics.New(version)
	srv, err := metrics.Serve(addr, m, log)
	if err != nil {
		return nil, err
	}
	return &mountMetrics{m: m, srv: srv}, nil
}

func (mm *mountMetrics) swiftObserver() swiftclient.Observer {
	if mm == nil {
		return nil
	}
	return mm.m
}

func (mm *mountMetrics) fuseObserver() fs.OpObserver {
	if mm == nil {
		return nil
	}
	return mm.m
}

func (mm *mountMetrics) setCache(c *cache.Cache) {
	if mm != nil {
		mm.m.SetCache(c, nil)
	}
}

// Close stops serving (last, after the uploads at unmount: a scrape
// during them shows the queue draining).
func (mm *mountMetrics) Close() {
	if mm != nil {
		mm.srv.Close()
	}
}
