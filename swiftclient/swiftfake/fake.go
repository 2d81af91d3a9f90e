// Package swiftfake is an in-memory swiftclient.Client for unit tests, with
// an injectable clock, per-operation fault hooks and request counters.
//
// It follows Swift's observable behaviour that swiftfs relies on: listings
// sorted by name with prefix/delimiter/marker/limit paging, whole-object
// PUT with ETag check, If-None-Match: *, server-side COPY, POST replacing
// user metadata, and SLO manifests whose listing size is the total size.
package swiftfake

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

type object struct {
	data        []byte
	contentType string
	meta        map[string]string
	modified    time.Time
	etag        string
	segments    []swiftclient.Segment // SLO manifest when non-nil
}

// Fake is an in-memory container. The zero value is not usable; call New.
type Fake struct {
	mu      sync.Mutex
	objects map[string]*object // GUARDED_BY(mu)
	counts  map[string]int     // GUARDED_BY(mu): requests by op
	missing bool               // GUARDED_BY(mu): the container does not exist

	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Fault, when set, is called before every operation with its name
	// ("stat", "get", "manifest", "put", "delete", "list", "copy",
	// "update", "container") and object name; a non-nil result is returned instead.
	// It is called without the fake's lock held.
	Fault func(op, name string) error
	// ListMaxPage caps the page size (default 10,000, as Swift's).
	ListMaxPage int
}

var _ swiftclient.Client = (*Fake)(nil)

// New returns an empty, existing container.
func New() *Fake {
	return &Fake{objects: map[string]*object{}, counts: map[string]int{}, Now: time.Now, ListMaxPage: 10000}
}

// SetMissing makes the container (not) exist.
func (f *Fake) SetMissing(missing bool) {
	f.mu.Lock()
	f.missing = missing
	f.mu.Unlock()
}

// Count returns how many requests of op were made.
func (f *Fake) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// ResetCounts zeroes the request counters.
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	f.counts = map[string]int{}
	f.mu.Unlock()
}

// Names returns every object name, sorted.
func (f *Fake) Names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.objects))
	for n := range f.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Data returns an object's content (nil, false when missing).
func (f *Fake) Data(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	if !ok {
		return nil, false
	}
	return f.contentLocked(o), true
}

// PutRaw stores an object directly, as another client would.
func (f *Fake) PutRaw(name string, data []byte, contentType string, meta map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sum := md5.Sum(data)
	f.objects[name] = &object{data: bytes.Clone(data), contentType: contentType, meta: maps.Clone(meta),
		modified: f.Now(), etag: hex.EncodeToString(sum[:])}
}

