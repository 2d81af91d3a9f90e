package swiftclient

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ncw/swift/v2"
)

// client implements Client with ncw/swift. All fields are set by New and
// never change; ncw/swift's Connection is safe for concurrent use.
type client struct {
	conn       *swift.Connection
	container  string
	retry      *retryPolicy
	health     *Health
	log        *slog.Logger
	secrets    []string // for scrub
	listLimit  int      // the server's container_listing_limit
	maxNameLen int      // the server's max_object_name_length
	mode       authMode
	authURL    string // for messages, redacted
	user       string // for messages
}

var _ Client = (*client)(nil)

const (
	defaultListLimit  = 10000
	defaultMaxNameLen = 1024
	infoTimeout       = 3 * time.Second
)

// New connects to Swift: it authenticates and checks that the container
// exists, within about 10 seconds in all (less when ctx has an earlier
// deadline). Its errors say which step failed: missing or unreadable
// credentials (ErrInvalid, "no credentials: ..."), an unreachable auth URL
// (ErrUnavailable, "cannot reach auth URL ..."), wrong credentials
// (ErrUnauthorized, "authentication failed for user ... : wrong
// credentials"), or a missing container (ErrNotFound, "container ... does
// not exist").
func New(ctx context.Context, opts Options) (Client, error) {
	r := opts.withDefaults()
	if err := r.check(); err != nil {
		return nil, err
	}
	c := newClient(r)
	ctx, cancel := context.WithTimeout(ctx, r.newTimeout)
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// newClient builds the client and its ncw/swift Connection from checked
// options; it does no I/O.
func newClient(r resolved) *client {
	a := r.Auth
	transport := r.Transport
	if transport == nil {
		t := defaultTransport(r.ConnectTimeout)
		if r.cloud != nil {
			t.TLSClientConfig = r.cloud.tls
		}
		transport = t
	}
	if r.Observer != nil {
		transport = observeTransport(transport, r.Observer)
	}
	conn := &swift.Connection{
		UserName:                    a.User,
		UserId:                      a.UserID,
		ApiKey:                      a.Password.Reveal(),
		AuthUrl:                     a.URL,
		AuthVersion:                 a.Version,
		Domain:                      a.UserDomain,
		DomainId:                    a.UserDomainID,
		Tenant:                      a.Project,
		TenantId:                    a.ProjectID,
		TenantDomain:                a.ProjectDomain,
		TenantDomainId:              a.ProjectDomainID,
		TrustId:                     a.TrustID,
		Region:                      a.Region,
		EndpointType:                swift.EndpointType(endpointType(a.Interface)),
		ApplicationCredentialId:     a.ApplicationCredentialID,
		ApplicationCredentialName:   a.ApplicationCredentialName,
		ApplicationCredentialSecret: a.ApplicationCredentialSecret.Reveal(),
		// One re-authentication per attempt on 401 (see retry.go); 0
		// would mean ncw/swift's default of 3.
		Retries:        1,
		UserAgent:      r.UserAgent,
		ConnectTimeout: r.ConnectTimeout,
		Timeout:        r.Timeout,
		Transport:      transport,
	}
	if a.StorageURL != "" && a.Token != "" {
		conn.StorageUrl = a.StorageURL
		conn.AuthToken = a.Token.Reveal()
	}
	if r.mode == authToken {
		// No credentials to renew the token with: "re-authenticating"
		// yields the same token, so a 401 stays a 401 (ErrUnauthorized)
		// instead of an obscure "can't find AuthVersion" error.
		conn.Auth = staticAuth{storageURL: a.StorageURL, token: a.Token.Reveal()}
	}
	var secrets []string
	for _, s := range []Secret{a.Password, a.ApplicationCredentialSecret, a.Token} {
		if s != "" {
			secrets = append(secrets, s.Reveal())
		}
	}
	health := newHealth(r.Logger, nil)
	retry := newRetryPolicy(r.Retries+1, r.Logger, r.sleep)
	retry.health = health
	return &client{
		conn:       conn,
		container:  r.Container,
		retry:      retry,
		health:     health,
		log:        r.Logger,
		secrets:    secrets,
		listLimit:  defaultListLimit,
		maxNameLen: defaultMaxNameLen,
		mode:       r.mode,
		authURL:    redactURL(a.URL),
		user:       firstNonEmpty(a.User, a.UserID, a.ApplicationCredentialID, a.ApplicationCredentialName),
	}
}

// defaultTransport is an HTTP/1.1 transport (ncw/swift enforces its
// timeouts by cancelling HTTP/1 requests) with a dial timeout.
func defaultTransport(connectTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ExpectContinueTimeout: 5 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
}

// staticAuth is the ncw/swift Authenticator for a pre-authenticated storage
// URL and token without credentials.
type staticAuth struct{ storageURL, token string }

func (a staticAuth) Request(context.Context, *swift.Connection) (*http.Request, error) {
	return nil, nil
}
func (a staticAuth) Response(context.Context, *http.Response) error { return nil }
func (a staticAuth) StorageUrl(bool) string                         { return a.storageURL }
func (a staticAuth) Token() string                                  { return a.token }
func (a staticAuth) CdnUrl() string                                 { return "" }

// String describes the client without secrets.
func (c *client) String() string {
	return fmt.Sprintf("swiftclient(container %q at %s)", c.container, firstNonEmpty(c.authURL, "pre-authenticated URL"))
}

// GoString keeps %#v from printing the Connection and its credentials.
func (c *client) GoString() string { return c.String() }

// Format prints String for every verb (%d on a struct would otherwise print
// its fields, credentials included).
func (c *client) Format(f fmt.State, verb rune) { io.WriteString(f, c.String()) }

// Health returns the client's view of Swift's reachability (health.go).
func (c *client) Health() *Health { return c.health }

// LogValue keeps slog from printing the Connection and its credentials.
func (c *client) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c *client) classify(op, name string, err error, h map[string]string) error {
	return classify(op, name, err, h, c.secrets)
}

