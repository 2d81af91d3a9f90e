package cache

import (
	"testing"
	"time"
)

// RetryFailed brings a transiently failed upload's retry, due in an hour,
// forward to now; a permanent failure keeps its PermanentRetry.
func TestRetryFailed(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		uploaded bool
	}{
		{"transient 503", 503, true},
		{"permanent 403", 403, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t, func(o *Options) {
				o.RetryBackoff, o.RetryBackoffMax, o.PermanentRetry = time.Hour, time.Hour, time.Hour
			})
			ev.faults.add("put", "f", swiftErr("put", tc.status), 1)
			ev.create("f", []byte("data"))
			waitFor(t, "failed state", func() bool { return ev.c.Stats().Failed == 1 })
			ev.c.RetryFailed()
			if tc.uploaded {
				waitFor(t, "upload", func() bool { _, ok := ev.data("f"); return ok })
				return
			}
			time.Sleep(100 * time.Millisecond)
			if _, ok := ev.data("f"); ok || ev.faults.count("put") != 1 {
				t.Errorf("a permanent failure was retried at once (%d PUTs)", ev.faults.count("put"))
			}
		})
	}
}
