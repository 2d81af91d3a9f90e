package swiftclient

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Observer is told about every HTTP request the client sends: each retry,
// each re-authentication and each authentication request (to Swift's auth
// or Keystone) is a request of its own. It is how swiftfs counts requests
// for its metrics without this package knowing of them. Its methods are
// called from many goroutines at once and must be quick.
type Observer interface {
	// Request reports one request whose answer's headers arrived (status
	// is the HTTP status) or that failed without an answer (status 0),
	// with the time from sending it to that moment. For a PUT that time
	// includes sending the body.
	Request(method string, status int, latency time.Duration)
	// Sent and Received report body bytes as they are sent and received
	// (request and response bodies; headers are not counted).
	Sent(n int64)
	Received(n int64)
}

// observedTransport reports every request through it to an Observer.
//
// ncw/swift stops a request that timed out by calling CancelRequest on
// its Transport with the request it sent. A request with a body goes on
// with a copy (carrying the counting body), so CancelRequest cancels the
// copy's context instead, for any inner RoundTripper; the copy is
// forgotten when its response body is closed or its round trip failed.
type observedTransport struct {
	next http.RoundTripper
	obs  Observer

	mu      sync.Mutex
	cancels map[*http.Request]context.CancelFunc // GUARDED_BY(mu): requests given -> cancel of the copy sent
}

func observeTransport(next http.RoundTripper, obs Observer) *observedTransport {
	return &observedTransport{next: next, obs: obs, cancels: map[*http.Request]context.CancelFunc{}}
}

func (t *observedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	sent := req
	var done func()
	if req.Body != nil && req.Body != http.NoBody {
		ctx, cancel := context.WithCancel(req.Context())
		sent = req.WithContext(ctx)
		sent.Body = &countingReadCloser{rc: req.Body, count: t.obs.Sent}
		t.mu.Lock()
		t.cancels[req] = cancel
		t.mu.Unlock()
		done = func() {
			t.mu.Lock()
			delete(t.cancels, req)
			t.mu.Unlock()
			cancel()
		}
	}
	resp, err := t.next.RoundTrip(sent)
	if err != nil {
		t.obs.Request(req.Method, 0, time.Since(start))
		if done != nil {
			done()
		}
		return nil, err
	}
	t.obs.Request(req.Method, resp.StatusCode, time.Since(start))
	resp.Body = &countingReadCloser{rc: resp.Body, count: t.obs.Received, closed: done}
	return resp, nil
}

// CancelRequest cancels a request in flight (ncw/swift's timeouts).
func (t *observedTransport) CancelRequest(req *http.Request) {
	t.mu.Lock()
	cancel := t.cancels[req]
	t.mu.Unlock()
	if cancel != nil {
		cancel()
		return
	}
	if c, ok := t.next.(interface{ CancelRequest(*http.Request) }); ok {
		c.CancelRequest(req)
	}
}

// CloseIdleConnections passes on ncw/swift's flush after a failed
// authentication.
func (t *observedTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// countingReadCloser counts the bytes read through it; closed, when set,
// runs once at the first Close.
type countingReadCloser struct {
	rc     io.ReadCloser
	count  func(int64)
	once   sync.Once
	closed func()
}

func (r *countingReadCloser) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.count(int64(n))
	}
	return n, err
}

func (r *countingReadCloser) Close() error {
	err := r.rc.Close()
	if r.closed != nil {
		r.once.Do(r.closed)
	}
	return err
}