// connect authenticates, reads the server's limits and checks the container.
func (c *client) connect(ctx context.Context) error {
	if !c.conn.Authenticated() {
		p := *c.retry
		p.attempts = min(p.attempts, 3)
		p.base, p.max = 250*time.Millisecond, time.Second
		err := p.run(ctx, "auth", "", true, func(ctx context.Context) (map[string]string, error) {
			return nil, c.authError(c.conn.Authenticate(ctx))
		})
		if err != nil {
			return err
		}
	}
	_, err := c.Container(ctx)
	if err == nil {
		// After a first request: ncw/swift's QueryInfo uses its HTTP
		// client, which only Call or Authenticate set up (a connection
		// with a pre-authenticated token has done neither).
		c.readInfo(ctx)
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	w := *e
	storage, _ := c.conn.GetStorageUrl(ctx)
	switch {
	case e.Kind == ErrNotFound:
		w.Err = fmt.Errorf("container %q does not exist (create it first, e.g. with `swift post %s`): %w",
			c.container, c.container, e.Err)
	case e.Kind == ErrUnauthorized && c.mode == authToken:
		w.Err = fmt.Errorf("storage URL %s rejected the token from OS_AUTH_TOKEN (expired or revoked?): %w",
			redactURL(storage), e.Err)
	case e.Kind == ErrUnauthorized || e.Kind == ErrForbidden:
		w.Err = fmt.Errorf("user %q may not access container %q at %s: %w", c.user, c.container, redactURL(storage), e.Err)
	case e.Kind == ErrUnavailable && e.Status == 0:
		w.Err = fmt.Errorf("cannot reach storage URL %s: %w", redactURL(storage), e.Err)
	default:
		w.Err = fmt.Errorf("checking container %q: %w", c.container, e.Err)
	}
	return &w
}

// authError classifies an authentication failure with a message that says
// what to fix.
func (c *client) authError(err error) error {
	if err == nil {
		return nil
	}
	e, ok := c.classify("auth", "", err, nil).(*Error)
	if !ok {
		return err
	}
	who := fmt.Sprintf("user %q", c.user)
	if c.mode == authV3AppCred {
		who = fmt.Sprintf("application credential %q", c.user)
	}
	switch {
	case e.Status == 401:
		e.Err = fmt.Errorf("authentication failed for %s at %s: wrong credentials: %w", who, c.authURL, e.Err)
	case e.Status == 403:
		e.Err = fmt.Errorf("authentication refused for %s at %s: %w", who, c.authURL, e.Err)
	case e.Status == 400:
		e.Kind = ErrInvalid
		e.Err = fmt.Errorf("auth server at %s rejected the request for %s: check the user, project and domain settings: %w",
			c.authURL, who, e.Err)
	case e.Status == 404 || e.Status == 405:
		// A config error rather than a missing object: the URL is wrong.
		e.Kind = ErrInvalid
		e.Err = fmt.Errorf("no auth service at %s (HTTP %d): check OS_AUTH_URL or ST_AUTH: %w", c.authURL, e.Status, e.Err)
	case e.Status == 0 && e.Kind == ErrUnavailable:
		e.Err = fmt.Errorf("cannot reach auth URL %s: %w", c.authURL, e.Err)
	case e.Kind == ErrUnavailable:
		e.Err = fmt.Errorf("auth server at %s failed: %w", c.authURL, e.Err)
	case e.Status == 0:
		// ncw/swift found no storage URL or token in a successful answer:
		// typically no object-store endpoint for the region/interface.
		e.Kind = ErrInvalid
		e.Err = fmt.Errorf("authenticated at %s, but found no object-store endpoint (region %q, interface %q): %w",
			c.authURL, c.conn.Region, firstNonEmpty(string(c.conn.EndpointType), "public"), e.Err)
	default:
		e.Err = fmt.Errorf("authentication at %s: %w", c.authURL, e.Err)
	}
	return e
}

// readInfo reads the server's listing and name limits from /info, keeping
// the defaults when that fails (some clusters disable /info).
func (c *client) readInfo(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	info, err := c.conn.QueryInfo(ctx)
	if err != nil {
		c.log.Debug("swift /info unavailable; using default limits", "err", err)
		return
	}
	sw, _ := info["swift"].(map[string]any)
	if v, ok := sw["container_listing_limit"].(float64); ok && v >= 1 {
		c.listLimit = int(v)
	}
	if v, ok := sw["max_object_name_length"].(float64); ok && v >= 1 {
		c.maxNameLen = int(v)
	}
}

// call sends one request (with ncw/swift's 401 handling) for the object name
// ("" for the container itself).
func (c *client) call(ctx context.Context, method, name string, params url.Values, h swift.Headers, body io.Reader, noResponse bool) (*http.Response, swift.Headers, error) {
	storageURL, err := c.conn.GetStorageUrl(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.conn.Call(ctx, storageURL, swift.RequestOpts{
		Container:  c.container,
		ObjectName: name,
		Operation:  method,
		Parameters: params,
		Headers:    h,
		Body:       body,
		NoResponse: noResponse,
		// Called by ncw/swift with its auth lock held, after it
		// re-authenticated.
		OnReAuth: func() (string, error) { return c.conn.StorageUrl, nil },
	})
}

// Stat implements Client.
func (c *client) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	if err := checkName("stat", name, c.maxNameLen); err != nil {
		return ObjectInfo{}, err
	}
	var info ObjectInfo
	err := c.retry.run(ctx, "stat", name, true, func(ctx context.Context) (map[string]string, error) {
		_, h, err := c.call(ctx, http.MethodHead, name, nil, nil, nil, true)
		if err != nil {
			return h, c.classify("stat", name, err, h)
		}
		info, err = objectInfo("stat", name, h)
		return h, err
	})
	return info, err
}

// Get implements Client. A ranged read sends a Range header; the reader then
// yields exactly the requested bytes (fewer at the end of the object).
// Reading at the end (off == Size) yields nothing; off > Size is ErrInvalid.
// Only the opening request is retried; the reader is bound to ctx.
func (c *client) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, ObjectInfo, error) {
	if err := checkName("get", name, c.maxNameLen); err != nil {
		return nil, ObjectInfo{}, err
	}
	if off < 0 {
		return nil, ObjectInfo{}, invalid("get", name, "negative offset %d", off)
	}
	if length == 0 {
		return c.getEmpty(ctx, name, off, nil)
	}
	var h swift.Headers
	if off > 0 || length > 0 {
		end := ""
		if length > 0 {
			end = strconv.FormatInt(off+length-1, 10)
		}
		h = swift.Headers{"Range": fmt.Sprintf("bytes=%d-%s", off, end)}
	}
	var (
		resp *http.Response
		rh   swift.Headers
	)
	err := c.retry.run(ctx, "get", name, true, func(ctx context.Context) (map[string]string, error) {
		var err error
		resp, rh, err = c.call(ctx, http.MethodGet, name, nil, h, nil, false)
		return rh, c.classify("get", name, err, rh)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusRequestedRangeNotSatisfiable {
			return c.getEmpty(ctx, name, off, err)
		}
		return nil, ObjectInfo{}, err
	}
	info, err := objectInfo("get", name, rh)
	if err != nil {
		resp.Body.Close()
		return nil, ObjectInfo{}, err
	}
	var body io.Reader = resp.Body
	if resp.StatusCode == http.StatusPartialContent {
		first, total, ok := parseContentRange(rh["Content-Range"])
		if !ok || first != off {
			resp.Body.Close()
			return nil, ObjectInfo{}, &Error{Kind: ErrOther, Op: "get", Name: name, Status: resp.StatusCode,
				TransID: info.TransID, Err: fmt.Errorf("asked for bytes from %d, got Content-Range %q", off, rh["Content-Range"])}
		}
		info.Size = total
	} else if off > 0 {
		// 200: the server sent the whole object despite the Range.
		if off > info.Size {
			resp.Body.Close()
			return nil, ObjectInfo{}, &Error{Kind: ErrInvalid, Op: "get", Name: name, Status: 416,
				TransID: info.TransID, Err: fmt.Errorf("offset %d is beyond the end (%d bytes)", off, info.Size)}
		}
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			resp.Body.Close()
			return nil, ObjectInfo{}, c.classify("get", name, err, rh)
		}
	}
	if length > 0 {
		body = io.LimitReader(body, length)
	}
	return &getBody{r: body, c: resp.Body, name: name, secrets: c.secrets}, info, nil
}

