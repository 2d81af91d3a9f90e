package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// Options configure an import.
type Options struct {
	// Source is the local directory whose contents are imported.
	Source string
	// Prefix is the object name prefix the source's root becomes: "" (the
	// container root) or "a/b/".
	Prefix string
	// SegmentSize: files larger than this are uploaded as Static Large
	// Objects of segments this large (0: 1 GiB, as the mount).
	SegmentSize int64
	// SLOThreshold: files larger than this are uploaded as Static Large
	// Objects (0: SegmentSize), as the mount's --slo-threshold.
	SLOThreshold int64
	// SegmentPrefix is where segments go (default cache.DefaultSegmentPrefix).
	SegmentPrefix string
	// Workers is the number of entries uploaded at once, and of segments
	// of one large file (default 4).
	Workers int
	// Validate, when set, checks a file before upload (FITS checks); an
	// error makes the file a failure. The cache's hook of the same name.
	Validate func(name string, r io.ReaderAt, size int64) error
	// Prepare, when set, may replace the content to upload (a checked
	// SQLite snapshot) and add metadata (a FITS HDU index): the cache's
	// PrepareUpload hook. An error makes the file a failure.
	Prepare func(ctx context.Context, name string, src *os.File, size int64) (cache.Prepared, error)
	// LocalOnly reports object names a mount keeps local and never
	// uploads (SQLite side files): they are not imported.
	LocalOnly func(name string) bool
	Logger    *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Failure is one entry that could not be imported.
type Failure struct {
	Path string // relative to the source ("." for its root)
	Err  error
}

// Result is what an import did.
type Result struct {
	Files, Dirs, Symlinks int   // entries written (PUT)
	Bytes                 int64 // file bytes uploaded
	Updated               int   // attributes only (POST)
	Skipped               int   // already in Swift, unchanged
	SkippedBytes          int64
	NotImported           []string // SQLite side files (LocalOnly)
	Failed                []Failure
	Elapsed               time.Duration
}

// Progress is a snapshot of a running import. Totals grow while the
// source is walked (Scanning).
type Progress struct {
	Scanning               bool
	FilesTotal, BytesTotal int64 // entries (files, dirs, symlinks) and file bytes found
	FilesDone, BytesDone   int64 // entries and bytes finished (uploaded, skipped or failed)
	Failed                 int64
	Started                time.Time
}

// Importer runs one import. Progress may be called from any goroutine.
type Importer struct {
	client swiftclient.Client
	opts   Options
	log    *slog.Logger
	seq    atomic.Int64 // segment directory names

	scanning                                     atomic.Bool
	filesTotal, bytesTotal, filesDone, bytesDone atomic.Int64
	failed                                       atomic.Int64
	started                                      time.Time

	mu  sync.Mutex
	res Result // GUARDED_BY(mu)
}

// New returns an Importer of opts.Source into client's container.
func New(client swiftclient.Client, opts Options) *Importer {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 1 << 30
	}
	if opts.SLOThreshold <= 0 {
		opts.SLOThreshold = opts.SegmentSize
	}
	if opts.SegmentPrefix == "" {
		opts.SegmentPrefix = cache.DefaultSegmentPrefix
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LocalOnly == nil {
		opts.LocalOnly = func(string) bool { return false }
	}
	opts.Prefix = strings.TrimLeft(opts.Prefix, "/")
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	return &Importer{client: client, opts: opts, log: opts.Logger}
}

// Progress returns the counters of the running import.
func (im *Importer) Progress() Progress {
	return Progress{Scanning: im.scanning.Load(), FilesTotal: im.filesTotal.Load(), BytesTotal: im.bytesTotal.Load(),
		FilesDone: im.filesDone.Load(), BytesDone: im.bytesDone.Load(), Failed: im.failed.Load(), Started: im.started}
}

// ErrFailed is returned (wrapped) by Run when some entries failed.
var ErrFailed = errors.New("import incomplete")

// Run imports the tree. It returns the Result in every case; the error is
// ErrFailed (wrapped, with the count) when entries failed, the context's
// error when it was cancelled, or why the import could not start (the
// source or the listing).
func (im *Importer) Run(ctx context.Context) (Result, error) {
	im.started = im.opts.Now()
	st, err := os.Stat(im.opts.Source)
	if err != nil {
		return Result{}, fmt.Errorf("source: %w", err)
	}
	if !st.IsDir() {
		return Result{}, fmt.Errorf("source %s is not a directory", im.opts.Source)
	}

	// The walk feeds the workers only once the listing is in: an entry
	// needs both to be decided.
	entries := make(chan *entry, 1024)
	im.scanning.Store(true)
	var all []*entry
	walkDone := make(chan struct{})
	go func() {
		defer close(walkDone)
		defer im.scanning.Store(false)
		im.walk(ctx, func(e *entry) {
			im.filesTotal.Add(1)
			im.bytesTotal.Add(e.size)
			all = append(all, e)
		})
	}()
	remote, err := im.listRemote(ctx)
	if err != nil {
		<-walkDone
		return im.result(), fmt.Errorf("listing %q: %w", im.opts.Prefix, err)
	}
	<-walkDone

	var wg sync.WaitGroup
	for range im.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range entries {
				im.do(ctx, e, remote)
			}
		}()
	}
	for _, e := range all {
		if ctx.Err() != nil {
			break
		}
		entries <- e
	}
	close(entries)
	wg.Wait()
	res := im.result()
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case len(res.Failed) > 0:
		return res, fmt.Errorf("%w: %d entries failed", ErrFailed, len(res.Failed))
	}
	return res, nil
}

func (im *Importer) result() Result {
	im.mu.Lock()
	defer im.mu.Unlock()
	r := im.res
	r.Failed = append([]Failure(nil), r.Failed...)
	r.NotImported = append([]string(nil), r.NotImported...)
	r.Elapsed = im.opts.Now().Sub(im.started)
	return r
}

// fail records a failure of the entry at rel.
func (im *Importer) fail(rel string, err error) {
	im.failed.Add(1)
	im.log.Error("not imported", "path", rel, "err", err)
	im.mu.Lock()
	im.res.Failed = append(im.res.Failed, Failure{Path: rel, Err: err})
	im.mu.Unlock()
}

// listRemote lists every object under the prefix (the segment prefix
// aside) by name.
func (im *Importer) listRemote(ctx context.Context) (map[string]swiftclient.ObjectInfo, error) {
	m := map[string]swiftclient.ObjectInfo{}
	err := swiftclient.ListPages(ctx, im.client, swiftclient.ListOptions{Prefix: im.opts.Prefix}, func(page []swiftclient.ObjectInfo) error {
		for _, o := range page {
			if o.Subdir || strings.HasPrefix(o.Name, im.opts.SegmentPrefix) {
				continue
			}
			m[o.Name] = swiftclient.ObjectInfo{Size: o.Size, ETag: o.ETag, ContentType: o.ContentType, LargeObject: o.LargeObject}
		}
		return nil
	})
	return m, err
}
