// Package swiftclienttest is the conformance suite of the swiftclient.Client
// contract. Every implementation runs it: the in-memory fake, the ncw/swift
// client against the in-process swifttest server, and the ncw/swift client
// against a real Swift (see swiftclient/swift_test.go).
//
// Each test works under its own random prefix, so the suite can run against
// a shared real container, and deletes what it created. Tests that need a
// feature a backend lacks are skipped for that backend only, through Caps.
package swiftclienttest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// Caps lists what a backend lacks. The zero value is a complete Swift; each
// flag skips the tests that need the feature, with a message naming the
// backend.
type Caps struct {
	// Backend names the backend in skip messages, e.g. "swifttest".
	Backend string
	// NoIfNoneMatch: PUT ignores "If-None-Match: *".
	NoIfNoneMatch bool
	// NoFreshMetadata: COPY ignores "X-Fresh-Metadata: true".
	NoFreshMetadata bool
	// MergesMeta: a PUT over an existing object and a POST keep user
	// metadata keys they do not send (Swift replaces the whole set).
	MergesMeta bool
	// StaleListingContentType: listings keep the content type of the PUT
	// after a POST changed it.
	StaleListingContentType bool
	// NoSLOListingSize: listings show an SLO manifest's own size, not the
	// total.
	NoSLOListingSize bool
	// NoSLODelete: multipart-manifest=delete deletes only the manifest.
	NoSLODelete bool
}

// Run runs the suite against a complete Swift; newClient returns a client
// of the container under test (it may return the same client every time).
func Run(t *testing.T, newClient func(t *testing.T) swiftclient.Client) {
	RunCaps(t, Caps{}, newClient)
}

// RunCaps runs the suite, skipping what caps says the backend lacks.
func RunCaps(t *testing.T, caps Caps, newClient func(t *testing.T) swiftclient.Client) {
	if caps.Backend == "" {
		caps.Backend = "this backend"
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"NotFound", testNotFound},
		{"PutGetRoundtrip", testPutGetRoundtrip},
		{"RangedGet", testRangedGet},
		{"WrongMD5", testWrongMD5},
		{"IfNoneMatch", testIfNoneMatch},
		{"Meta", testMeta},
		{"ListPrefixDelimiter", testListPrefixDelimiter},
		{"ListPaging", testListPaging},
		{"Copy", testCopy},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"OddNames", testOddNames},
		{"SLO", testSLO},
		{"Container", testContainer},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newEnv(t, caps, newClient(t)))
		})
	}
}

// env is one test's view: a client, a unique prefix and what to clean up.
type env struct {
	c      swiftclient.Client
	caps   Caps
	prefix string
	ctx    context.Context

	mu      sync.Mutex
	created map[string]bool // GUARDED_BY(mu)
}

func newEnv(t *testing.T, caps Caps, c swiftclient.Client) *env {
	var rnd [6]byte
	rand.Read(rnd[:])
	e := &env{
		c:    c,
		caps: caps,
		prefix: fmt.Sprintf("swiftclienttest/%s-%s/%s/", time.Now().UTC().Format("20060102T150405"),
			hex.EncodeToString(rnd[:]), strings.ReplaceAll(t.Name(), "/", "_")),
		ctx:     context.Background(),
		created: map[string]bool{},
	}
	t.Cleanup(func() { e.cleanup(t) })
	return e
}

// cleanup deletes what the test created, and whatever else is under its
// prefix.
func (e *env) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.mu.Lock()
	names := slices.Sorted(maps.Keys(e.created))
	e.mu.Unlock()
	for _, n := range slices.Backward(names) { // manifests sort after segments here
		if err := e.c.Delete(ctx, n, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			t.Logf("cleanup: delete %q: %v", n, err)
		}
	}
	marker := ""
	for range 100 {
		page, err := e.c.List(ctx, swiftclient.ListOptions{Prefix: e.prefix, Marker: marker})
		if err != nil {
			t.Logf("cleanup: list %q: %v", e.prefix, err)
			return
		}
		for _, o := range page.Entries {
			if err := e.c.Delete(ctx, o.Name, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
				t.Logf("cleanup: delete %q: %v", o.Name, err)
			}
		}
		if !page.More {
			return
		}
		marker = page.NextMarker
	}
}

func (e *env) name(s string) string { return e.prefix + s }

func (e *env) track(name string) {
	e.mu.Lock()
	e.created[name] = true
	e.mu.Unlock()
}