// getEmpty answers a read of nothing, or at or past the end of the object
// (Swift answers 416 there): an empty reader when off is at most the size,
// else rangeErr (or an ErrInvalid of ours).
func (c *client) getEmpty(ctx context.Context, name string, off int64, rangeErr error) (io.ReadCloser, ObjectInfo, error) {
	info, err := c.Stat(ctx, name)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	if off > info.Size {
		if rangeErr != nil {
			return nil, ObjectInfo{}, rangeErr
		}
		return nil, ObjectInfo{}, &Error{Kind: ErrInvalid, Op: "get", Name: name, Status: 416,
			Err: fmt.Errorf("offset %d is beyond the end (%d bytes)", off, info.Size)}
	}
	return io.NopCloser(bytes.NewReader(nil)), info, nil
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL".
func parseContentRange(v string) (first, total int64, ok bool) {
	v, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, false
	}
	f, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(f, 10, 64)
	total, err2 := strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return first, total, true
}

// Put implements Client.
func (c *client) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opts PutOptions) (ObjectInfo, error) {
	if err := checkName("put", name, c.maxNameLen); err != nil {
		return ObjectInfo{}, err
	}
	if err := ValidateMeta(opts.Meta); err != nil {
		return ObjectInfo{}, invalid("put", name, "%v", err)
	}
	h := swift.Headers{}
	contentType := opts.ContentType
	if contentType == "" {
		// Explicit, rather than Swift guessing from the name's extension,
		// so that every Client behaves the same.
		contentType = "application/octet-stream"
	}
	h["Content-Type"] = contentType
	for k, v := range opts.Meta {
		h["X-Object-Meta-"+k] = v
	}
	if opts.IfNoneMatch {
		h["If-None-Match"] = "*"
	}
	if opts.DeleteAfter > 0 {
		secs := int64((opts.DeleteAfter + time.Second - 1) / time.Second)
		h["X-Delete-After"] = strconv.FormatInt(secs, 10)
	}
	if opts.Segments != nil {
		return c.putManifest(ctx, name, h, opts)
	}
	if size < 0 {
		return ObjectInfo{}, invalid("put", name, "negative size %d", size)
	}
	if body == nil && size > 0 {
		return ObjectInfo{}, invalid("put", name, "no body for %d bytes", size)
	}
	want := strings.ToLower(opts.MD5)
	if want != "" {
		if _, err := hex.DecodeString(want); err != nil || len(want) != 2*md5.Size {
			return ObjectInfo{}, invalid("put", name, "MD5 %q is not 32 hex digits", opts.MD5)
		}
		h["Etag"] = want // Swift verifies the body against it: 422 on mismatch
	}
	h["Content-Length"] = strconv.FormatInt(size, 10)
	var (
		src  *putSource
		b    *putBody
		resp swift.Headers
	)
	if size > 0 {
		src = newPutSource(body, size)
	}
	err := c.retry.run(ctx, "put", name, !opts.IfNoneMatch, func(ctx context.Context) (map[string]string, error) {
		var r io.Reader // nil for an empty object
		if src != nil {
			b = src.attempt(want == "")
			r = b
		}
		_, rh, err := c.call(ctx, http.MethodPut, name, nil, h, r, true)
		resp = rh
		return rh, c.classify("put", name, err, rh)
	})
	if err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			c.dropIdleConnections()
		}
		return ObjectInfo{}, err
	}
	if want == "" {
		if b != nil {
			want = b.sum()
		} else {
			want = emptyMD5
		}
	}
	got := normalizeETag(resp["Etag"])
	if want != "" && got != want {
		return ObjectInfo{}, &Error{Kind: ErrCorrupted, Op: "put", Name: name, Status: http.StatusCreated, TransID: transID(resp),
			Err: fmt.Errorf("Swift stored ETag %q, but the body sent has MD5 %q", got, want)}
	}
	return ObjectInfo{
		Name:         name,
		Size:         size,
		ETag:         got,
		LastModified: responseTime(resp),
		ContentType:  contentType,
		Meta:         cloneMeta(opts.Meta),
		TransID:      transID(resp),
	}, nil
}

