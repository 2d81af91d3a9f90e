package swiftclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swifttestproxy"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	requests map[string]int // "METHOD status" -> count
	sent     int64
	received int64
}

func (r *recorder) Request(method string, status int, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if latency < 0 {
		panic("negative latency")
	}
	r.requests[fmt.Sprintf("%s %d", method, status)]++
}
func (r *recorder) Sent(n int64)     { r.mu.Lock(); r.sent += n; r.mu.Unlock() }
func (r *recorder) Received(n int64) { r.mu.Lock(); r.received += n; r.mu.Unlock() }

// classCount adds up the requests of a "METHOD Nxx" class.
func classCount(m map[string]int, class string) int {
	n := 0
	for k, v := range m {
		if len(k) == len(class) && k[:len(k)-2] == class[:len(class)-2] {
			n += v
		}
	}
	return n
}

func (r *recorder) snapshot() (map[string]int, int64, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for k, v := range r.requests {
		m[k] = v
	}
	return m, r.sent, r.received
}

// TestObserverSeesEveryRequest: each operation's requests reach the
// observer with their method and status, and body bytes are counted both
// ways.
func TestObserverSeesEveryRequest(t *testing.T) {
	authURL := startSwifttest(t, "observed")
	rec := &recorder{requests: map[string]int{}}
	c, err := swiftclient.New(t.Context(), swiftclient.Options{
		Container: "observed",
		Auth:      swiftclient.Auth{URL: authURL, User: swifttestproxy.User, Password: swiftclient.Secret(swifttestproxy.Key)},
		Getenv:    noEnv,
		Observer:  rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := rec.snapshot()
	if before["GET 200"]+before["GET 204"]+before["HEAD 204"]+before["HEAD 200"] == 0 {
		t.Errorf("authentication and the container check were not observed: %v", before)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	steps := []struct {
		name string
		do   func() error
		want string // the request it adds: method and status class
	}{
		{"put", func() error {
			_, err := c.Put(t.Context(), "a", bytes.NewReader(data), int64(len(data)), swiftclient.PutOptions{})
			return err
		}, "PUT 2xx"},
		{"get", func() error {
			rc, _, err := c.Get(t.Context(), "a", 0, -1)
			if err != nil {
				return err
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(b, data) {
				err = errors.New("wrong content")
			}
			return err
		}, "GET 2xx"},
		{"stat missing", func() error {
			_, err := c.Stat(t.Context(), "missing")
			if !errors.Is(err, swiftclient.ErrNotFound) {
				return fmt.Errorf("want ErrNotFound, got %v", err)
			}
			return nil
		}, "HEAD 4xx"},
		{"delete", func() error { return c.Delete(t.Context(), "a", swiftclient.DeleteOptions{}) }, "DELETE 2xx"},
	}
	for _, s := range steps {
		was, sentWas, recvWas := rec.snapshot()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		now, sent, recv := rec.snapshot()
		if n, w := classCount(now, s.want), classCount(was, s.want)+1; n != w {
			t.Errorf("%s: %q observed %d times, want %d (all: %v)", s.name, s.want, n, w, now)
		}
		switch s.name {
		case "put":
			if sent-sentWas != int64(len(data)) {
				t.Errorf("put: %d bytes sent observed, want %d", sent-sentWas, len(data))
			}
		case "get":
			if recv-recvWas != int64(len(data)) {
				t.Errorf("get: %d bytes received observed, want %d", recv-recvWas, len(data))
			}
		}
	}
}
