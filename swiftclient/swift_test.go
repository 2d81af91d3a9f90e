package swiftclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncw/swift/v2"
	"github.com/ncw/swift/v2/swifttest"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftclienttest"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

// noEnv keeps the developer's OS_* and ST_* variables out of tests that
// must not use them.
func noEnv(string) string { return "" }

// Tier (i): the in-memory fake.
func TestConformanceFake(t *testing.T) {
	f := swiftfake.New()
	swiftclienttest.Run(t, func(*testing.T) swiftclient.Client { return f })
}

// swifttestCaps is what ncw/swift's swifttest server lacks.
var swifttestCaps = swiftclienttest.Caps{
	Backend:                 "swifttest",
	NoIfNoneMatch:           true,
	NoFreshMetadata:         true,
	MergesMeta:              true,
	StaleListingContentType: true,
	NoSLOListingSize:        true,
	NoSLODelete:             true,
}

// Tier (ii): the ncw/swift client against an in-process swifttest server.
func TestConformanceSwifttest(t *testing.T) {
	authURL := startSwifttest(t, "conformance")
	c, err := swiftclient.New(t.Context(), swiftclient.Options{
		Container: "conformance",
		Auth:      swiftclient.Auth{URL: authURL, User: swifttest.TEST_ACCOUNT, Password: swiftclient.Secret(swifttest.TEST_ACCOUNT)},
		Getenv:    noEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	swiftclienttest.RunCaps(t, swifttestCaps, func(*testing.T) swiftclient.Client { return c })
}

// Tier (iii): a real Swift, from the environment.
func TestConformanceRealSwift(t *testing.T) {
	if os.Getenv("SWIFTFS_TEST_REAL") != "1" {
		t.Skip("real Swift tier not enabled: set SWIFTFS_TEST_REAL=1 and ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/... " +
			"(optionally SWIFTFS_TEST_CONTAINER, default swiftfs-conformance), e.g. " +
			"SWIFTFS_TEST_REAL=1 ST_AUTH=http://127.0.0.1:8080/auth/v1.0 ST_USER=test:tester ST_KEY=testing go test ./swiftclient/...")
	}
	container := os.Getenv("SWIFTFS_TEST_CONTAINER")
	if container == "" {
		container = "swiftfs-conformance"
	}
	t.Logf("real Swift: %s", swiftclient.DescribeAuth(swiftclient.Options{Container: container}))
	ensureContainer(t, container)
	c, err := swiftclient.New(t.Context(), swiftclient.Options{Container: container})
	if err != nil {
		t.Fatal(err)
	}
	swiftclienttest.Run(t, func(*testing.T) swiftclient.Client { return c })
}

// ensureContainer creates the container with ncw/swift directly, from the
// environment.
func ensureContainer(t *testing.T, container string) {
	t.Helper()
	conn := &swift.Connection{}
	if err := conn.ApplyEnvironment(); err != nil {
		t.Fatal(err)
	}
	if conn.AuthVersion == 0 && os.Getenv("OS_IDENTITY_API_VERSION") == "3" {
		conn.AuthVersion = 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.ContainerCreate(ctx, container, nil); err != nil {
		t.Fatalf("creating container %q: %v", container, err)
	}
}

// startSwifttest starts a swifttest server with the given containers behind
// a fix-up proxy, and returns the proxy's auth URL.
func startSwifttest(t *testing.T, containers ...string) string {
	t.Helper()
	srv, err := swifttest.NewSwiftServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	conn := &swift.Connection{UserName: swifttest.TEST_ACCOUNT, ApiKey: swifttest.TEST_ACCOUNT, AuthUrl: srv.AuthURL}
	for _, c := range containers {
		if err := conn.ContainerCreate(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	up, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &swifttestProxy{up: up}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	p.self = ps.URL
	return ps.URL + "/v1.0"
}

// swifttestProxy sits between the client and swifttest and makes swifttest
// behave like Swift where the client's code paths depend on it:
//
//   - ranged GETs: swifttest answers 200 with the partial body, without
//     Content-Range, and panics on a range past the end; the proxy answers
//     206 with Content-Range, clamps the range, and answers 416 with
//     "Content-Range: bytes */size" past the end, as Swift does;
//   - POST of a missing object: swifttest panics; the proxy answers 404;
//   - every answer gets an X-Trans-Id;
//   - requests are served one at a time: swifttest has data races between
//     concurrent requests on one container.
type swifttestProxy struct {
	up   *url.URL
	self string
	mu   sync.Mutex
	txn  atomic.Int64
}

var objectPath = regexp.MustCompile(`^/v1/[^/]+/[^/]+/.+`)

func (p *swifttestProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	txn := fmt.Sprintf("tx%06d-swifttest", p.txn.Add(1))
	// Set for early answers here, and in ModifyResponse for proxied ones
	// (ReverseProxy clears the header map after a 100 Continue).
	w.Header().Set("X-Trans-Id", txn)
	isObject := objectPath.MatchString(r.URL.Path)

	var first, last, size int64 = -1, -1, -1
	if isObject && (r.Method == http.MethodPost || (r.Method == http.MethodGet && r.Header.Get("Range") != "")) {
		st, n := p.head(r)
		if r.Method == http.MethodPost && st == http.StatusNotFound {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		if r.Method == http.MethodGet && st == http.StatusOK {
			size = n
			var ok bool
			first, last, ok = parseRange(r.Header.Get("Range"))
			if ok && first >= size {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				http.Error(w, "Requested Range Not Satisfiable", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			if !ok {
				first = -1
			} else {
				if last < 0 || last >= size {
					last = size - 1
				}
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
			return nil
		},
	}
	rp.ServeHTTP(w, r)
}

// head asks swifttest for the object's status and size.
func (p *swifttestProxy) head(r *http.Request) (int, int64) {
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

// parseRange reads "bytes=first-" or "bytes=first-last" (last -1 when open).
func parseRange(v string) (first, last int64, ok bool) {
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