const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// manifestEntry is one segment in a multipart-manifest=put body.
type manifestEntry struct {
	Path      string `json:"path"`
	ETag      string `json:"etag,omitempty"`
	SizeBytes int64  `json:"size_bytes"`
}

// putManifest writes a Static Large Object manifest.
func (c *client) putManifest(ctx context.Context, name string, h swift.Headers, opts PutOptions) (ObjectInfo, error) {
	if len(opts.Segments) == 0 {
		return ObjectInfo{}, invalid("put", name, "an SLO needs at least one segment")
	}
	entries := make([]manifestEntry, len(opts.Segments))
	var total int64
	sloHash, allETags := md5.New(), true
	for i, s := range opts.Segments {
		if err := checkName("put", s.Name, c.maxNameLen); err != nil {
			return ObjectInfo{}, invalid("put", name, "segment %d: bad name %q", i, s.Name)
		}
		if s.Size < 0 {
			return ObjectInfo{}, invalid("put", name, "segment %d (%q): negative size", i, s.Name)
		}
		etag := strings.ToLower(s.ETag)
		// "container/name": Swift strips a leading "/" anyway, and
		// swifttest (like ncw/swift's own SLO code) expects none.
		entries[i] = manifestEntry{Path: c.container + "/" + s.Name, ETag: etag, SizeBytes: s.Size}
		total += s.Size
		if etag == "" {
			allETags = false
		}
		io.WriteString(sloHash, etag)
	}
	manifest, err := json.Marshal(entries)
	if err != nil {
		return ObjectInfo{}, invalid("put", name, "encoding the manifest: %v", err)
	}
	h["Content-Length"] = strconv.Itoa(len(manifest))
	params := url.Values{"multipart-manifest": {"put"}}
	var resp swift.Headers
	err = c.retry.run(ctx, "put", name, !opts.IfNoneMatch, func(ctx context.Context) (map[string]string, error) {
		_, rh, err := c.call(ctx, http.MethodPut, name, params, h, bytes.NewReader(manifest), true)
		resp = rh
		return rh, c.classify("put", name, err, rh)
	})
	if err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			c.dropIdleConnections()
		}
		return ObjectInfo{}, err
	}
	etag := normalizeETag(resp["Etag"])
	if allETags {
		// Swift's SLO ETag: the MD5 of the segments' ETags, as a HEAD
		// reports it.
		etag = hex.EncodeToString(sloHash.Sum(nil))
	}
	return ObjectInfo{
		Name:         name,
		Size:         total,
		ETag:         etag,
		LastModified: responseTime(resp),
		ContentType:  h["Content-Type"],
		Meta:         cloneMeta(opts.Meta),
		LargeObject:  true,
		SLO:          true,
		TransID:      transID(resp),
	}, nil
}

