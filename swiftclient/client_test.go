package swiftclient

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncw/swift/v2"
	"github.com/ncw/swift/v2/swifttest"
)

// miniSwift is a scripted Swift for tests of what swifttest cannot do:
// expiring tokens, failures on demand, a Range it ignores. v1 auth as user
// "u" with key "k"; one container "c".
type miniSwift struct {
	srv *httptest.Server

	mu      sync.Mutex
	tokens  map[string]bool   // GUARDED_BY(mu): valid tokens
	nextTok int               // GUARDED_BY(mu)
	auths   int               // GUARDED_BY(mu): successful authentications
	objects map[string][]byte // GUARDED_BY(mu)
	calls   map[string]int    // GUARDED_BY(mu): requests by method
	txn     int               // GUARDED_BY(mu)
	// fail, when set, may answer a request instead (after the token check).
	fail func(w http.ResponseWriter, r *http.Request, body []byte) bool // GUARDED_BY(mu)
	// ignoreRange makes GET answer 200 with the whole object.
	ignoreRange bool // GUARDED_BY(mu)
}

func newMiniSwift(t *testing.T) *miniSwift {
	m := &miniSwift{tokens: map[string]bool{}, objects: map[string][]byte{}, calls: map[string]int{}}
	m.srv = httptest.NewServer(m)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *miniSwift) authURL() string { return m.srv.URL + "/auth/v1.0" }

// expireAll makes every token issued so far invalid.
func (m *miniSwift) expireAll() {
	m.mu.Lock()
	clear(m.tokens)
	m.mu.Unlock()
}

func (m *miniSwift) count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

func (m *miniSwift) setFail(f func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	m.mu.Lock()
	m.fail = f
	m.mu.Unlock()
}

func (m *miniSwift) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txn++
	w.Header().Set("X-Trans-Id", fmt.Sprintf("txmini%d", m.txn))
	if r.URL.Path == "/auth/v1.0" {
		if r.Header.Get("X-Auth-User") != "u" || r.Header.Get("X-Auth-Key") != "k" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		m.nextTok++
		m.auths++
		tok := fmt.Sprintf("AUTH_tk%d", m.nextTok)
		m.tokens[tok] = true
		w.Header().Set("X-Auth-Token", tok)
		w.Header().Set("X-Storage-Url", m.srv.URL+"/v1/AUTH_u")
		w.WriteHeader(http.StatusOK)
		return
	}
	m.calls[r.Method]++
	// Read the whole body before checking the token: the harshest case
	// for the client, which must then rewind the body to resend it.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if !m.tokens[r.Header.Get("X-Auth-Token")] {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	if m.fail != nil && m.fail(w, r, body) {
		return
	}
	name, isObject := strings.CutPrefix(r.URL.Path, "/v1/AUTH_u/c/")
	if !isObject {
		if r.URL.Path != "/v1/AUTH_u/c" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Container-Object-Count", strconv.Itoa(len(m.objects)))
		w.Header().Set("X-Container-Bytes-Used", "0")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch r.Method {
	case http.MethodPut:
		if r.ContentLength != int64(len(body)) {
			http.Error(w, "length mismatch", http.StatusBadRequest)
			return
		}
		sum := md5.Sum(body)
		etag := hex.EncodeToString(sum[:])
		if want := r.Header.Get("Etag"); want != "" && want != etag {
			http.Error(w, "Unprocessable Entity", http.StatusUnprocessableEntity)
			return
		}
		m.objects[name] = body
		w.Header().Set("Etag", etag)
		w.WriteHeader(http.StatusCreated)
	case http.MethodHead, http.MethodGet:
		data, ok := m.objects[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := md5.Sum(data)
		w.Header().Set("Etag", hex.EncodeToString(sum[:]))
		w.Header().Set("X-Timestamp", "1795631186.56705")
		w.Header().Set("Content-Type", "application/octet-stream")
		if rng := r.Header.Get("Range"); rng != "" && !m.ignoreRange && r.Method == http.MethodGet {
			var first, last int64
			if n, _ := fmt.Sscanf(rng, "bytes=%d-%d", &first, &last); n == 1 {
				last = int64(len(data)) - 1
			}
			last = min(last, int64(len(data))-1)
			if first >= int64(len(data)) {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
				http.Error(w, "Requested Range Not Satisfiable", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
			w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first : last+1])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(data)
		}
	case http.MethodDelete:
		if _, ok := m.objects[name]; !ok {
			http.NotFound(w, r)
			return
		}
		delete(m.objects, name)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "not implemented", http.StatusNotImplemented)
	}
}

