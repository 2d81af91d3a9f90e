package swiftclient

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}
func (nopObserver) Sent(int64)                         {}
func (nopObserver) Received(int64)                     {}

// blockingTransport answers nothing until the request's context is done.
type blockingTransport struct{ started chan struct{} }

func (b blockingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	close(b.started)
	<-req.Context().Done()
	return nil, req.Context().Err()
}

// TestObservedTransportCancelRequest: ncw/swift cancels a request that
// timed out with CancelRequest on the request it made; the copy the
// observing transport sent on must stop, and be forgotten.
func TestObservedTransportCancelRequest(t *testing.T) {
	inner := blockingTransport{started: make(chan struct{})}
	tr := observeTransport(inner, nopObserver{})
	req, err := http.NewRequest("PUT", "http://127.0.0.1:1/x", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := tr.RoundTrip(req); errc <- err }()
	<-inner.started
	tr.CancelRequest(req)
	if err := <-errc; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	tr.mu.Lock()
	n := len(tr.cancels)
	tr.mu.Unlock()
	if n != 0 {
		t.Errorf("%d requests still remembered after the round trip failed", n)
	}
}