// dropIdleConnections closes the idle keep-alive connections. Swift
// answers 412 to a create-only PUT before reading its body and the
// connection that carried it is then unusable: the next request sent on
// it failed with EOF (which a create-only PUT may not retry).
func (c *client) dropIdleConnections() {
	if t, ok := c.conn.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Delete implements Client. When a retried DELETE finds the object gone
// after an earlier attempt may have deleted it, Delete succeeds. With
// MultipartManifest a plain object (not an SLO) is deleted as usual.
func (c *client) Delete(ctx context.Context, name string, opts DeleteOptions) error {
	if err := checkName("delete", name, c.maxNameLen); err != nil {
		return err
	}
	if opts.MultipartManifest {
		return c.deleteManifest(ctx, name)
	}
	return c.deletePlain(ctx, name)
}

func (c *client) deletePlain(ctx context.Context, name string) error {
	maybeDone := false
	return c.retry.run(ctx, "delete", name, true, func(ctx context.Context) (map[string]string, error) {
		_, h, err := c.call(ctx, http.MethodDelete, name, nil, nil, nil, true)
		err = c.classify("delete", name, err, h)
		if err != nil && maybeDone && errors.Is(err, ErrNotFound) {
			c.log.Info("swift object already gone after an earlier delete attempt", "op", "delete", "object", name)
			return h, nil
		}
		maybeDone = maybeDone || mayHaveApplied(err)
		return h, err
	})
}

// bulkResult is the body of a multipart-manifest=delete answer, which comes
// from Swift's bulk middleware: the HTTP status is 200 and the real outcome
// is in the body.
type bulkResult struct {
	ResponseStatus string     `json:"Response Status"`
	ResponseBody   string     `json:"Response Body"`
	NumberDeleted  int        `json:"Number Deleted"`
	NumberNotFound int        `json:"Number Not Found"`
	Errors         [][]string `json:"Errors"`
}

func (c *client) deleteManifest(ctx context.Context, name string) error {
	params := url.Values{"multipart-manifest": {"delete"}}
	accept := swift.Headers{"Accept": "application/json"}
	maybeDone := false
	err := c.retry.run(ctx, "delete", name, true, func(ctx context.Context) (map[string]string, error) {
		resp, h, err := c.call(ctx, http.MethodDelete, name, params, accept, nil, false)
		var res bulkResult
		if err == nil {
			data, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = rerr
			if err == nil && len(bytes.TrimSpace(data)) > 0 {
				if jerr := json.Unmarshal(data, &res); jerr != nil {
					err = fmt.Errorf("reading the multipart delete result: %w", jerr)
				}
			}
		}
		err = c.classify("delete", name, err, h)
		if err == nil {
			err = bulkError(name, res, transID(h))
		}
		if err != nil && maybeDone && errors.Is(err, ErrNotFound) {
			return h, nil
		}
		maybeDone = maybeDone || mayHaveApplied(err)
		return h, err
	})
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusBadRequest {
		// Swift refuses multipart-manifest=delete for an object that is
		// not an SLO ("Not an SLO manifest"). Check that it is a plain
		// object rather than parse the message, and delete it as one.
		if info, serr := c.Stat(ctx, name); serr == nil && !info.SLO {
			return c.deletePlain(ctx, name)
		}
	}
	return err
}

// bulkError reads the outcome of a multipart delete. A body without a
// status (a server without the bulk middleware) counts as success.
func bulkError(name string, res bulkResult, tid string) error {
	status := bulkStatus(res.ResponseStatus)
	switch {
	case status == 0 || status/100 == 2:
		if res.NumberDeleted == 0 && res.NumberNotFound > 0 {
			return &Error{Kind: ErrNotFound, Op: "delete", Name: name, Status: http.StatusNotFound, TransID: tid,
				Err: errors.New("SLO manifest not found")}
		}
		return nil
	}
	return &Error{Kind: KindForStatus(status), Op: "delete", Name: name, Status: status, TransID: tid,
		Err: fmt.Errorf("multipart delete: %s %s %v", res.ResponseStatus, res.ResponseBody, res.Errors)}
}

// bulkStatus reads the code of "400 Bad Request"; 0 when absent.
func bulkStatus(s string) int {
	code, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	n, _ := strconv.Atoi(code)
	return n
}

// listEntry is one entry of a JSON container listing.
type listEntry struct {
	Name         string `json:"name"`
	Subdir       string `json:"subdir"`
	Bytes        int64  `json:"bytes"`
	Hash         string `json:"hash"`
	LastModified string `json:"last_modified"`
	ContentType  string `json:"content_type"`
	SLOETag      string `json:"slo_etag"`
}

// List implements Client. A Limit above the server's maximum is lowered to
// it; More is true when the page is full.
func (c *client) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	limit := opts.Limit
	if limit <= 0 || limit > c.listLimit {
		limit = c.listLimit
	}
	params := url.Values{"format": {"json"}, "limit": {strconv.Itoa(limit)}}
	if opts.Prefix != "" {
		params.Set("prefix", opts.Prefix)
	}
	if opts.Delimiter != "" {
		params.Set("delimiter", opts.Delimiter)
	}
	if opts.Marker != "" {
		params.Set("marker", opts.Marker)
	}
	var page ListPage
	err := c.retry.run(ctx, "list", opts.Prefix, true, func(ctx context.Context) (map[string]string, error) {
		resp, h, err := c.call(ctx, http.MethodGet, "", params, nil, nil, false)
		if err != nil {
			return h, c.classify("list", opts.Prefix, err, h)
		}
		var raw []listEntry
		err = json.NewDecoder(resp.Body).Decode(&raw)
		resp.Body.Close()
		if err != nil && resp.StatusCode == http.StatusNoContent {
			err = nil // an empty container may answer 204 without a body
		}
		if err != nil {
			return h, c.classify("list", opts.Prefix, err, h)
		}
		page, err = listPage(raw, limit, transID(h))
		if err != nil {
			return h, &Error{Kind: ErrOther, Op: "list", Name: opts.Prefix, TransID: transID(h), Err: err}
		}
		return h, nil
	})
	return page, err
}

