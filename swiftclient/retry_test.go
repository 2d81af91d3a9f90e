package swiftclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sleepRecorder is an injected sleeper that records the delays and returns
// at once.
type sleepRecorder struct{ delays []time.Duration }

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.delays = append(s.delays, d)
	return ctx.Err()
}

func testPolicy(attempts int, s *sleepRecorder) *retryPolicy {
	p := newRetryPolicy(attempts, slog.New(slog.DiscardHandler), s.sleep)
	p.jitter = func(d time.Duration) time.Duration { return d }
	p.now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	return p
}

func statusError(status int) error {
	return &Error{Kind: KindForStatus(status), Op: "test", Status: status, Err: fmt.Errorf("HTTP %d", status)}
}

func transportError(err error) error {
	return classify("test", "", &url.Error{Op: "Get", URL: "http://swift/x", Err: err}, nil, nil)
}

func TestRetryTable(t *testing.T) {
	const attempts = 3
	type want struct{ idempotent, nonIdempotent int } // attempts made
	retried, idemOnly, never := want{attempts, attempts}, want{attempts, 1}, want{1, 1}
	tests := []struct {
		name string
		err  error
		want want
	}{
		{"400 bad request", statusError(400), never},
		{"401 after ncw's re-auth", statusError(401), never},
		{"403 forbidden", statusError(403), never},
		{"404 not found", statusError(404), never},
		{"408 timeout (also ncw's own)", statusError(408), idemOnly},
		{"409 conflict", statusError(409), never},
		{"412 precondition failed", statusError(412), never},
		{"413 too large", statusError(413), never},
		{"416 range", statusError(416), never},
		{"422 corrupted", statusError(422), never},
		{"429 too many requests", statusError(429), retried},
		{"498 Swift rate limit", statusError(498), retried},
		{"500 internal error", statusError(500), idemOnly},
		{"501 not implemented", statusError(501), never},
		{"502 bad gateway", statusError(502), idemOnly},
		{"503 unavailable", statusError(503), idemOnly},
		{"504 gateway timeout", statusError(504), idemOnly},
		{"507 insufficient storage", statusError(507), never},
		{"connection refused", transportError(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), retried},
		{"connection reset", transportError(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), idemOnly},
		{"EOF", transportError(io.EOF), idemOnly},
		{"unexpected EOF", transportError(io.ErrUnexpectedEOF), idemOnly},
		{"context canceled", transportError(context.Canceled), never},
		{"deadline exceeded", transportError(context.DeadlineExceeded), never},
		{"bad certificate", transportError(x509.UnknownAuthorityError{}), never},
		{"short body", classify("put", "x", &url.Error{Op: "Put", URL: "u", Err: &bodyError{errShortBody}}, nil, nil), never},
		{"not a swiftclient error", errors.New("boom"), never},
	}
	for _, tc := range tests {
		for _, idem := range []bool{true, false} {
			s := &sleepRecorder{}
			n := 0
			err := testPolicy(attempts, s).run(context.Background(), "test", "obj", idem, func(context.Context) (map[string]string, error) {
				n++
				return nil, tc.err
			})
			want := tc.want.idempotent
			if !idem {
				want = tc.want.nonIdempotent
			}
			if n != want {
				t.Errorf("%s (idempotent %v): got %d attempts, want %d", tc.name, idem, n, want)
			}
			if KindOf(err) != KindOf(tc.err) {
				t.Errorf("%s: returned kind %v, want %v", tc.name, KindOf(err), KindOf(tc.err))
			}
			if len(s.delays) != n-1 {
				t.Errorf("%s: slept %d times for %d attempts", tc.name, len(s.delays), n)
			}
		}
	}
}

func TestRetrySucceedsAfterTransientFailures(t *testing.T) {
	s := &sleepRecorder{}
	n := 0
	err := testPolicy(5, s).run(context.Background(), "stat", "obj", true, func(context.Context) (map[string]string, error) {
		n++
		if n < 3 {
			return nil, statusError(503)
		}
		return nil, nil
	})
	if err != nil || n != 3 {
		t.Errorf("got err %v after %d attempts, want success after 3", err, n)
	}
}

func TestRetryBackoffGrowsToCap(t *testing.T) {
	s := &sleepRecorder{}
	err := testPolicy(8, s).run(context.Background(), "stat", "obj", true, func(context.Context) (map[string]string, error) {
		return nil, statusError(500)
	})
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		10 * time.Second, 10 * time.Second}
	if !slices.Equal(s.delays, want) {
		t.Errorf("delays %v, want %v", s.delays, want)
	}
	if err == nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if got := err.Error(); !strings.Contains(got, "gave up after 8 attempts") {
		t.Errorf("error %q does not say how many attempts were made", got)
	}
}

func TestEqualJitter(t *testing.T) {
	for range 1000 {
		d := equalJitter(time.Second)
		if d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("equalJitter(1s) = %v, want within [0.5s, 1s]", d)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		status int
		want   []time.Duration // sleeps before the second attempt succeeds
		fails  bool            // no retry at all
	}{
		{"7", 503, []time.Duration{7 * time.Second}, false},
		{"0", 429, []time.Duration{0}, false},
		{"1.5", 498, []time.Duration{1500 * time.Millisecond}, false},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 503, []time.Duration{30 * time.Second}, false},
		{now.Add(-time.Minute).Format(http.TimeFormat), 503, []time.Duration{0}, false},
		{"soon", 503, []time.Duration{500 * time.Millisecond}, false}, // unparsable: back-off
		{"3600", 503, nil, true}, // longer than we wait
	}
	for _, tc := range tests {
		s := &sleepRecorder{}
		n := 0
		err := testPolicy(5, s).run(context.Background(), "stat", "obj", true, func(context.Context) (map[string]string, error) {
			n++
			if n == 1 {
				return map[string]string{"Retry-After": tc.header}, statusError(tc.status)
			}
			return nil, nil
		})
		if tc.fails {
			if err == nil || n != 1 {
				t.Errorf("Retry-After %q: got err %v after %d attempts, want failure after 1", tc.header, err, n)
			}
			continue
		}
		if err != nil || !slices.Equal(s.delays, tc.want) {
			t.Errorf("Retry-After %q: err %v, slept %v, want %v", tc.header, err, s.delays, tc.want)
		}
	}
}

func TestRetryWaitStopsOnCancel(t *testing.T) {
	p := testPolicy(5, &sleepRecorder{})
	p.sleep = sleepContext // the real, context-aware sleeper
	p.base, p.max = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	n := 0
	err := p.run(ctx, "stat", "obj", true, func(context.Context) (map[string]string, error) {
		n++
		return nil, statusError(503)
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("run took %v after cancel, want it to stop waiting at once", d)
	}
	if n != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v after %d attempts, want the 503 (ErrUnavailable) wrapped with context.Canceled after 1", err, n)
	}
}

func TestRetryDoesNotStartWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	err := testPolicy(5, &sleepRecorder{}).run(ctx, "stat", "obj", true, func(context.Context) (map[string]string, error) {
		n++
		return nil, nil
	})
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v after %d attempts, want context.Canceled and no attempt", err, n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"12", 12 * time.Second, true},
		{" 3 ", 3 * time.Second, true},
		{"-1", 0, false},
		{"Wed, 25 Nov 2026 12:01:00 GMT", time.Minute, true},
		{"yesterday", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
