package swiftclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file holds the one retry loop of swiftfs (style rule 8): fs and cache
// never retry a Client call.
//
// Layering with ncw/swift. Every request goes through
// swift.Connection.Call, which itself
//
//   - re-authenticates once on a 401 and resends the request; a request body
//     is rewound with Seek(0, io.SeekStart), which is why Put hands Call a
//     seekable body (see putBody). We set Connection.Retries to 1, the
//     smallest value it allows, so Call does exactly one re-authentication
//     per attempt of ours; a 401 that survives it is final
//     (ErrUnauthorized: the credentials themselves are rejected);
//   - resends a GET or HEAD once at once, without back-off, when the
//     transport fails (same Retries counter), so one attempt of ours may be
//     two GETs on the wire;
//   - proactively re-authenticates when a Keystone token has less than 60s
//     left.
//
// Everything else is retried here, with exponential back-off and jitter,
// honouring Retry-After, sleeping with the context so that cancellation stops
// the wait.

// retryClass says when an error may be retried.
type retryClass int

const (
	// noRetry: a definite answer (404, 412, 401 after re-authentication,
	// 422, ...) or a failure that repeating cannot fix.
	noRetry retryClass = iota
	// retryIdempotent: the request may or may not have been carried out, so
	// it is repeated only when repeating it is harmless.
	retryIdempotent
	// retryAlways: the server refused the request before doing anything
	// (or it never reached a server), so even a create-only PUT may be
	// repeated.
	retryAlways
)

// retryableStatus is the table of HTTP statuses worth retrying. Statuses not
// listed are final.
var retryableStatus = map[int]struct {
	class retryClass
	why   string
}{
	// 408: the server or, more often, ncw/swift's own timer (it reports
	// its ConnectTimeout/Timeout expiring as swift.TimeoutError, status
	// 408) gave up; the request may have been applied.
	408: {retryIdempotent, "request timeout"},
	// 429 and 498 (Swift's ratelimit middleware) refuse the request before
	// processing it. Honour Retry-After when sent.
	429: {retryAlways, "too many requests"},
	498: {retryAlways, "rate limited by Swift"},
	// 500: an unexpected proxy error, usually transient (a backend
	// restarting, a lost connection between proxy and object servers).
	500: {retryIdempotent, "internal server error"},
	// 502/504: a load balancer in front of the proxies lost its backend.
	502: {retryIdempotent, "bad gateway"},
	504: {retryIdempotent, "gateway timeout"},
	// 503: no quorum of storage nodes answered, or the proxy sheds load.
	// A PUT that got 503 may have reached some object servers.
	503: {retryIdempotent, "service unavailable"},
}

// classOf tells whether and when err (a *Error made by classify) may be
// retried, and a short reason for the log.
func classOf(err error) (retryClass, string) {
	var e *Error
	if !errors.As(err, &e) {
		return noRetry, ""
	}
	if e.Status != 0 {
		r, ok := retryableStatus[e.Status]
		if !ok {
			return noRetry, ""
		}
		return r.class, r.why
	}
	if e.Kind != ErrUnavailable || e.Err == nil {
		return noRetry, ""
	}
	// Transport errors (Status 0, ErrUnavailable).
	switch {
	case errors.Is(e.Err, context.Canceled), errors.Is(e.Err, context.DeadlineExceeded):
		return noRetry, ""
	case isCertificateError(e.Err):
		return noRetry, "" // a bad certificate stays bad
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		// Nothing was sent: nobody listens (a proxy restarting).
		return retryAlways, "connection refused"
	case errors.Is(e.Err, syscall.ECONNRESET):
		return retryIdempotent, "connection reset"
	}
	// EOF, unexpected EOF, broken pipe, DNS failures, dial timeouts: the
	// request may have been sent.
	return retryIdempotent, "transport error"
}

func isCertificateError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verify)
}

