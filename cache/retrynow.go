package cache

// RetryFailed brings the next attempt of every queued upload that failed
// transiently forward to now: cmd/swiftfs calls it when Swift answers
// again after an outage, so that the queue drains at once instead of
// after each entry's back-off (up to Options.RetryBackoffMax). Uploads
// that failed permanently (permanent) keep their Options.PermanentRetry.
func (c *Cache) RetryFailed() {
	w := c.wb
	w.mu.Lock()
	queued := make([]*Entry, 0, len(w.due))
	for e := range w.due {
		queued = append(queued, e)
	}
	w.mu.Unlock()
	var failed []*Entry
	for _, e := range queued {
		e.mu.Lock()
		if e.attempts > 0 && e.lastErr != nil && !permanent(e.lastErr) {
			failed = append(failed, e)
		}
		e.mu.Unlock()
	}
	now := c.opts.Now()
	w.mu.Lock()
	for _, e := range failed {
		if t, ok := w.due[e]; ok && t.After(now) {
			w.due[e] = now
		}
	}
	w.mu.Unlock()
	w.kick()
}
