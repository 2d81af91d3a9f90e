// Package swifttestproxy runs ncw/swift's in-process swifttest server
// behind a small proxy that makes it answer as OpenStack Swift does where
// swiftfs's code paths depend on it. For tests only (the unit tests of
// swiftclient and the swifttest tier of test/integration); a real Swift is
// the proof, this is the fast stand-in.
//
// What the proxy changes:
//
//   - ranged GETs: swifttest answers 200 with the partial body, without
//     Content-Range (a client takes it for the whole object), and panics on
//     a range past the end; the proxy answers 206 with Content-Range,
//     clamps the range, and answers 416 with "Content-Range: bytes */size"
//     past the end, as Swift does;
//   - POST of a missing object: swifttest panics; the proxy answers 404;
//   - PUT with "If-None-Match: *" of an existing object: swifttest ignores
//     the header; the proxy answers 412 (atomic here: requests are served
//     one at a time);
//   - every answer gets an X-Trans-Id;
//   - requests are served one at a time (swifttest has data races between
//     concurrent requests on one container); with Options.ConcurrentBodies
//     only up to their answer's headers, and GET bodies then stream
//     concurrently (parallel ranged downloads; not for -race builds).
package swifttestproxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ncw/swift/v2"
	"github.com/ncw/swift/v2/swifttest"
)

// User and Key are the credentials of the server's one account.
var (
	User = swifttest.TEST_ACCOUNT
	Key  = swifttest.TEST_ACCOUNT
)

// Server is a swifttest server behind the proxy.
type Server struct {
	// AuthURL is the v1 auth URL (ST_AUTH) of the proxy.
	AuthURL string
	srv     *swifttest.SwiftServer
	ps      *httptest.Server
}

// Options configure Start.
type Options struct {
	Containers       []string // created at start
	ConcurrentBodies bool     // GET bodies stream while other requests are served
}

// Start starts a server.
func Start(opts Options) (*Server, error) {
	srv, err := swifttest.NewSwiftServer("127.0.0.1")
	if err != nil {
		return nil, err
	}
	conn := &swift.Connection{UserName: User, ApiKey: Key, AuthUrl: srv.AuthURL}
	for _, c := range opts.Containers {
		if err := conn.ContainerCreate(context.Background(), c, nil); err != nil {
			srv.Close()
			return nil, err
		}
	}
	up, err := url.Parse(srv.URL)
	if err != nil {
		srv.Close()
		return nil, err
	}
	p := &proxy{up: up, concurrent: opts.ConcurrentBodies}
	ps := httptest.NewServer(p)
	p.self = ps.URL
	return &Server{AuthURL: ps.URL + "/v1.0", srv: srv, ps: ps}, nil
}

// Close stops the proxy and the server.
func (s *Server) Close() {
	s.ps.Close()
	s.srv.Close()
}

type proxy struct {
	up         *url.URL
	self       string
	concurrent bool
	mu         sync.Mutex
	txn        atomic.Int64
}

var objectPath = regexp.MustCompile(`^/v1/[^/]+/[^/]+/.+`)

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			p.mu.Unlock()
		}
	}
	defer unlock()
	txn := fmt.Sprintf("tx%06d-swifttest", p.txn.Add(1))
	// Set for early answers here, and in ModifyResponse for proxied ones
	// (ReverseProxy clears the header map after a 100 Continue).
	w.Header().Set("X-Trans-Id", txn)
	isObject := objectPath.MatchString(r.URL.Path)

	if isObject && r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*" {
		if st, _ := p.head(r); st == http.StatusOK {
			http.Error(w, "Precondition Failed", http.StatusPreconditionFailed)
			return
		}
	}
	var first, last, size int64 = -1, -1, -1
	if isObject && (r.Method == http.MethodPost || (r.Method == http.MethodGet && r.Header.Get("Range") != "")) {
		st, n := p.head(r)
		if r.Method == http.MethodPost && st == http.StatusNotFound {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		if r.Method == http.MethodGet && st == http.StatusOK {
			size = n
			f, l, ok := ParseRange(r.Header.Get("Range"))
			if ok && f >= size {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				http.Error(w, "Requested Range Not Satisfiable", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			if ok {
				if l < 0 || l >= size {
					l = size - 1
				}
				first, last = f, l
				r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
			}
		}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = p.up.Scheme
			pr.Out.URL.Host = p.up.Host
			pr.Out.Host = p.up.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Trans-Id", txn)
			if su := resp.Header.Get("X-Storage-Url"); su != "" {
				resp.Header.Set("X-Storage-Url", strings.Replace(su, p.up.Scheme+"://"+p.up.Host, p.self, 1))
			}
			if first >= 0 && resp.StatusCode == http.StatusOK {
				resp.StatusCode = http.StatusPartialContent
				resp.Status = "206 Partial Content"
				resp.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
			}
			if p.concurrent && r.Method == http.MethodGet {
				unlock() // the body streams while other requests go on
			}
			return nil
		},
		FlushInterval: -1,
	}
	rp.ServeHTTP(w, r)
}

// head asks swifttest for the object's status and size.
func (p *proxy) head(r *http.Request) (int, int64) {
	u := *p.up
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	req, err := http.NewRequestWithContext(r.Context(), http.MethodHead, u.String(), nil)
	if err != nil {
		return 0, 0
	}
	req.Header.Set("X-Auth-Token", r.Header.Get("X-Auth-Token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0
	}
	resp.Body.Close()
	n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return resp.StatusCode, n
}

// ParseRange reads "bytes=first-" or "bytes=first-last" (last -1 when
// open).
func ParseRange(v string) (first, last int64, ok bool) {
	v, found := strings.CutPrefix(v, "bytes=")
	if !found {
		return 0, 0, false
	}
	f, l, found := strings.Cut(v, "-")
	if !found || f == "" {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	last = -1
	if l != "" {
		if last, err = strconv.ParseInt(l, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return first, last, true
}
