package swiftclient

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Manifest is a Static Large Object's manifest as [Client.Manifest]
// reads it: what each range of the object is made of, and the checksum
// of that range when the manifest gives one.
type Manifest struct {
	// Segments in the order of the object's bytes; nil when the object
	// is not an SLO (a plain object, or a DLO manifest).
	Segments []ManifestSegment
	// ETag is the SLO's ETag computed from the manifest the way Swift
	// computes it (MD5 of the segments' ETags, with ranges and inline
	// data as Swift writes them): a GET or HEAD of the same version
	// answers this ETag, so that a manifest that matches the ETag the
	// caller knows is the manifest of that version.
	ETag string
	// Size is the SLO's total size: the sum of the segments' Size.
	Size int64
	// TransID is Swift's X-Trans-Id of the GET.
	TransID string
}

// ManifestSegment is one entry of an SLO manifest: the next Size bytes
// of the object.
type ManifestSegment struct {
	// Name is the segment object as the manifest names it,
	// "/container/object" ("" for data inlined in the manifest).
	Name string
	// Size is the number of bytes the entry contributes to the object.
	Size int64
	// MD5 is the lower-case hex MD5 of those bytes when the manifest
	// fixes it: a whole segment that is a plain object (its ETag), or
	// inline data. It is "" for a range of a segment (the ETag is the
	// whole segment's) and for a nested SLO (its ETag is not an MD5 of
	// content).
	MD5 string
}

// maxManifestBytes bounds the manifest Manifest reads: Swift's
// max_manifest_size is 8 MiB by default.
const maxManifestBytes = 64 << 20

// rawSegment is one entry of a manifest as multipart-manifest=get
// returns it (Swift's stored form).
type rawSegment struct {
	Name        string `json:"name"`
	Bytes       int64  `json:"bytes"`
	Hash        string `json:"hash"`
	Range       string `json:"range"`
	SubSLO      any    `json:"sub_slo"` // true, or "true" from some writers
	Data        string `json:"data"`    // base64 inline data
	ContentType string `json:"content_type"`
}

// Manifest implements Client.
func (c *client) Manifest(ctx context.Context, name string) (Manifest, error) {
	if err := checkName("manifest", name, c.maxNameLen); err != nil {
		return Manifest{}, err
	}
	params := url.Values{"multipart-manifest": {"get"}}
	var m Manifest
	err := c.retry.run(ctx, "manifest", name, true, func(ctx context.Context) (map[string]string, error) {
		resp, h, err := c.call(ctx, http.MethodGet, name, params, nil, nil, false)
		if err != nil {
			return h, c.classify("manifest", name, err, h)
		}
		defer resp.Body.Close()
		m = Manifest{TransID: transID(h)}
		if !isTrue(h["X-Static-Large-Object"]) {
			return h, nil // the body is the object itself: not read
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes+1))
		if err != nil {
			return h, c.classify("manifest", name, err, h)
		}
		if len(data) > maxManifestBytes {
			return h, &Error{Kind: ErrOther, Op: "manifest", Name: name, TransID: m.TransID,
				Err: fmt.Errorf("manifest larger than %d bytes", maxManifestBytes)}
		}
		m, err = ParseManifest(data)
		m.TransID = transID(h)
		if err != nil {
			return h, &Error{Kind: ErrOther, Op: "manifest", Name: name, TransID: m.TransID, Err: err}
		}
		return h, nil
	})
	return m, err
}

// ParseManifest reads a manifest in the form multipart-manifest=get
// returns it (a JSON list of name, bytes, hash and optional range,
// sub_slo and data), computing each entry's length and the SLO's ETag as
// Swift does.
func ParseManifest(data []byte) (Manifest, error) {
	var raw []rawSegment
	if err := json.Unmarshal(data, &raw); err != nil {
		return Manifest{}, fmt.Errorf("reading the SLO manifest: %w", err)
	}
	m := Manifest{Segments: make([]ManifestSegment, 0, len(raw))}
	etag := md5.New()
	for i, r := range raw {
		s := ManifestSegment{Name: r.Name}
		switch {
		case r.Data != "":
			b, err := base64.StdEncoding.DecodeString(r.Data)
			if err != nil {
				return Manifest{}, fmt.Errorf("SLO manifest entry %d: inline data: %w", i, err)
			}
			sum := md5.Sum(b)
			s.Size, s.MD5 = int64(len(b)), hex.EncodeToString(sum[:])
			io.WriteString(etag, s.MD5)
		default:
			whole := r.Bytes
			nested := subSLO(r.SubSLO)
			if nested {
				if _, n, ok := splitSwiftBytes(r.ContentType); ok {
					whole = n
				}
			}
			s.Size = whole
			if r.Range != "" {
				n, err := rangeLength(r.Range, whole)
				if err != nil {
					return Manifest{}, fmt.Errorf("SLO manifest entry %d (%q): %w", i, r.Name, err)
				}
				s.Size = n
				fmt.Fprintf(etag, "%s:%s;", r.Hash, r.Range)
			} else {
				io.WriteString(etag, r.Hash)
				if !nested {
					s.MD5 = normalizeETag(r.Hash)
				}
			}
		}
		if s.Size < 0 {
			return Manifest{}, fmt.Errorf("SLO manifest entry %d (%q): negative size %d", i, r.Name, s.Size)
		}
		m.Size += s.Size
		m.Segments = append(m.Segments, s)
	}
	m.ETag = hex.EncodeToString(etag.Sum(nil))
	return m, nil
}

func subSLO(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return isTrue(x)
	}
	return false
}

// rangeLength is the length of a segment range "M-N", "M-" or "-N" of a
// segment of size bytes.
func rangeLength(r string, size int64) (int64, error) {
	first, last, ok := strings.Cut(strings.TrimSpace(r), "-")
	if !ok {
		return 0, fmt.Errorf("bad range %q", r)
	}
	parse := func(s string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(s), 10, 64) }
	switch {
	case first == "":
		n, err := parse(last)
		if err != nil {
			return 0, fmt.Errorf("bad range %q", r)
		}
		return min(n, size), nil
	case last == "":
		m, err := parse(first)
		if err != nil || m > size {
			return 0, fmt.Errorf("bad range %q of %d bytes", r, size)
		}
		return size - m, nil
	}
	m, err1 := parse(first)
	n, err2 := parse(last)
	if err1 != nil || err2 != nil || n < m {
		return 0, fmt.Errorf("bad range %q", r)
	}
	return min(n, size-1) - m + 1, nil
}
