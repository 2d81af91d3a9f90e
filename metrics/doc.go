// Package metrics exports a mount's figures in the Prometheus format
// (--metrics-addr; the list of metrics and what they mean is in
// docs/CONFIGURATION.md, "Metrics"). It is the only package that imports
// the Prometheus client library (scripts/check-imports.sh), and it keeps
// its own registry, not the library's global one.
//
// The other packages only offer narrow hooks and know nothing of
// Prometheus:
//
//   - swiftclient.Options.Observer sees every HTTP request (Request, Sent,
//     Received): requests by method and status, their latency, body bytes.
//   - fs.MountOptions.Observer sees every FUSE request answered (FUSEOp):
//     latency by op, errors by op and errno.
//   - cache.Stats, the snapshot `swiftfs status` shows, is read at each
//     scrape (a prometheus.Collector): hits, misses, budget, dirty files,
//     the write-back queue and conflicts. Nothing is counted twice.
//
// [Metrics] implements both observers. [Serve] serves its registry at
// /metrics; a bare ":PORT" listens on 127.0.0.1 only ([ListenAddr]).
package metrics