// newTestClient connects to m with a recording sleeper.
func newTestClient(t *testing.T, m *miniSwift, s *sleepRecorder) *client {
	t.Helper()
	opts := Options{Container: "c", Auth: Auth{URL: m.authURL(), User: "u", Password: "k"}, Getenv: envMap()}
	if s != nil {
		opts.sleep = s.sleep
	}
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c.(*client)
}

// noReaderAt hides a body's ReadAt, to test the Seek+Read path.
type noReaderAt struct{ io.ReadSeeker }

func TestTokenExpiryDuringPut(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	sum := md5.Sum(data)
	md5hex := hex.EncodeToString(sum[:])
	file := filepath.Join(t.TempDir(), "cachefile")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body func(t *testing.T) io.ReadSeeker
		md5  string
	}{
		{"bytes.Reader with MD5", func(*testing.T) io.ReadSeeker { return bytes.NewReader(data) }, md5hex},
		{"bytes.Reader, MD5 computed while sending", func(*testing.T) io.ReadSeeker { return bytes.NewReader(data) }, ""},
		{"cache file", func(t *testing.T) io.ReadSeeker {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}, ""},
		{"seeker without ReadAt", func(*testing.T) io.ReadSeeker { return noReaderAt{bytes.NewReader(data)} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMiniSwift(t)
			c := newTestClient(t, m, &sleepRecorder{})
			m.expireAll() // the token New got is now refused
			info, err := c.Put(context.Background(), "obj", tc.body(t), int64(len(data)), PutOptions{MD5: tc.md5})
			if err != nil {
				t.Fatalf("Put after token expiry: %v", err)
			}
			if info.ETag != md5hex || info.Size != int64(len(data)) {
				t.Errorf("Put returned %+v", info)
			}
			m.mu.Lock()
			stored, auths := m.objects["obj"], m.auths
			m.mu.Unlock()
			if !bytes.Equal(stored, data) {
				t.Errorf("stored %d bytes, want the %d sent", len(stored), len(data))
			}
			if puts := m.count(http.MethodPut); puts != 2 || auths != 2 {
				t.Errorf("got %d PUTs and %d authentications, want 2 and 2 (refused, re-authenticated, resent)", puts, auths)
			}
		})
	}
}

func TestTokenExpiryDuringReads(t *testing.T) {
	m := newMiniSwift(t)
	c := newTestClient(t, m, nil)
	if _, err := c.Put(context.Background(), "obj", strings.NewReader("hello"), 5, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m.expireAll()
	if _, err := c.Stat(context.Background(), "obj"); err != nil {
		t.Errorf("Stat after token expiry: %v", err)
	}
	m.expireAll()
	rc, _, err := c.Get(context.Background(), "obj", 1, 3)
	if err != nil {
		t.Fatalf("Get after token expiry: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "ell" {
		t.Errorf("Get = %q, want %q", got, "ell")
	}
}

func TestWrongCredentialsAfterExpiry(t *testing.T) {
	m := newMiniSwift(t)
	c := newTestClient(t, m, &sleepRecorder{})
	c.conn.ApiKey = "changed" // as if the password was changed meanwhile
	m.expireAll()
	_, err := c.Stat(context.Background(), "obj")
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Stat with a rejected re-authentication: got %v, want ErrUnauthorized", err)
	}
}

func TestNewWrongCredentials(t *testing.T) {
	srv, err := swifttest.NewSwiftServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = New(context.Background(), Options{Container: "c", Getenv: envMap(),
		Auth: Auth{URL: srv.AuthURL, User: swifttest.TEST_ACCOUNT, Password: "wrong-password-123"}})
	want := fmt.Sprintf(`authentication failed for user %q at %s: wrong credentials`, swifttest.TEST_ACCOUNT, srv.AuthURL)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), want) {
		t.Errorf("New with a wrong password: got %v, want ErrUnauthorized saying %q", err, want)
	}
	if strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestNewMissingContainer(t *testing.T) {
	srv, err := swifttest.NewSwiftServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = New(context.Background(), Options{Container: "nope", Getenv: envMap(),
		Auth: Auth{URL: srv.AuthURL, User: swifttest.TEST_ACCOUNT, Password: Secret(swifttest.TEST_ACCOUNT)}})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `container "nope" does not exist`) {
		t.Errorf("New with a missing container: got %v", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens: connection refused
	start := time.Now()
	_, err = New(context.Background(), Options{Container: "c", Getenv: envMap(),
		Auth: Auth{URL: "http://" + addr + "/auth/v1.0", User: "u", Password: "k"}})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New took %v to give up on a closed port", d)
	}
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach auth URL http://"+addr) {
		t.Errorf("New with a closed port: got %v, want ErrUnavailable saying it cannot reach the auth URL", err)
	}
}