// listPage converts a listing. Servers that ignore limit (e.g. swifttest)
// are cut to it.
func listPage(raw []listEntry, limit int, tid string) (ListPage, error) {
	if len(raw) > limit {
		raw = raw[:limit]
	}
	page := ListPage{Entries: make([]ObjectInfo, 0, len(raw))}
	for _, r := range raw {
		if r.Subdir != "" {
			page.Entries = append(page.Entries, ObjectInfo{Name: r.Subdir, Subdir: true, TransID: tid})
			continue
		}
		ct, swiftBytes, hasBytes := splitSwiftBytes(r.ContentType)
		oi := ObjectInfo{
			Name:        r.Name,
			Size:        r.Bytes,
			ETag:        normalizeETag(r.Hash),
			ContentType: ct,
			TransID:     tid,
		}
		if hasBytes {
			// An SLO listed by a server that does not strip it.
			oi.Size, oi.LargeObject = swiftBytes, true
		}
		if r.SLOETag != "" {
			oi.ETag, oi.LargeObject = normalizeETag(r.SLOETag), true
		}
		if r.LastModified != "" {
			t, err := parseListingTime(r.LastModified)
			if err != nil {
				return ListPage{}, fmt.Errorf("entry %q: bad last_modified %q: %w", r.Name, r.LastModified, err)
			}
			oi.LastModified = t
		}
		page.Entries = append(page.Entries, oi)
	}
	if len(page.Entries) >= limit && len(page.Entries) > 0 {
		page.More = true
		page.NextMarker = page.Entries[len(page.Entries)-1].Name
	}
	return page, nil
}