// lacks skips t when the backend lacks a feature.
func (e *env) lacks(t *testing.T, lacking bool, what string) {
	t.Helper()
	if lacking {
		t.Skipf("%s lacks %s; skipped for this backend only", e.caps.Backend, what)
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// put uploads data with its MD5 and fails the test on error.
func (e *env) put(t *testing.T, name string, data []byte, opts swiftclient.PutOptions) swiftclient.ObjectInfo {
	t.Helper()
	e.track(name)
	if opts.MD5 == "" && opts.Segments == nil {
		opts.MD5 = md5hex(data)
	}
	info, err := e.c.Put(e.ctx, name, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
	return info
}

// get reads a range and fails the test on error.
func (e *env) get(t *testing.T, name string, off, length int64) ([]byte, swiftclient.ObjectInfo) {
	t.Helper()
	rc, info, err := e.c.Get(e.ctx, name, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", name, off, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): reading: %v", name, off, length, err)
	}
	return data, info
}

func (e *env) stat(t *testing.T, name string) swiftclient.ObjectInfo {
	t.Helper()
	info, err := e.c.Stat(e.ctx, name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	return info
}

// wantKind checks the kind of err.
func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if got := swiftclient.KindOf(err); got != kind {
		t.Fatalf("%s: got error %v (kind %v), want kind %v", what, err, got, kind)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	wantKind(t, what, err, swiftclient.ErrNotFound)
	if !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("%s: errors.Is(%v, fs.ErrNotExist) = false, want true", what, err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// eventually retries check for up to 15s: container listings are
// eventually consistent on a real Swift.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// listAll pages through a listing.
func (e *env) listAll(opts swiftclient.ListOptions) ([]swiftclient.ObjectInfo, error) {
	var all []swiftclient.ObjectInfo
	for range 1000 {
		page, err := e.c.List(e.ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if !page.More {
			return all, nil
		}
		opts.Marker = page.NextMarker
	}
	return nil, errors.New("listing does not end")
}

func entryNames(entries []swiftclient.ObjectInfo) []string {
	var names []string
	for _, o := range entries {
		s := o.Name
		if o.Subdir {
			s += " (subdir)"
		}
		names = append(names, s)
	}
	return names
}

func testNotFound(t *testing.T, e *env) {
	name := e.name("missing")
	_, err := e.c.Stat(e.ctx, name)
	wantNotFound(t, "Stat of a missing object", err)
	var se *swiftclient.Error
	if !errors.As(err, &se) {
		t.Fatalf("Stat: error %T is not a *swiftclient.Error", err)
	}
	if se.Op != "stat" || se.Name != name {
		t.Errorf("Stat: got Op %q Name %q, want %q %q", se.Op, se.Name, "stat", name)
	}
	_, _, err = e.c.Get(e.ctx, name, 0, -1)
	wantNotFound(t, "Get of a missing object", err)
	_, _, err = e.c.Get(e.ctx, name, 10, 5)
	wantNotFound(t, "ranged Get of a missing object", err)
	err = e.c.Delete(e.ctx, name, swiftclient.DeleteOptions{})
	wantNotFound(t, "Delete of a missing object", err)
	err = e.c.Update(e.ctx, name, "text/plain", map[string]string{"a": "1"})
	wantNotFound(t, "Update of a missing object", err)
	_, err = e.c.Copy(e.ctx, name, e.name("copy"), swiftclient.CopyOptions{})
	wantNotFound(t, "Copy of a missing object", err)
	_, err = e.c.Put(e.ctx, "", bytes.NewReader(nil), 0, swiftclient.PutOptions{})
	wantKind(t, "Put with an empty name", err, swiftclient.ErrInvalid)
}

func testPutGetRoundtrip(t *testing.T, e *env) {
	start := time.Now()
	for _, tc := range []struct {
		name        string
		data        []byte
		contentType string
		meta        map[string]string
		noMD5       bool
	}{
		{"empty", nil, "text/plain", nil, false},
		{"small", []byte("hello, swift"), "text/plain; charset=utf-8", map[string]string{"mtime": "1700000000.5", "mode": "0644"}, false},
		{"small-no-md5", []byte("computed by the client"), "", nil, true},
		{"3MiB", randomBytes(3<<20, 1), "application/fits", map[string]string{"mtime": "1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := e.name(tc.name)
			opts := swiftclient.PutOptions{ContentType: tc.contentType, Meta: tc.meta}
			if !tc.noMD5 {
				opts.MD5 = md5hex(tc.data)
			}
			e.track(name)
			info, err := e.c.Put(e.ctx, name, bytes.NewReader(tc.data), int64(len(tc.data)), opts)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			wantCT := tc.contentType
			if wantCT == "" {
				wantCT = "application/octet-stream"
			}
			wantMeta := tc.meta
			if wantMeta == nil {
				wantMeta = map[string]string{}
			}
			if info.Name != name || info.Size != int64(len(tc.data)) || info.ETag != md5hex(tc.data) || info.ContentType != wantCT {
				t.Errorf("Put returned %+v, want name %q size %d ETag %s content type %q",
					info, name, len(tc.data), md5hex(tc.data), wantCT)
			}
			if info.TransID == "" {
				t.Errorf("Put returned no TransID")
			}
			st := e.stat(t, name)
			if st.Name != name || st.Size != int64(len(tc.data)) || st.ETag != md5hex(tc.data) || st.ContentType != wantCT ||
				st.SLO || st.LargeObject || st.Subdir {
				t.Errorf("Stat = %+v, want name %q size %d ETag %s content type %q, not large",
					st, name, len(tc.data), md5hex(tc.data), wantCT)
			}
			if !maps.Equal(st.Meta, wantMeta) || st.Meta == nil {
				t.Errorf("Stat Meta = %v, want %v (non-nil)", st.Meta, wantMeta)
			}
			if st.LastModified.Before(start.Add(-time.Hour)) || st.LastModified.After(time.Now().Add(time.Hour)) {
				t.Errorf("Stat LastModified = %v, want about %v", st.LastModified, start)
			}
			if st.TransID == "" {
				t.Errorf("Stat returned no TransID")
			}
			data, gi := e.get(t, name, 0, -1)
			if !bytes.Equal(data, tc.data) {
				t.Errorf("Get returned %d bytes (MD5 %s), want %d (MD5 %s)", len(data), md5hex(data), len(tc.data), md5hex(tc.data))
			}
			if gi.Size != int64(len(tc.data)) || gi.ETag != md5hex(tc.data) || !maps.Equal(gi.Meta, wantMeta) {
				t.Errorf("Get info = %+v, want size %d ETag %s Meta %v", gi, len(tc.data), md5hex(tc.data), wantMeta)
			}
		})
	}
	t.Run("overwrite", func(t *testing.T) {
		e.lacks(t, e.caps.MergesMeta, "PUT replacing all user metadata")
		name := e.name("overwrite")
		e.put(t, name, []byte("first version"), swiftclient.PutOptions{Meta: map[string]string{"v": "1"}})
		e.put(t, name, []byte("second"), swiftclient.PutOptions{Meta: map[string]string{"w": "2"}})
		data, info := e.get(t, name, 0, -1)
		if string(data) != "second" || !maps.Equal(info.Meta, map[string]string{"w": "2"}) {
			t.Errorf("after overwrite: got %q meta %v, want %q meta w=2", data, info.Meta, "second")
		}
	})
	t.Run("DeleteAfter", func(t *testing.T) {
		name := e.name("expiring")
		e.put(t, name, []byte("x"), swiftclient.PutOptions{DeleteAfter: time.Hour})
		e.stat(t, name)
	})
}

func testRangedGet(t *testing.T, e *env) {
	name := e.name("range")
	content := make([]byte, 100)
	for i := range content {
		content[i] = byte(i)
	}
	e.put(t, name, content, swiftclient.PutOptions{})
	for _, tc := range []struct {
		off, length int64
		want        []byte
	}{
		{0, -1, content},
		{0, 10, content[:10]},
		{10, 20, content[10:30]},
		{90, -1, content[90:]},
		{95, 10, content[95:]},   // past the end: what there is
		{0, 1000, content},       // longer than the object
		{99, 1, content[99:]},    // the last byte
		{100, -1, []byte{}},      // at the end: nothing
		{100, 5, []byte{}},       // at the end: nothing
		{50, 0, []byte{}},        // zero length
		{0, 0, []byte{}},         // zero length at 0
		{1, -1, content[1:]},     // open-ended
		{64, 16, content[64:80]}, // aligned block
	} {
		data, info := e.get(t, name, tc.off, tc.length)
		if !bytes.Equal(data, tc.want) {
			t.Errorf("Get(%d, %d) = %d bytes %v, want %d bytes %v", tc.off, tc.length, len(data), head(data), len(tc.want), head(tc.want))
		}
		if info.Size != 100 || info.ETag != md5hex(content) {
			t.Errorf("Get(%d, %d) info: size %d ETag %s, want 100 and %s (the whole object's)", tc.off, tc.length, info.Size, info.ETag, md5hex(content))
		}
	}
	_, _, err := e.c.Get(e.ctx, name, 101, -1)
	wantKind(t, "Get past the end", err, swiftclient.ErrInvalid)
	_, _, err = e.c.Get(e.ctx, name, -1, 5)
	wantKind(t, "Get at a negative offset", err, swiftclient.ErrInvalid)

	empty := e.name("empty")
	e.put(t, empty, nil, swiftclient.PutOptions{})
	for _, tc := range [][2]int64{{0, -1}, {0, 10}, {0, 0}} {
		data, info := e.get(t, empty, tc[0], tc[1])
		if len(data) != 0 || info.Size != 0 {
			t.Errorf("Get(empty, %d, %d) = %d bytes, size %d; want none", tc[0], tc[1], len(data), info.Size)
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 8 {
		return b[:8]
	}
	return b
}

func testWrongMD5(t *testing.T, e *env) {
	name := e.name("corrupt")
	data := []byte("the real content")
	e.track(name)
	_, err := e.c.Put(e.ctx, name, bytes.NewReader(data), int64(len(data)),
		swiftclient.PutOptions{MD5: md5hex([]byte("something else"))})
	wantKind(t, "Put with a wrong MD5", err, swiftclient.ErrCorrupted)
	_, err = e.c.Stat(e.ctx, name)
	wantNotFound(t, "Stat after a Put with a wrong MD5", err)

	e.put(t, name, []byte("old"), swiftclient.PutOptions{})
	_, err = e.c.Put(e.ctx, name, bytes.NewReader(data), int64(len(data)),
		swiftclient.PutOptions{MD5: md5hex([]byte("something else"))})
	wantKind(t, "overwriting Put with a wrong MD5", err, swiftclient.ErrCorrupted)
	if got, _ := e.get(t, name, 0, -1); string(got) != "old" {
		t.Errorf("after a failed overwrite: content %q, want %q", got, "old")
	}
	_, err = e.c.Put(e.ctx, name, bytes.NewReader(data), int64(len(data)), swiftclient.PutOptions{MD5: "not-hex"})
	wantKind(t, "Put with a malformed MD5", err, swiftclient.ErrInvalid)
}

func testIfNoneMatch(t *testing.T, e *env) {
	e.lacks(t, e.caps.NoIfNoneMatch, "If-None-Match: * on PUT")
	name := e.name("create-only")
	e.put(t, name, []byte("first"), swiftclient.PutOptions{IfNoneMatch: true})
	_, err := e.c.Put(e.ctx, name, strings.NewReader("second"), 6, swiftclient.PutOptions{IfNoneMatch: true})
	wantKind(t, "Put with IfNoneMatch over an existing object", err, swiftclient.ErrPreconditionFailed)
	if !errors.Is(err, iofs.ErrExist) {
		t.Errorf("errors.Is(%v, fs.ErrExist) = false, want true", err)
	}
	if got, _ := e.get(t, name, 0, -1); string(got) != "first" {
		t.Errorf("content after refused create: %q, want %q", got, "first")
	}
}

func testMeta(t *testing.T, e *env) {
	name := e.name("meta")
	meta := map[string]string{"mtime": "1700000000.123456789", "uni": "héllo wörld ✓", "empty": "", "with-dash": "a b  c"}
	info := e.put(t, name, []byte("m"), swiftclient.PutOptions{Meta: meta})
	if !maps.Equal(info.Meta, meta) {
		t.Errorf("Put returned Meta %v, want %v", info.Meta, meta)
	}
	if st := e.stat(t, name); !maps.Equal(st.Meta, meta) {
		t.Errorf("Stat Meta = %v, want %v", st.Meta, meta)
	}
	for _, bad := range []map[string]string{
		{"Upper": "x"},
		{"under_score": "x"},
		{"": "x"},
		{"sp ace": "x"},
		{"lead": " x"},
		{"trail": "x\t"},
		{"ctl": "a\nb"},
	} {
		_, err := e.c.Put(e.ctx, e.name("badmeta"), strings.NewReader("x"), 1, swiftclient.PutOptions{Meta: bad})
		wantKind(t, fmt.Sprintf("Put with metadata %q", bad), err, swiftclient.ErrInvalid)
		err = e.c.Update(e.ctx, name, "", bad)
		wantKind(t, fmt.Sprintf("Update with metadata %q", bad), err, swiftclient.ErrInvalid)
	}
}

func testListPrefixDelimiter(t *testing.T, e *env) {
	p := e.prefix
	objs := map[string]string{
		"a": "text/plain", "b/1": "text/plain", "b/2": "text/plain",
		"c/": "application/directory", "c/x": "text/plain", "d": "application/octet-stream",
	}
	stats := map[string]swiftclient.ObjectInfo{}
	for n, ct := range objs {
		var data []byte
		if ct != "application/directory" {
			data = []byte("content of " + n)
		}
		e.put(t, p+n, data, swiftclient.PutOptions{ContentType: ct})
		stats[p+n] = e.stat(t, p+n)
	}
	check := func(opts swiftclient.ListOptions, want []string) func() error {
		return func() error {
			entries, err := e.listAll(opts)
			if err != nil {
				return err
			}
			if got := entryNames(entries); !slices.Equal(got, want) {
				return fmt.Errorf("List(%+v) = %q, want %q", opts, got, want)
			}
			for _, o := range entries {
				if o.Subdir {
					continue
				}
				st := stats[o.Name]
				if o.Size != st.Size || o.ETag != st.ETag || o.ContentType != st.ContentType || o.Meta != nil ||
					o.LargeObject || !o.LastModified.Equal(st.LastModified) {
					return fmt.Errorf("List entry %+v does not match Stat %+v (size, ETag, content type, LastModified; no Meta)", o, st)
				}
			}
			return nil
		}
	}
	eventually(t, "delimiter listing", check(swiftclient.ListOptions{Prefix: p, Delimiter: "/"},
		[]string{p + "a", p + "b/ (subdir)", p + "c/ (subdir)", p + "d"}))
	eventually(t, "listing of a directory with a marker object", check(swiftclient.ListOptions{Prefix: p + "c/", Delimiter: "/"},
		[]string{p + "c/", p + "c/x"}))
	eventually(t, "flat listing", check(swiftclient.ListOptions{Prefix: p},
		[]string{p + "a", p + "b/1", p + "b/2", p + "c/", p + "c/x", p + "d"}))
	eventually(t, "listing after a marker", check(swiftclient.ListOptions{Prefix: p, Delimiter: "/", Marker: p + "b/"},
		[]string{p + "c/ (subdir)", p + "d"}))
	eventually(t, "listing of a prefix that matches nothing", check(swiftclient.ListOptions{Prefix: p + "zzz"}, nil))
}

func testListPaging(t *testing.T, e *env) {
	p := e.prefix
	var want []string
	for i := range 25 {
		n := fmt.Sprintf("%spage/%02d", p, i)
		want = append(want, n)
		e.put(t, n, []byte{byte(i)}, swiftclient.PutOptions{})
	}
	eventually(t, "paging with Limit 10", func() error {
		var got []string
		opts := swiftclient.ListOptions{Prefix: p + "page/", Limit: 10}
		for pages := 0; ; pages++ {
			if pages > 5 {
				return fmt.Errorf("more than 5 pages of at most 10 for 25 objects")
			}
			page, err := e.c.List(e.ctx, opts)
			if err != nil {
				return err
			}
			if len(page.Entries) > 10 {
				return fmt.Errorf("page of %d entries, want at most 10", len(page.Entries))
			}
			got = append(got, entryNames(page.Entries)...)
			if !page.More {
				break
			}
			if page.NextMarker != page.Entries[len(page.Entries)-1].Name {
				return fmt.Errorf("NextMarker %q, want the last entry %q", page.NextMarker, page.Entries[len(page.Entries)-1].Name)
			}
			opts.Marker = page.NextMarker
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("pages gave %q, want %q", got, want)
		}
		return nil
	})
	var wantDirs []string
	for i := range 12 {
		d := fmt.Sprintf("%sdirs/%02d/", p, i)
		wantDirs = append(wantDirs, d+" (subdir)")
		e.put(t, d+"x", []byte("x"), swiftclient.PutOptions{})
		e.put(t, d+"y", []byte("y"), swiftclient.PutOptions{})
	}
	eventually(t, "paging through subdirs with Limit 5", func() error {
		var got []string
		opts := swiftclient.ListOptions{Prefix: p + "dirs/", Delimiter: "/", Limit: 5}
		for pages := 0; ; pages++ {
			if pages > 5 {
				return fmt.Errorf("too many pages")
			}
			page, err := e.c.List(e.ctx, opts)
			if err != nil {
				return err
			}
			got = append(got, entryNames(page.Entries)...)
			if !page.More {
				break
			}
			opts.Marker = page.NextMarker
		}
		if !slices.Equal(got, wantDirs) {
			return fmt.Errorf("pages gave %q, want %q", got, wantDirs)
		}
		return nil
	})
}

func testCopy(t *testing.T, e *env) {
	src := e.name("src")
	data := []byte("copy me")
	e.put(t, src, data, swiftclient.PutOptions{ContentType: "text/plain", Meta: map[string]string{"a": "1", "shared": "src"}})

	dst := e.name("dst")
	e.track(dst)
	info, err := e.c.Copy(e.ctx, src, dst, swiftclient.CopyOptions{Meta: map[string]string{"b": "2", "shared": "copy"}})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	wantMeta := map[string]string{"a": "1", "b": "2", "shared": "copy"}
	if info.Name != dst || info.Size != int64(len(data)) || info.ETag != md5hex(data) || !maps.Equal(info.Meta, wantMeta) {
		t.Errorf("Copy returned %+v, want name %q size %d meta %v", info, dst, len(data), wantMeta)
	}
	st := e.stat(t, dst)
	if st.ContentType != "text/plain" || !maps.Equal(st.Meta, wantMeta) || st.ETag != md5hex(data) {
		t.Errorf("copy: Stat = %+v, want content type text/plain, meta %v", st, wantMeta)
	}
	if got, _ := e.get(t, dst, 0, -1); !bytes.Equal(got, data) {
		t.Errorf("copy content %q, want %q", got, data)
	}
	if got := e.stat(t, src); !maps.Equal(got.Meta, map[string]string{"a": "1", "shared": "src"}) {
		t.Errorf("source meta changed by Copy: %v", got.Meta)
	}

	ct := e.name("dst-ct")
	e.track(ct)
	if _, err := e.c.Copy(e.ctx, src, ct, swiftclient.CopyOptions{ContentType: "application/x-new"}); err != nil {
		t.Fatalf("Copy with ContentType: %v", err)
	}
	if st := e.stat(t, ct); st.ContentType != "application/x-new" || !maps.Equal(st.Meta, map[string]string{"a": "1", "shared": "src"}) {
		t.Errorf("Copy with ContentType: Stat = %+v, want new content type and the source's meta", st)
	}

	// Copy over an existing object replaces it.
	e.put(t, dst, []byte("old destination"), swiftclient.PutOptions{})
	if _, err := e.c.Copy(e.ctx, src, dst, swiftclient.CopyOptions{}); err != nil {
		t.Fatalf("Copy over an existing object: %v", err)
	}
	if got, _ := e.get(t, dst, 0, -1); !bytes.Equal(got, data) {
		t.Errorf("Copy over an existing object: content %q, want %q", got, data)
	}

	t.Run("FreshMetadata", func(t *testing.T) {
		e.lacks(t, e.caps.NoFreshMetadata, "X-Fresh-Metadata on COPY")
		fresh := e.name("dst-fresh")
		e.track(fresh)
		if _, err := e.c.Copy(e.ctx, src, fresh, swiftclient.CopyOptions{FreshMetadata: true,
			Meta: map[string]string{"c": "3"}, ContentType: "application/x-fresh"}); err != nil {
			t.Fatalf("Copy with FreshMetadata: %v", err)
		}
		st := e.stat(t, fresh)
		if !maps.Equal(st.Meta, map[string]string{"c": "3"}) || st.ContentType != "application/x-fresh" {
			t.Errorf("Copy with FreshMetadata: Stat = %+v, want meta c=3 only and content type application/x-fresh", st)
		}
		if got, _ := e.get(t, fresh, 0, -1); !bytes.Equal(got, data) {
			t.Errorf("Copy with FreshMetadata: content %q, want %q", got, data)
		}
	})
}

func testUpdate(t *testing.T, e *env) {
	name := e.name("update")
	e.put(t, name, []byte("u"), swiftclient.PutOptions{ContentType: "text/plain", Meta: map[string]string{"a": "1", "b": "2"}})
	if err := e.c.Update(e.ctx, name, "application/json", map[string]string{"b": "20", "c": "3"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	st := e.stat(t, name)
	if st.ContentType != "application/json" || st.Meta["b"] != "20" || st.Meta["c"] != "3" {
		t.Errorf("after Update: Stat = %+v, want content type application/json and b=20 c=3", st)
	}
	if got, _ := e.get(t, name, 0, -1); string(got) != "u" {
		t.Errorf("after Update: content %q, want %q", got, "u")
	}
	if err := e.c.Update(e.ctx, name, "", map[string]string{"b": "21", "c": "3"}); err != nil {
		t.Fatalf("Update without content type: %v", err)
	}
	if st := e.stat(t, name); st.ContentType != "application/json" {
		t.Errorf("Update with an empty content type changed it to %q", st.ContentType)
	}
	t.Run("ReplacesAllMeta", func(t *testing.T) {
		e.lacks(t, e.caps.MergesMeta, "POST replacing all user metadata")
		if st := e.stat(t, name); !maps.Equal(st.Meta, map[string]string{"b": "21", "c": "3"}) {
			t.Errorf("after Update: Meta = %v, want exactly b=21 c=3", st.Meta)
		}
	})
	t.Run("ListingContentType", func(t *testing.T) {
		e.lacks(t, e.caps.StaleListingContentType, "content type updates by POST in listings")
		eventually(t, "listing after Update", func() error {
			page, err := e.c.List(e.ctx, swiftclient.ListOptions{Prefix: name})
			if err != nil {
				return err
			}
			if len(page.Entries) != 1 || page.Entries[0].ContentType != "application/json" {
				return fmt.Errorf("listing %+v, want one entry of content type application/json", page.Entries)
			}
			if st := e.stat(t, name); !page.Entries[0].LastModified.Equal(st.LastModified) {
				return fmt.Errorf("listing LastModified %v, Stat %v: want equal after Update", page.Entries[0].LastModified, st.LastModified)
			}
			return nil
		})
	})
}

func testDelete(t *testing.T, e *env) {
	name := e.name("doomed")
	e.put(t, name, []byte("bye"), swiftclient.PutOptions{})
	if err := e.c.Delete(e.ctx, name, swiftclient.DeleteOptions{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := e.c.Stat(e.ctx, name)
	wantNotFound(t, "Stat after Delete", err)
	_, _, err = e.c.Get(e.ctx, name, 0, -1)
	wantNotFound(t, "Get after Delete", err)
	err = e.c.Delete(e.ctx, name, swiftclient.DeleteOptions{})
	wantNotFound(t, "second Delete", err)

	plain := e.name("plain")
	e.put(t, plain, []byte("not an SLO"), swiftclient.PutOptions{})
	if err := e.c.Delete(e.ctx, plain, swiftclient.DeleteOptions{MultipartManifest: true}); err != nil {
		t.Fatalf("Delete(MultipartManifest) of a plain object: %v", err)
	}
	_, err = e.c.Stat(e.ctx, plain)
	wantNotFound(t, "Stat after Delete(MultipartManifest) of a plain object", err)
	err = e.c.Delete(e.ctx, plain, swiftclient.DeleteOptions{MultipartManifest: true})
	wantNotFound(t, "Delete(MultipartManifest) of a missing object", err)
}

// oddNames are object name suffixes that need escaping or that naive
// path handling would change.
var oddNames = []string{
	"with space", "two  spaces", "100%", "100%25", "what?", "what?x=1&y=2", "hash#tag",
	"plus+sign", "semi;colon", "comma,", `quote"d`, "apos'", `back\slash`, "tilde~",
	"<angle>", "[brackets]", "{braces}", "`backtick`", "$dollar", "@at", "colon:name", "equals=", "pipe|", "caret^",
	"ünïcødé/日本語/ファイル", "emoji-🎉", "a//b", "//lead", "dots/../x", "dots/./y", "..", ".", "x/..", "trailing/",
}

func testOddNames(t *testing.T, e *env) {
	var all []string
	for i, suffix := range oddNames {
		name := e.name(suffix)
		all = append(all, name)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			data := []byte("content of " + suffix + ", padded")
			info := e.put(t, name, data, swiftclient.PutOptions{Meta: map[string]string{"n": fmt.Sprint(i)}})
			if info.Name != name {
				t.Errorf("Put(%q) returned name %q", name, info.Name)
			}
			if st := e.stat(t, name); st.Name != name || st.Size != int64(len(data)) || st.Meta["n"] != fmt.Sprint(i) {
				t.Errorf("Stat(%q) = %+v", name, st)
			}
			if got, _ := e.get(t, name, 0, -1); !bytes.Equal(got, data) {
				t.Errorf("Get(%q) = %q, want %q", name, got, data)
			}
			if got, _ := e.get(t, name, 8, 5); !bytes.Equal(got, data[8:13]) {
				t.Errorf("ranged Get(%q) = %q, want %q", name, got, data[8:13])
			}
			if err := e.c.Update(e.ctx, name, "", map[string]string{"n": "updated"}); err != nil {
				t.Errorf("Update(%q): %v", name, err)
			}
			cp := name + ".copy"
			e.track(cp)
			if _, err := e.c.Copy(e.ctx, name, cp, swiftclient.CopyOptions{}); err != nil {
				t.Fatalf("Copy(%q): %v", name, err)
			}
			if got, _ := e.get(t, cp, 0, -1); !bytes.Equal(got, data) {
				t.Errorf("Get(%q) = %q, want %q", cp, got, data)
			}
			if err := e.c.Delete(e.ctx, cp, swiftclient.DeleteOptions{}); err != nil {
				t.Errorf("Delete(%q): %v", cp, err)
			}
			_, err := e.c.Stat(e.ctx, cp)
			wantNotFound(t, fmt.Sprintf("Stat(%q) after Delete", cp), err)
		})
	}
	slices.Sort(all)
	eventually(t, "listing of odd names", func() error {
		entries, err := e.listAll(swiftclient.ListOptions{Prefix: e.prefix})
		if err != nil {
			return err
		}
		if got := entryNames(entries); !slices.Equal(got, all) {
			return fmt.Errorf("listing = %q, want %q", got, all)
		}
		return nil
	})
	for _, n := range all {
		if err := e.c.Delete(e.ctx, n, swiftclient.DeleteOptions{}); err != nil {
			t.Errorf("Delete(%q): %v", n, err)
		}
	}
}

func testSLO(t *testing.T, e *env) {
	// The first segment is 1 MiB: older Swifts require that of all but the
	// last segment.
	seg1, seg2 := randomBytes(1<<20, 2), []byte("the short last segment")
	whole := append(bytes.Clone(seg1), seg2...)
	segs := []swiftclient.Segment{
		{Name: e.name("slo/segments/0001"), Size: int64(len(seg1)), ETag: md5hex(seg1)},
		{Name: e.name("slo/segments/0002"), Size: int64(len(seg2)), ETag: md5hex(seg2)},
	}
	e.put(t, segs[0].Name, seg1, swiftclient.PutOptions{})
	e.put(t, segs[1].Name, seg2, swiftclient.PutOptions{})
	sloETag := md5hex([]byte(segs[0].ETag + segs[1].ETag))

	name := e.name("slo/object")
	e.track(name)
	info, err := e.c.Put(e.ctx, name, nil, 0, swiftclient.PutOptions{Segments: segs,
		ContentType: "application/x-slo-test", Meta: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatalf("Put of an SLO manifest: %v", err)
	}
	if !info.SLO || !info.LargeObject || info.Size != int64(len(whole)) || info.ETag != sloETag {
		t.Errorf("Put of an SLO returned %+v, want SLO, size %d, ETag %s", info, len(whole), sloETag)
	}
	st := e.stat(t, name)
	if !st.SLO || !st.LargeObject || st.Size != int64(len(whole)) || st.ETag != sloETag ||
		st.ContentType != "application/x-slo-test" || st.Meta["k"] != "v" {
		t.Errorf("Stat of an SLO = %+v, want SLO, size %d, ETag %s, content type application/x-slo-test, k=v",
			st, len(whole), sloETag)
	}
	if got, gi := e.get(t, name, 0, -1); !bytes.Equal(got, whole) || gi.Size != int64(len(whole)) {
		t.Errorf("Get of an SLO: %d bytes (MD5 %s), size %d; want %d bytes (MD5 %s)", len(got), md5hex(got), gi.Size, len(whole), md5hex(whole))
	}
	off := int64(len(seg1) - 10)
	if got, gi := e.get(t, name, off, 20); !bytes.Equal(got, whole[off:off+20]) || gi.Size != int64(len(whole)) {
		t.Errorf("ranged Get across segments: %q size %d, want %q size %d", got, gi.Size, whole[off:off+20], len(whole))
	}

	t.Run("Manifest", func(t *testing.T) {
		m, err := e.c.Manifest(e.ctx, name)
		if err != nil {
			t.Fatalf("Manifest of an SLO: %v", err)
		}
		if len(m.Segments) != 2 || m.ETag != sloETag || m.Size != int64(len(whole)) {
			t.Fatalf("Manifest of an SLO: %+v, want 2 segments, ETag %s, size %d", m, sloETag, len(whole))
		}
		for i, s := range m.Segments {
			if !strings.HasSuffix(s.Name, "/"+segs[i].Name) || s.Size != segs[i].Size || s.MD5 != segs[i].ETag {
				t.Errorf("segment %d: %+v, want name .../%s, size %d, MD5 %s", i, s, segs[i].Name, segs[i].Size, segs[i].ETag)
			}
		}
		plain, err := e.c.Manifest(e.ctx, segs[0].Name)
		if err != nil || plain.Segments != nil {
			t.Errorf("Manifest of a plain object: %+v, %v; want no segments, no error", plain, err)
		}
		_, err = e.c.Manifest(e.ctx, e.name("slo/missing"))
		wantNotFound(t, "Manifest of a missing object", err)
	})

	t.Run("ListingSize", func(t *testing.T) {
		e.lacks(t, e.caps.NoSLOListingSize, "SLO total sizes in listings")
		eventually(t, "listing of an SLO", func() error {
			page, err := e.c.List(e.ctx, swiftclient.ListOptions{Prefix: name})
			if err != nil {
				return err
			}
			if len(page.Entries) != 1 {
				return fmt.Errorf("listing %q: %q, want one entry", name, entryNames(page.Entries))
			}
			o := page.Entries[0]
			if o.Size != int64(len(whole)) || !o.LargeObject || o.ContentType != "application/x-slo-test" || o.ETag != sloETag {
				return fmt.Errorf("listing entry %+v, want size %d, LargeObject, content type application/x-slo-test, ETag %s",
					o, len(whole), sloETag)
			}
			return nil
		})
	})

	cp := e.name("slo/copy")
	e.track(cp)
	ci, err := e.c.Copy(e.ctx, name, cp, swiftclient.CopyOptions{ManifestOnly: true})
	if err != nil {
		t.Fatalf("Copy(ManifestOnly) of an SLO: %v", err)
	}
	if !ci.SLO || ci.Size != int64(len(whole)) {
		t.Errorf("Copy(ManifestOnly) returned %+v, want an SLO of %d bytes", ci, len(whole))
	}
	if got, _ := e.get(t, cp, 0, -1); !bytes.Equal(got, whole) {
		t.Errorf("Get of the manifest copy: %d bytes, want %d", len(got), len(whole))
	}
	// Deleting the copy's manifest (not multipart) keeps the shared segments.
	if err := e.c.Delete(e.ctx, cp, swiftclient.DeleteOptions{}); err != nil {
		t.Fatalf("Delete of the manifest copy: %v", err)
	}
	e.stat(t, segs[0].Name)
	if got, _ := e.get(t, name, 0, -1); !bytes.Equal(got, whole) {
		t.Errorf("Get of the SLO after deleting its manifest copy: %d bytes, want %d", len(got), len(whole))
	}

	t.Run("DeleteMultipartManifest", func(t *testing.T) {
		e.lacks(t, e.caps.NoSLODelete, "multipart-manifest=delete")
		if err := e.c.Delete(e.ctx, name, swiftclient.DeleteOptions{MultipartManifest: true}); err != nil {
			t.Fatalf("Delete(MultipartManifest): %v", err)
		}
		for _, n := range []string{name, segs[0].Name, segs[1].Name} {
			_, err := e.c.Stat(e.ctx, n)
			wantNotFound(t, fmt.Sprintf("Stat(%q) after Delete(MultipartManifest)", n), err)
		}
		err := e.c.Delete(e.ctx, name, swiftclient.DeleteOptions{MultipartManifest: true})
		wantNotFound(t, "second Delete(MultipartManifest)", err)
	})
}

func testContainer(t *testing.T, e *env) {
	e.put(t, e.name("counted"), []byte("x"), swiftclient.PutOptions{})
	ci, err := e.c.Container(e.ctx)
	if err != nil {
		t.Fatalf("Container: %v", err)
	}
	if ci.Name == "" || ci.Objects < 0 || ci.Bytes < 0 || ci.QuotaBytes < 0 || ci.QuotaCount < 0 {
		t.Errorf("Container = %+v, want a name and non-negative counters", ci)
	}
}

func testConcurrent(t *testing.T, e *env) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			name := e.name(fmt.Sprintf("c%d", i))
			e.track(name)
			data := randomBytes(64<<10+i, uint64(i))
			if _, err := e.c.Put(e.ctx, name, bytes.NewReader(data), int64(len(data)), swiftclient.PutOptions{MD5: md5hex(data)}); err != nil {
				errs <- err
				return
			}
			for range 3 {
				rc, _, err := e.c.Get(e.ctx, name, int64(i), 1000)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, data[i:i+1000]) {
					errs <- fmt.Errorf("Get(%q): %d bytes, err %v", name, len(got), err)
					return
				}
				if _, err := e.c.Stat(e.ctx, name); err != nil {
					errs <- err
					return
				}
			}
			if err := e.c.Delete(e.ctx, name, swiftclient.DeleteOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