func TestNewTimesOut(t *testing.T) {
	// A server that accepts but never answers: New gives up at its cap.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	_, err := New(context.Background(), Options{Container: "c", Getenv: envMap(), newTimeout: 500 * time.Millisecond,
		Auth: Auth{URL: srv.URL + "/auth/v1.0", User: "u", Password: "k"}})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New took %v with a 500ms cap", d)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("New against a silent server: got %v, want ErrUnavailable", err)
	}
}

func TestNewAuthURLNotFound(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := New(context.Background(), Options{Container: "c", Getenv: envMap(),
		Auth: Auth{URL: srv.URL + "/auth/v1.0", User: "u", Password: "k"}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no auth service at") {
		t.Errorf("New with a wrong auth URL: got %v", err)
	}
}

func TestPreAuthenticatedToken(t *testing.T) {
	m := newMiniSwift(t)
	conn := &swift.Connection{UserName: "u", ApiKey: "k", AuthUrl: m.authURL()}
	if err := conn.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), Options{Container: "c",
		Getenv: envMap("OS_STORAGE_URL", conn.StorageUrl, "OS_AUTH_TOKEN", conn.AuthToken)})
	if err != nil {
		t.Fatalf("New with a token: %v", err)
	}
	if _, err := c.Put(context.Background(), "obj", strings.NewReader("x"), 1, PutOptions{}); err != nil {
		t.Errorf("Put with a token: %v", err)
	}
	m.expireAll()
	_, err = c.Stat(context.Background(), "obj")
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Stat with an expired token and no credentials: got %v, want ErrUnauthorized", err)
	}
	_, err = New(context.Background(), Options{Container: "c",
		Getenv: envMap("OS_STORAGE_URL", conn.StorageUrl, "OS_AUTH_TOKEN", conn.AuthToken)})
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "rejected the token from OS_AUTH_TOKEN") {
		t.Errorf("New with an expired token: got %v", err)
	}
}