// Copy implements Client. It returns the destination's metadata from a HEAD
// after the COPY, since a COPY answer does not carry all of it.
func (c *client) Copy(ctx context.Context, src, dst string, opts CopyOptions) (ObjectInfo, error) {
	if err := checkName("copy", src, c.maxNameLen); err != nil {
		return ObjectInfo{}, err
	}
	if err := checkName("copy", dst, c.maxNameLen); err != nil {
		return ObjectInfo{}, err
	}
	if err := ValidateMeta(opts.Meta); err != nil {
		return ObjectInfo{}, invalid("copy", src, "%v", err)
	}
	h := swift.Headers{"Destination": escapePath(c.container) + "/" + escapePath(dst)}
	if opts.FreshMetadata {
		h["X-Fresh-Metadata"] = "true"
	}
	if opts.ContentType != "" {
		h["Content-Type"] = opts.ContentType
	}
	for k, v := range opts.Meta {
		h["X-Object-Meta-"+k] = v
	}
	var params url.Values
	if opts.ManifestOnly {
		params = url.Values{"multipart-manifest": {"get"}}
	}
	err := c.retry.run(ctx, "copy", src, true, func(ctx context.Context) (map[string]string, error) {
		_, rh, err := c.call(ctx, "COPY", src, params, h, nil, true)
		return rh, c.classify("copy", src, err, rh)
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	return c.Stat(ctx, dst)
}

// escapePath percent-encodes everything but unreserved characters and "/",
// for the Destination header (Swift unquotes it).
func escapePath(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[ch>>4])
		b.WriteByte(hexDigits[ch&15])
	}
	return b.String()
}

// Update implements Client. An empty contentType keeps the current one.
// Swift's POST also drops X-Delete-At/After unless sent again.
func (c *client) Update(ctx context.Context, name string, contentType string, meta map[string]string) error {
	if err := checkName("update", name, c.maxNameLen); err != nil {
		return err
	}
	if err := ValidateMeta(meta); err != nil {
		return invalid("update", name, "%v", err)
	}
	h := swift.Headers{}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	for k, v := range meta {
		h["X-Object-Meta-"+k] = v
	}
	return c.retry.run(ctx, "update", name, true, func(ctx context.Context) (map[string]string, error) {
		_, rh, err := c.call(ctx, http.MethodPost, name, nil, h, nil, true)
		return rh, c.classify("update", name, err, rh)
	})
}

