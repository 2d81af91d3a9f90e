package swiftclient

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestHealth runs sequences of request outcomes through the retry loop and
// checks the reachability they leave, the attempts each request made, and
// the transition log lines.
func TestHealth(t *testing.T) {
	refused := transportError(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	type step struct {
		err      error // what every attempt of the request returns
		idem     bool
		attempts int  // attempts the request makes
		down     bool // unreachable afterwards
	}
	const attempts = 3
	tests := []struct {
		name  string
		steps []step
		logs  []string // substrings of the log, in order
	}{
		{"success keeps it reachable", []step{{nil, true, 1, false}}, nil},
		{"503 until the retries give up", []step{{statusError(503), true, attempts, true}, {statusError(503), true, 1, true}},
			[]string{"WARN", "swift unreachable"}},
		{"refused, then an answer", []step{{refused, true, attempts, true}, {refused, false, 1, true}, {statusError(404), true, 1, false}},
			[]string{"swift unreachable", "INFO", "swift reachable again"}},
		{"success ends the outage", []step{{statusError(502), true, attempts, true}, {nil, true, 1, false}, {statusError(502), true, attempts, true}},
			[]string{"swift unreachable", "swift reachable again", "swift unreachable"}},
		{"a non-idempotent 503 is not an outage", []step{{statusError(503), false, 1, false}}, nil},
		{"rate limiting is not an outage", []step{{statusError(429), true, attempts, false}}, nil},
		{"cancellation is not an outage", []step{{transportError(context.Canceled), true, 1, false}}, nil},
		{"a 401 is an answer", []step{{statusError(503), true, attempts, true}, {statusError(401), true, 1, false}},
			[]string{"swift unreachable", "swift reachable again"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			p := testPolicy(attempts, &sleepRecorder{})
			p.health = newHealth(log, nil)
			for i, s := range tc.steps {
				n := 0
				p.run(context.Background(), "test", "obj", s.idem, func(context.Context) (map[string]string, error) {
					n++
					return nil, s.err
				})
				if n != s.attempts {
					t.Errorf("step %d: %d attempts, want %d", i, n, s.attempts)
				}
				st := p.health.State()
				if st.Down != s.down || p.health.Down() != s.down {
					t.Errorf("step %d: down %v, want %v", i, st.Down, s.down)
				}
				if st.Down && (st.Since.IsZero() || st.Err == "") {
					t.Errorf("step %d: state %+v lacks since or err", i, st)
				}
			}
			out := buf.String()
			for _, l := range tc.logs {
				i := strings.Index(out, l)
				if i < 0 {
					t.Fatalf("log lacks %q (in order):\n%s", l, buf.String())
				}
				out = out[i+len(l):]
			}
			if tc.logs == nil && buf.Len() > 0 {
				t.Errorf("unexpected transition:\n%s", buf.String())
			}
		})
	}
}

func TestHealthNil(t *testing.T) {
	var h *Health
	h.observe(statusError(503), true)
	if h.Down() || h.State().Down {
		t.Error("a nil Health is down")
	}
	if HealthOf(nil) != nil {
		t.Error("HealthOf(nil) is not nil")
	}
}