func TestRetriesOverHTTP(t *testing.T) {
	m := newMiniSwift(t)
	s := &sleepRecorder{}
	c := newTestClient(t, m, s)
	ctx := context.Background()

	// Two 503s with Retry-After, then success.
	heads := 0
	m.setFail(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method == http.MethodHead && heads < 2 {
			heads++
			w.Header().Set("Retry-After", "2")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	if _, err := c.Put(ctx, "obj", strings.NewReader("data"), 4, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "obj"); err != nil {
		t.Errorf("Stat after two 503s: %v", err)
	}
	if fmt.Sprint(s.delays) != "[2s 2s]" {
		t.Errorf("slept %v, want [2s 2s] from Retry-After", s.delays)
	}

	// A PUT that fails once with 500 is resent whole.
	puts := 0
	m.setFail(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method == http.MethodPut && puts == 0 {
			puts++
			http.Error(w, "oops", http.StatusInternalServerError)
			return true
		}
		return false
	})
	data := bytes.Repeat([]byte("x"), 100000)
	if _, err := c.Put(ctx, "big", bytes.NewReader(data), int64(len(data)), PutOptions{}); err != nil {
		t.Errorf("Put after a 500: %v", err)
	}
	m.mu.Lock()
	stored := m.objects["big"]
	m.mu.Unlock()
	if !bytes.Equal(stored, data) {
		t.Errorf("after a retried Put: stored %d bytes, want %d", len(stored), len(data))
	}

	// A create-only PUT is not repeated after a 503 (it may have been
	// applied), but is after a 429.
	for _, tc := range []struct {
		status int
		want   int
	}{{503, 1}, {429, 2}} {
		n := 0
		m.setFail(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.Method == http.MethodPut {
				n++
				if n == 1 {
					http.Error(w, "no", tc.status)
					return true
				}
			}
			return false
		})
		_, err := c.Put(ctx, fmt.Sprint("create-", tc.status), strings.NewReader("x"), 1, PutOptions{IfNoneMatch: true})
		if n != tc.want {
			t.Errorf("IfNoneMatch Put after %d: %d attempts (err %v), want %d", tc.status, n, err, tc.want)
		}
	}

	// A 404 is final and carries the transaction id.
	m.setFail(nil)
	_, err := c.Stat(ctx, "missing")
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrNotFound || !strings.HasPrefix(e.TransID, "txmini") {
		t.Errorf("Stat of a missing object: %+v", err)
	}

	// A DELETE whose answer was lost, retried, finds the object gone:
	// success.
	dels := 0
	m.setFail(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method == http.MethodDelete && dels == 0 {
			dels++
			delete(m.objects, "obj") // done, but the answer is an error
			http.Error(w, "timeout", http.StatusGatewayTimeout)
			return true
		}
		return false
	})
	if err := c.Delete(ctx, "obj", DeleteOptions{}); err != nil {
		t.Errorf("Delete retried after a 504 that deleted: %v", err)
	}
}

func TestPutShortBody(t *testing.T) {
	m := newMiniSwift(t)
	c := newTestClient(t, m, &sleepRecorder{})
	_, err := c.Put(context.Background(), "obj", strings.NewReader("short"), 100, PutOptions{})
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, errShortBody) {
		t.Errorf("Put of a body shorter than its size: got %v, want ErrInvalid", err)
	}
	if n := m.count(http.MethodPut); n > 1 {
		t.Errorf("a short body was retried: %d PUTs", n)
	}
}