// Container implements Client.
func (c *client) Container(ctx context.Context) (ContainerInfo, error) {
	var ci ContainerInfo
	err := c.retry.run(ctx, "container", "", true, func(ctx context.Context) (map[string]string, error) {
		_, h, err := c.call(ctx, http.MethodHead, "", nil, nil, nil, true)
		if err != nil {
			return h, c.classify("container", "", err, h)
		}
		ci = ContainerInfo{Name: c.container}
		var perr error
		parse := func(key string, dst *int64, required bool) {
			v := h[key]
			if v == "" {
				if required && perr == nil {
					perr = fmt.Errorf("missing header %s", key)
				}
				return
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil && perr == nil {
				perr = fmt.Errorf("bad header %s: %q", key, v)
			}
			*dst = n
		}
		parse("X-Container-Object-Count", &ci.Objects, true)
		parse("X-Container-Bytes-Used", &ci.Bytes, true)
		parse("X-Container-Meta-Quota-Bytes", &ci.QuotaBytes, false)
		parse("X-Container-Meta-Quota-Count", &ci.QuotaCount, false)
		if perr != nil {
			return h, &Error{Kind: ErrOther, Op: "container", TransID: transID(h), Err: perr}
		}
		return h, nil
	})
	return ci, err
}

// objectInfo reads the headers of a HEAD or GET.
func objectInfo(op, name string, h swift.Headers) (ObjectInfo, error) {
	oi := ObjectInfo{
		Name:        name,
		ETag:        normalizeETag(h["Etag"]),
		ContentType: stripSwiftBytes(h["Content-Type"]),
		Meta:        map[string]string{},
		TransID:     transID(h),
	}
	if v := h["Content-Length"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return ObjectInfo{}, &Error{Kind: ErrOther, Op: op, Name: name, TransID: oi.TransID,
				Err: fmt.Errorf("bad Content-Length %q", v)}
		}
		oi.Size = n
	}
	oi.LastModified = responseTime(h)
	for k, v := range h {
		if m, ok := strings.CutPrefix(k, "X-Object-Meta-"); ok && m != "" {
			oi.Meta[strings.ToLower(m)] = v
		}
	}
	oi.SLO = isTrue(h["X-Static-Large-Object"])
	oi.LargeObject = oi.SLO || h["X-Object-Manifest"] != ""
	return oi, nil
}

// responseTime is the object's modification time from response headers:
// X-Timestamp (exact, as in listings) or else Last-Modified (whole seconds,
// rounded up by Swift) or else Date.
func responseTime(h map[string]string) time.Time {
	if t, ok := parseSwiftTimestamp(h["X-Timestamp"]); ok {
		return t
	}
	for _, k := range []string{"Last-Modified", "Date"} {
		if t, err := http.ParseTime(h[k]); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// parseSwiftTimestamp reads "1795631186.56705" (optionally with an
// "_offset" suffix) exactly, without going through a float.
func parseSwiftTimestamp(v string) (time.Time, bool) {
	v, _, _ = strings.Cut(strings.TrimSpace(v), "_")
	if v == "" {
		return time.Time{}, false
	}
	secStr, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		nsec = n
	}
	return time.Unix(sec, nsec).UTC(), true
}

// parseListingTime reads a listing's last_modified, e.g.
// "2026-11-25T18:20:30.123450" (UTC, fraction optional).
func parseListingTime(v string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", strings.TrimSuffix(v, "Z"), time.UTC)
}

// normalizeETag drops quotes and lower-cases.
func normalizeETag(v string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`))
}

// splitSwiftBytes removes a ";swift_bytes=N" parameter (how Swift stores an
// SLO's total size in its content type) and returns N.
func splitSwiftBytes(ct string) (string, int64, bool) {
	parts := strings.Split(ct, ";")
	kept := parts[:0]
	var n int64
	found := false
	for i, p := range parts {
		if i > 0 {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "swift_bytes="); ok {
				if x, err := strconv.ParseInt(v, 10, 64); err == nil {
					n, found = x, true
					continue
				}
			}
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ";"), n, found
}

func stripSwiftBytes(ct string) string {
	s, _, _ := splitSwiftBytes(ct)
	return s
}

// isTrue is Swift's config_true_value.
func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	}
	return false
}

func cloneMeta(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}