// mayHaveApplied reports whether a request that failed with err may
// nevertheless have been carried out by Swift.
func mayHaveApplied(err error) bool {
	c, _ := classOf(err)
	return c == retryIdempotent
}

// retryPolicy is the retry loop. It is immutable after construction and safe
// for concurrent use.
type retryPolicy struct {
	attempts      int           // at most this many attempts (1: no retries)
	base          time.Duration // first back-off; doubles each time
	max           time.Duration // back-off cap
	maxRetryAfter time.Duration // a longer Retry-After ends the retries
	sleep         func(ctx context.Context, d time.Duration) error
	jitter        func(d time.Duration) time.Duration
	now           func() time.Time
	log           *slog.Logger
	// health learns every outcome; while it says Swift is unreachable a
	// request makes one attempt only (health.go).
	health *Health
}

const (
	defaultBackoffBase   = 500 * time.Millisecond
	defaultBackoffMax    = 10 * time.Second
	defaultMaxRetryAfter = 60 * time.Second
)

func newRetryPolicy(attempts int, log *slog.Logger, sleep func(context.Context, time.Duration) error) *retryPolicy {
	if sleep == nil {
		sleep = sleepContext
	}
	return &retryPolicy{
		attempts:      max(attempts, 1),
		base:          defaultBackoffBase,
		max:           defaultBackoffMax,
		maxRetryAfter: defaultMaxRetryAfter,
		sleep:         sleep,
		jitter:        equalJitter,
		now:           time.Now,
		log:           log,
	}
}

// sleepContext sleeps for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// equalJitter picks a delay in [d/2, d], so that clients that failed
// together do not retry together, while still backing off.
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// backoff is the delay before attempt n+1 after n failed attempts.
func (p *retryPolicy) backoff(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	return p.jitter(min(d, p.max))
}

// parseRetryAfter reads a Retry-After header: delay-seconds (fractions
// accepted) or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 1e6 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// attemptFunc makes one attempt and returns the response headers (nil when
// there was no response) and an error made by classify.
type attemptFunc func(ctx context.Context) (map[string]string, error)

// run calls attempt until it succeeds, fails with an error that is not
// retried, or the attempts are used up. idempotent says whether repeating
// the request is harmless; if not, only errors where the request certainly
// was not carried out are retried. op and name label log lines and errors.
func (p *retryPolicy) run(ctx context.Context, op, name string, idempotent bool, attempt attemptFunc) error {
	attempts := p.attempts
	if p.health.Down() {
		attempts = 1
	}
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return &Error{Kind: ErrUnavailable, Op: op, Name: name, Err: err}
		}
		h, err := attempt(ctx)
		if err == nil {
			p.health.observe(nil, false)
			return nil
		}
		class, why := classOf(err)
		if class == noRetry || (class == retryIdempotent && !idempotent) {
			p.health.observe(err, class == noRetry)
			return err
		}
		if n >= attempts {
			p.health.observe(err, true)
			return gaveUp(err, n)
		}
		delay := p.backoff(n)
		if ra, ok := parseRetryAfter(h["Retry-After"], p.now()); ok {
			if ra > p.maxRetryAfter {
				p.health.observe(err, true)
				return gaveUp(err, n)
			}
			delay = ra
		}
		var e *Error
		errors.As(err, &e)
		p.log.Info("swift request failed; retrying",
			"op", op, "object", name, "reason", why, "status", e.Status, "req", e.TransID,
			"attempt", n, "delay", delay, "err", e.Err)
		if serr := p.sleep(ctx, delay); serr != nil {
			w := *e
			w.Err = fmt.Errorf("%w (while waiting to retry: %w)", serr, e.Err)
			return &w
		}
	}
}

// gaveUp notes the number of attempts in the error.
func gaveUp(err error, n int) error {
	var e *Error
	if n <= 1 || !errors.As(err, &e) {
		return err
	}
	w := *e
	w.Err = fmt.Errorf("gave up after %d attempts: %w", n, e.Err)
	return &w
}
