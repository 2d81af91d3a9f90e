package swiftclient

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Health is the one place that knows whether Swift answers: every request
// of a Client made by New reports its outcome here (from the retry loop,
// retry.go), and fs and cmd/swiftfs read it.
//
// Swift becomes unreachable when a request gave up after all its attempts
// on a failure that is retried (5xx, 408, a refused or broken connection,
// a timeout): that is, after the whole back-off (see doc.go, Retries and
// idempotency) found no working Swift. It becomes reachable again with the
// first answer that is not such a failure (any 2xx, 3xx or 4xx: a 404 is
// an answer). Rate limiting (429, 498) and cancelled requests say nothing
// either way. One WARN line is logged when Swift becomes unreachable and
// one INFO line when it answers again.
//
// While Swift is unreachable every request makes a single attempt (no
// back-off): each one fails within one ConnectTimeout (less when the
// connection is refused or the proxy answers 5xx), so that callers that
// can do without Swift (a cached listing, a queued upload) learn it at
// once, and the first request that gets an answer ends the outage.
//
// A nil *Health is valid: it is always reachable and records nothing.
type Health struct {
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	downSince time.Time // GUARDED_BY(mu); zero while reachable
	lastErr   string    // GUARDED_BY(mu); the last failure while unreachable
	onBack    func()    // GUARDED_BY(mu); see OnReachable
}

// OnReachable sets a function run (in its own goroutine) each time Swift
// answers again after being unreachable: cmd/swiftfs retries the queued
// uploads then.
func (h *Health) OnReachable(fn func()) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.onBack = fn
	h.mu.Unlock()
}

// HealthState is a snapshot of Health.
type HealthState struct {
	// Down is true while Swift is unreachable.
	Down bool `json:"down"`
	// Since is when the request that found Swift unreachable gave up.
	Since time.Time `json:"since,omitzero"`
	// Err is the last failure seen while unreachable.
	Err string `json:"err,omitempty"`
}

func newHealth(log *slog.Logger, now func() time.Time) *Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Health{log: log, now: now}
}

// HealthOf returns c's Health, or nil when c does not track one (fakes and
// wrappers in tests).
func HealthOf(c Client) *Health {
	if h, ok := c.(interface{ Health() *Health }); ok {
		return h.Health()
	}
	return nil
}

// Down reports whether Swift is unreachable now.
func (h *Health) Down() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.downSince.IsZero()
}

// State returns a snapshot.
func (h *Health) State() HealthState {
	if h == nil {
		return HealthState{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return HealthState{Down: !h.downSince.IsZero(), Since: h.downSince, Err: h.lastErr}
}

// answered records that Swift answered a request.
func (h *Health) answered() {
	if h == nil {
		return
	}
	h.mu.Lock()
	since, fn := h.downSince, h.onBack
	h.downSince, h.lastErr = time.Time{}, ""
	h.mu.Unlock()
	if !since.IsZero() {
		h.log.Info("swift reachable again", "unreachable_for", h.now().Sub(since).Round(time.Millisecond))
		if fn != nil {
			go fn()
		}
	}
}

// gaveUp records that a request found no working Swift.
func (h *Health) gaveUp(err error) {
	if h == nil {
		return
	}
	now := h.now()
	h.mu.Lock()
	first := h.downSince.IsZero()
	if first {
		h.downSince = now
	}
	h.lastErr = err.Error()
	h.mu.Unlock()
	if first {
		h.log.Warn("swift unreachable: serving cached listings and copies, queueing uploads; opening a file that is not cached fails with EIO",
			"err", err)
	}
}

// observe records the outcome of one attempt (err from classify) and
// whether the retry loop then gave up on it.
func (h *Health) observe(err error, gaveUp bool) {
	if h == nil {
		return
	}
	if err == nil {
		h.answered()
		return
	}
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrRateLimited) {
		return
	}
	if e.Kind != ErrUnavailable {
		if e.Status != 0 {
			h.answered() // a definite answer: Swift is there
		}
		return
	}
	if gaveUp {
		h.gaveUp(err)
	}
}
