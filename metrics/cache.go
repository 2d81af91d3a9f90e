package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiftfs/swiftfs/cache"
)

// cacheCollector turns one cache.Stats, taken at each scrape, into the
// cache and write-back metrics: the cache keeps the counts (as it does for
// `swiftfs status`), nothing is counted twice.
type cacheCollector struct {
	src StatsSource
	now func() time.Time
}

type cacheMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(s *cache.Stats, now time.Time) float64
}

func newCacheMetric(name, help string, kind prometheus.ValueType, value func(s *cache.Stats, now time.Time) float64) cacheMetric {
	return cacheMetric{prometheus.NewDesc(name, help, nil, nil), kind, value}
}

var cacheMetrics = []cacheMetric{
	newCacheMetric("swiftfs_cache_hits_total", "Opens served by a copy already in the cache.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.Hits) }),
	newCacheMetric("swiftfs_cache_misses_total", "Opens that found no usable copy in the cache (downloads and new files).", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.Misses) }),
	newCacheMetric("swiftfs_cache_hit_bytes_total", "Sizes of the objects opened from the cache.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.HitBytes) }),
	newCacheMetric("swiftfs_cache_miss_bytes_total", "Sizes of the objects downloaded for an open.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.MissBytes) }),
	newCacheMetric("swiftfs_cache_used_bytes", "Bytes charged to the cache budget (clean, dirty and in-flight data).", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.UsedBytes) }),
	newCacheMetric("swiftfs_cache_budget_bytes", "The cache budget (--cache-size).", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.MaxBytes) }),
	newCacheMetric("swiftfs_cache_entries", "Objects in the cache.", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.Entries) }),
	newCacheMetric("swiftfs_cache_dirty_files", "Files not yet uploaded (open, queued, uploading or failed).", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(len(s.Dirty)) }),
	newCacheMetric("swiftfs_cache_dirty_bytes", "Bytes of the files not yet uploaded.", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.DirtyBytes) }),
	newCacheMetric("swiftfs_writeback_queued_files", "Dirty files closed and waiting for their upload (the write-back delay or a retry).", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.QueueLen) }),
	newCacheMetric("swiftfs_writeback_uploading_files", "Files being uploaded.", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.Uploading) }),
	newCacheMetric("swiftfs_writeback_failed_files", "Files whose last upload failed (retried; swiftfs status tells why).", prometheus.GaugeValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.Failed) }),
	newCacheMetric("swiftfs_writeback_oldest_dirty_age_seconds", "How long the oldest dirty file has been dirty (0: none).", prometheus.GaugeValue,
		oldestDirtyAge),
	newCacheMetric("swiftfs_writeback_conflicts_total", "Uploads diverted to a conflict copy because another client changed the object.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.ConflictsTotal) }),
	newCacheMetric("swiftfs_prefetch_started_total", "Small files downloaded ahead of a reader opening a directory's files in listing order.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.Prefetched) }),
	newCacheMetric("swiftfs_prefetch_hits_total", "Prefetched copies that were opened.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.PrefetchHits) }),
	newCacheMetric("swiftfs_prefetch_wasted_total", "Prefetched copies dropped without being opened.", prometheus.CounterValue,
		func(s *cache.Stats, _ time.Time) float64 { return float64(s.PrefetchWasted) }),
}

func oldestDirtyAge(s *cache.Stats, now time.Time) float64 {
	var oldest time.Time
	for _, f := range s.Dirty {
		if !f.Since.IsZero() && (oldest.IsZero() || f.Since.Before(oldest)) {
			oldest = f.Since
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(0, now.Sub(oldest).Seconds())
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range cacheMetrics {
		ch <- m.desc
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	now := c.now()
	for _, m := range cacheMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&s, now))
	}
}
