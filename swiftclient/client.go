package swiftclient

import (
	"context"
	"io"
	"time"
)

// Client is the one narrow view swiftfs has of a Swift container. Every
// method is safe for concurrent use. Object names are full names inside the
// container (a mount prefix, if any, is already applied by the caller).
//
// Errors are classified once, here: a returned error matches (errors.Is) one
// of the sentinels in errors.go, e.g. ErrNotFound when the object or the
// container does not exist. Implementations retry transient failures (see
// doc.go); callers never retry.
type Client interface {
	// Stat returns the object's metadata (HEAD). It reports ErrNotFound
	// when the object does not exist. Idempotent.
	Stat(ctx context.Context, name string) (ObjectInfo, error)

	// Get opens the object for reading from off, for length bytes (length
	// < 0 means to the end). The caller must close the reader. The returned
	// ObjectInfo describes the whole object (Size is the whole size).
	// Idempotent.
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, ObjectInfo, error)

	// Put uploads a whole object from body, which is read from its start
	// and may be read again (Seek to 0) when the request must be resent, e.g.
	// after re-authentication. When opts.MD5 is set it is sent as the ETag
	// so that Swift verifies the body (ErrCorrupted on mismatch). With
	// opts.Segments set, body is ignored and a Static Large Object manifest
	// naming those segments is written instead. Idempotent (a repeated Put
	// writes the same object), except with opts.IfNoneMatch.
	Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opts PutOptions) (ObjectInfo, error)

	// Delete removes one object. A missing object reports ErrNotFound.
	// With multipartManifest a Static Large Object is deleted with its
	// segments (multipart-manifest=delete).
	Delete(ctx context.Context, name string, opts DeleteOptions) error

	// List returns one page of the container listing.
	List(ctx context.Context, opts ListOptions) (ListPage, error)

	// Copy makes a server-side copy of src at dst (COPY). Metadata of src is
	// kept unless opts.FreshMetadata; opts.Meta and opts.ContentType override.
	// With opts.ManifestOnly a Static Large Object's manifest is copied,
	// not its segments.
	Copy(ctx context.Context, src, dst string, opts CopyOptions) (ObjectInfo, error)

	// Update replaces the object's user metadata and content type (POST).
	// Swift replaces all X-Object-Meta-* values: pass the whole set.
	Update(ctx context.Context, name string, contentType string, meta map[string]string) error

	// Manifest reads a Static Large Object's manifest (GET with
	// multipart-manifest=get): its segments with their sizes and, where
	// the manifest fixes them, the MD5 of their bytes. For an object that
	// is not an SLO it returns a Manifest without Segments. Idempotent.
	Manifest(ctx context.Context, name string) (Manifest, error)

	// Container reports the container's counters and whether it exists
	// (ErrNotFound when it does not).
	Container(ctx context.Context) (ContainerInfo, error)
}

// ObjectInfo is what swiftfs knows of an object, from a HEAD, a GET or a
// listing entry.
type ObjectInfo struct {
	Name         string
	Size         int64
	ETag         string    // lower-case MD5 hex, without quotes; for SLO the manifest's ETag
	LastModified time.Time // server's last PUT/POST time
	ContentType  string    // including parameters
	// Meta holds X-Object-Meta-* values keyed by the lower-case suffix
	// ("mtime" for X-Object-Meta-Mtime). Listings do not carry it (nil).
	Meta map[string]string
	// LargeObject is true for SLO and DLO manifests.
	LargeObject bool
	// SLO is true for a Static Large Object manifest (from a HEAD/GET).
	SLO bool
	// Subdir is true for a listing entry that stands for a common prefix
	// ("pseudo directory"); then Name ends with the delimiter and only Name
	// is meaningful.
	Subdir bool
	// TransID is Swift's X-Trans-Id of the request that produced this info.
	TransID string
}

// PutOptions are the options of Client.Put.
type PutOptions struct {
	ContentType string
	Meta        map[string]string
	// MD5 is the lower-case hex MD5 of the body; sent as ETag when set.
	MD5 string
	// IfNoneMatch makes the upload create-only ("If-None-Match: *"): it
	// fails with ErrPreconditionFailed when the object exists.
	IfNoneMatch bool
	// Segments, when set, makes Put write an SLO manifest of these segments.
	Segments []Segment
	// DeleteAfter sets X-Delete-After when non-zero.
	DeleteAfter time.Duration
}

// Segment is one segment of a Static Large Object.
type Segment struct {
	Name string // object name in the same container
	Size int64
	ETag string // lower-case MD5 hex
}

// DeleteOptions are the options of Client.Delete.
type DeleteOptions struct {
	// MultipartManifest deletes an SLO manifest together with its segments.
	MultipartManifest bool
}

// CopyOptions are the options of Client.Copy.
type CopyOptions struct {
	ContentType   string            // replaces the content type when set
	Meta          map[string]string // added to (or, with FreshMetadata, replaces) the metadata
	FreshMetadata bool
	ManifestOnly  bool // copy an SLO manifest, not its data
}

// ListOptions select one page of a listing.
type ListOptions struct {
	Prefix    string
	Delimiter string // "" for a flat listing
	Marker    string // list names strictly after this one
	Limit     int    // 0: the server's maximum (10,000 by default)
}

// ListPage is one page of a listing, sorted by name.
type ListPage struct {
	Entries []ObjectInfo
	// More is true when another page may follow; pass NextMarker as
	// ListOptions.Marker to get it.
	More       bool
	NextMarker string
}

// ContainerInfo holds a container's counters.
type ContainerInfo struct {
	Name       string
	Objects    int64
	Bytes      int64
	QuotaBytes int64 // 0 when unset
	QuotaCount int64 // 0 when unset
}