func TestGetWhenServerIgnoresRange(t *testing.T) {
	m := newMiniSwift(t)
	c := newTestClient(t, m, nil)
	ctx := context.Background()
	if _, err := c.Put(ctx, "obj", strings.NewReader("0123456789"), 10, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.ignoreRange = true
	m.mu.Unlock()
	for _, tc := range []struct {
		off, length int64
		want        string
	}{{2, 3, "234"}, {7, -1, "789"}, {10, 5, ""}} {
		rc, info, err := c.Get(ctx, "obj", tc.off, tc.length)
		if err != nil {
			t.Fatalf("Get(%d, %d): %v", tc.off, tc.length, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != tc.want || info.Size != 10 {
			t.Errorf("Get(%d, %d) = %q size %d, want %q size 10", tc.off, tc.length, got, info.Size, tc.want)
		}
	}
	if _, _, err := c.Get(ctx, "obj", 11, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("Get past the end: %v, want ErrInvalid", err)
	}
}

func TestParsers(t *testing.T) {
	if f, tot, ok := parseContentRange("bytes 2-4/5"); !ok || f != 2 || tot != 5 {
		t.Errorf("parseContentRange = %d %d %v", f, tot, ok)
	}
	for _, bad := range []string{"", "bytes */5", "bytes 1-2", "items 1-2/3"} {
		if _, _, ok := parseContentRange(bad); ok {
			t.Errorf("parseContentRange(%q) ok", bad)
		}
	}
	for _, tc := range []struct {
		in, ct string
		n      int64
		ok     bool
	}{
		{"application/octet-stream;swift_bytes=1048580", "application/octet-stream", 1048580, true},
		{"text/plain; charset=utf-8; swift_bytes=7", "text/plain; charset=utf-8", 7, true},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8", 0, false},
		{"", "", 0, false},
	} {
		ct, n, ok := splitSwiftBytes(tc.in)
		if ct != tc.ct || n != tc.n || ok != tc.ok {
			t.Errorf("splitSwiftBytes(%q) = %q %d %v, want %q %d %v", tc.in, ct, n, ok, tc.ct, tc.n, tc.ok)
		}
	}
	ts, ok := parseSwiftTimestamp("1795631186.56705")
	lt, err := parseListingTime("2026-11-25T18:26:26.567050")
	if !ok || err != nil || !ts.Equal(lt) {
		t.Errorf("X-Timestamp %v and listing time %v (err %v) differ; Swift gives both for one object", ts, lt, err)
	}
	if ts, ok := parseSwiftTimestamp("1795631186.56705_0000000000000001"); !ok || ts.Nanosecond() != 567050000 {
		t.Errorf("parseSwiftTimestamp with offset = %v %v", ts, ok)
	}
	if lt, err := parseListingTime("2012-11-11T14:49:47"); err != nil || lt.Location() != time.UTC || lt.Second() != 47 {
		t.Errorf("parseListingTime without fraction = %v %v", lt, err)
	}
	page, err := listPage([]listEntry{
		{Subdir: "d/"},
		{Name: "slo", Bytes: 200, Hash: "abc", ContentType: "x/y;swift_bytes=3000000", LastModified: "2026-01-02T03:04:05.5"},
		{Name: "slo2", Bytes: 3000000, Hash: "def", ContentType: "x/y", SLOETag: `"0123"`},
		{Name: "extra"},
	}, 3, "tx")
	if err != nil {
		t.Fatal(err)
	}
	e := page.Entries
	if len(e) != 3 || !page.More || page.NextMarker != "slo2" || !e[0].Subdir || e[0].Name != "d/" ||
		e[1].Size != 3000000 || e[1].ContentType != "x/y" || !e[1].LargeObject ||
		e[2].ETag != "0123" || !e[2].LargeObject || e[1].LastModified.Nanosecond() != 5e8 {
		t.Errorf("listPage = %+v", page)
	}
	if got := escapePath("a b/%?#ü~"); got != "a%20b/%25%3F%23%C3%BC~" {
		t.Errorf("escapePath = %q", got)
	}
}

func TestPutDetectsWrongStoredETag(t *testing.T) {
	m := newMiniSwift(t)
	c := newTestClient(t, m, &sleepRecorder{})
	// A server (or a proxy in between) that stores something else than what
	// was sent, and says so in its ETag.
	m.setFail(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.Method == http.MethodPut {
			w.Header().Set("Etag", "00000000000000000000000000000000")
			w.WriteHeader(http.StatusCreated)
			return true
		}
		return false
	})
	_, err := c.Put(context.Background(), "obj", strings.NewReader("data"), 4, PutOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrCorrupted || e.Status != http.StatusCreated {
		t.Errorf("Put with a wrong ETag in the answer: got %v, want ErrCorrupted", err)
	}
}

func TestCreateContainer(t *testing.T) {
	srv, err := swifttest.NewSwiftServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	opts := Options{Container: "made", Getenv: envMap(),
		Auth: Auth{URL: srv.AuthURL, User: swifttest.TEST_ACCOUNT, Password: Secret(swifttest.TEST_ACCOUNT)}}
	for range 2 { // the second time it exists
		if err := CreateContainer(context.Background(), opts); err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
	}
	if _, err := New(context.Background(), opts); err != nil {
		t.Errorf("New after CreateContainer: %v", err)
	}
	opts.Auth.Password = "wrong"
	if err := CreateContainer(context.Background(), opts); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("CreateContainer with a wrong password: %v", err)
	}
}