func (f *Fake) begin(op, name string) error {
	if f.Fault != nil {
		if err := f.Fault(op, name); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.counts[op]++
	missing := f.missing
	f.mu.Unlock()
	if missing {
		return fail(op, name, 404, "container not found")
	}
	return nil
}

func fail(op, name string, status int, msg string) error {
	return &swiftclient.Error{Kind: swiftclient.KindForStatus(status), Op: op, Name: name, Status: status,
		TransID: "tx-fake", Err: fmt.Errorf("%s", msg)}
}

func (f *Fake) contentLocked(o *object) []byte {
	if o.segments == nil {
		return o.data
	}
	var b []byte
	for _, s := range o.segments {
		if so, ok := f.objects[s.Name]; ok {
			b = append(b, so.data...)
		}
	}
	return b
}

func (f *Fake) infoLocked(name string, o *object, withMeta bool) swiftclient.ObjectInfo {
	size := int64(len(o.data))
	if o.segments != nil {
		size = 0
		for _, s := range o.segments {
			size += s.Size
		}
	}
	oi := swiftclient.ObjectInfo{Name: name, Size: size, ETag: o.etag, LastModified: o.modified,
		ContentType: o.contentType, LargeObject: o.segments != nil, TransID: "tx-fake"}
	if withMeta {
		oi.Meta = maps.Clone(o.meta)
		if oi.Meta == nil {
			oi.Meta = map[string]string{}
		}
		oi.SLO = o.segments != nil
	}
	return oi
}

// Stat implements swiftclient.Client.
func (f *Fake) Stat(ctx context.Context, name string) (swiftclient.ObjectInfo, error) {
	if err := f.begin("stat", name); err != nil {
		return swiftclient.ObjectInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	if !ok {
		return swiftclient.ObjectInfo{}, fail("stat", name, 404, "object not found")
	}
	return f.infoLocked(name, o, true), nil
}

// Get implements swiftclient.Client.
func (f *Fake) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, swiftclient.ObjectInfo, error) {
	if err := f.begin("get", name); err != nil {
		return nil, swiftclient.ObjectInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	if !ok {
		return nil, swiftclient.ObjectInfo{}, fail("get", name, 404, "object not found")
	}
	data := f.contentLocked(o)
	if off > int64(len(data)) || off < 0 {
		return nil, swiftclient.ObjectInfo{}, fail("get", name, 416, "range not satisfiable")
	}
	end := int64(len(data))
	if length >= 0 && off+length < end {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(data[off:end]))), f.infoLocked(name, o, true), nil
}

// Manifest implements swiftclient.Client.
func (f *Fake) Manifest(ctx context.Context, name string) (swiftclient.Manifest, error) {
	if err := f.begin("manifest", name); err != nil {
		return swiftclient.Manifest{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	if !ok {
		return swiftclient.Manifest{}, fail("manifest", name, 404, "object not found")
	}
	m := swiftclient.Manifest{TransID: "tx-fake"}
	if o.segments == nil {
		return m, nil
	}
	m.ETag = o.etag
	for _, s := range o.segments {
		m.Segments = append(m.Segments, swiftclient.ManifestSegment{Name: "/fake/" + s.Name, Size: s.Size, MD5: s.ETag})
		m.Size += s.Size
	}
	return m, nil
}

// Put implements swiftclient.Client.
func (f *Fake) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opts swiftclient.PutOptions) (swiftclient.ObjectInfo, error) {
	if err := f.begin("put", name); err != nil {
		return swiftclient.ObjectInfo{}, err
	}
	if name == "" || len(name) > 1024 {
		return swiftclient.ObjectInfo{}, fail("put", name, 400, "bad object name")
	}
	if err := swiftclient.ValidateMeta(opts.Meta); err != nil {
		return swiftclient.ObjectInfo{}, fail("put", name, 400, err.Error())
	}
	if _, err := hex.DecodeString(opts.MD5); err != nil || (opts.MD5 != "" && len(opts.MD5) != 2*md5.Size) {
		return swiftclient.ObjectInfo{}, fail("put", name, 400, "bad MD5")
	}
	o := &object{contentType: opts.ContentType, meta: maps.Clone(opts.Meta)}
	if o.contentType == "" {
		o.contentType = "application/octet-stream"
	}
	if opts.Segments != nil {
		o.segments = append([]swiftclient.Segment(nil), opts.Segments...)
		h := md5.New()
		for _, s := range opts.Segments {
			io.WriteString(h, s.ETag)
		}
		o.etag = hex.EncodeToString(h.Sum(nil))
	} else {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return swiftclient.ObjectInfo{}, fail("put", name, 0, err.Error())
		}
		data, err := io.ReadAll(io.LimitReader(body, size))
		if err != nil {
			return swiftclient.ObjectInfo{}, &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "put", Name: name, Err: err}
		}
		if int64(len(data)) != size {
			return swiftclient.ObjectInfo{}, fail("put", name, 499, "short body")
		}
		sum := md5.Sum(data)
		o.etag = hex.EncodeToString(sum[:])
		if opts.MD5 != "" && !strings.EqualFold(opts.MD5, o.etag) {
			return swiftclient.ObjectInfo{}, fail("put", name, 422, "etag mismatch")
		}
		o.data = data
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if opts.Segments != nil {
		for _, s := range opts.Segments {
			so, ok := f.objects[s.Name]
			if !ok || int64(len(so.data)) != s.Size || (s.ETag != "" && so.etag != s.ETag) {
				return swiftclient.ObjectInfo{}, fail("put", name, 400, "bad SLO segment "+s.Name)
			}
		}
	}
	if _, exists := f.objects[name]; exists && opts.IfNoneMatch {
		return swiftclient.ObjectInfo{}, fail("put", name, 412, "object exists")
	}
	o.modified = f.Now()
	f.objects[name] = o
	return f.infoLocked(name, o, true), nil
}

// Delete implements swiftclient.Client.
func (f *Fake) Delete(ctx context.Context, name string, opts swiftclient.DeleteOptions) error {
	if err := f.begin("delete", name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	if !ok {
		return fail("delete", name, 404, "object not found")
	}
	if opts.MultipartManifest && o.segments != nil {
		for _, s := range o.segments {
			delete(f.objects, s.Name)
		}
	}
	delete(f.objects, name)
	return nil
}

// List implements swiftclient.Client.
func (f *Fake) List(ctx context.Context, opts swiftclient.ListOptions) (swiftclient.ListPage, error) {
	if err := f.begin("list", opts.Prefix); err != nil {
		return swiftclient.ListPage{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := opts.Limit
	if limit <= 0 || limit > f.ListMaxPage {
		limit = f.ListMaxPage
	}
	names := make([]string, 0, len(f.objects))
	for n := range f.objects {
		if strings.HasPrefix(n, opts.Prefix) && n > opts.Marker {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var page swiftclient.ListPage
	lastSubdir := ""
	for _, n := range names {
		if opts.Delimiter != "" {
			rest := n[len(opts.Prefix):]
			if i := strings.Index(rest, opts.Delimiter); i >= 0 {
				sub := opts.Prefix + rest[:i+len(opts.Delimiter)]
				if sub == lastSubdir || sub <= opts.Marker {
					continue
				}
				lastSubdir = sub
				if len(page.Entries) == limit {
					page.More = true
					break
				}
				page.Entries = append(page.Entries, swiftclient.ObjectInfo{Name: sub, Subdir: true})
				continue
			}
		}
		if len(page.Entries) == limit {
			page.More = true
			break
		}
		page.Entries = append(page.Entries, f.infoLocked(n, f.objects[n], false))
	}
	if page.More {
		page.NextMarker = page.Entries[len(page.Entries)-1].Name
	}
	return page, nil
}

// Copy implements swiftclient.Client.
func (f *Fake) Copy(ctx context.Context, src, dst string, opts swiftclient.CopyOptions) (swiftclient.ObjectInfo, error) {
	if err := f.begin("copy", src); err != nil {
		return swiftclient.ObjectInfo{}, err
	}
	if err := swiftclient.ValidateMeta(opts.Meta); err != nil {
		return swiftclient.ObjectInfo{}, fail("copy", src, 400, err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[src]
	if !ok {
		return swiftclient.ObjectInfo{}, fail("copy", src, 404, "object not found")
	}
	n := &object{contentType: o.contentType, modified: f.Now(), etag: o.etag}
	if o.segments != nil && opts.ManifestOnly {
		n.segments = append([]swiftclient.Segment(nil), o.segments...)
	} else {
		n.data = bytes.Clone(f.contentLocked(o))
		if o.segments != nil {
			sum := md5.Sum(n.data)
			n.etag = hex.EncodeToString(sum[:])
		}
	}
	if !opts.FreshMetadata {
		n.meta = maps.Clone(o.meta)
	}
	if n.meta == nil {
		n.meta = map[string]string{}
	}
	maps.Copy(n.meta, opts.Meta)
	if opts.ContentType != "" {
		n.contentType = opts.ContentType
	}
	f.objects[dst] = n
	return f.infoLocked(dst, n, true), nil
}

// Update implements swiftclient.Client.
func (f *Fake) Update(ctx context.Context, name string, contentType string, meta map[string]string) error {
	if err := f.begin("update", name); err != nil {
		return err
	}
	if err := swiftclient.ValidateMeta(meta); err != nil {
		return fail("update", name, 400, err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	if !ok {
		return fail("update", name, 404, "object not found")
	}
	o.meta = maps.Clone(meta)
	if contentType != "" {
		o.contentType = contentType
	}
	o.modified = f.Now()
	return nil
}

// Container implements swiftclient.Client.
func (f *Fake) Container(ctx context.Context) (swiftclient.ContainerInfo, error) {
	if err := f.begin("container", ""); err != nil {
		return swiftclient.ContainerInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ci := swiftclient.ContainerInfo{Name: "fake", Objects: int64(len(f.objects))}
	for _, o := range f.objects {
		ci.Bytes += int64(len(o.data))
	}
	return ci, nil
}
