package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// ErrNoSpace is returned when the cache budget (--cache-size,
// --cache-min-free) cannot be met: nothing already written is lost, but the
// write or download that needed the space fails. It matches syscall.ENOSPC.
var ErrNoSpace = fmt.Errorf("cache: no space left in the cache budget: %w", syscall.ENOSPC)

// ErrNotReady postpones an upload (returned by PrepareUpload).
var ErrNotReady = errors.New("cache: not ready for upload")

// ErrConflict reports that the object changed in Swift since this copy was
// taken; see Options.CheckConflict.
var ErrConflict = errors.New("cache: object changed in Swift by another client")

// Prepared is what PrepareUpload returns.
type Prepared struct {
	File    *os.File // content to upload; nil: the source unchanged
	Size    int64
	Meta    map[string]string // added to the object's metadata
	Cleanup func()
}

// ErrRemoved is returned by operations on an entry that was removed.
var ErrRemoved = errors.New("cache: entry removed")

// Options configure a Cache.
type Options struct {
	// Dir is the cache directory; created 0700.
	Dir string
	// MaxBytes is the byte budget for cached data (clean + dirty + in-flight).
	MaxBytes int64
	// MinFree is the free space to keep on the cache file system.
	MinFree int64
	// WriteBackDelay is how long after the last close a dirty file waits
	// before its upload starts (a rename in between uploads it once, under
	// the final name).
	WriteBackDelay time.Duration
	// SyncWriteBack makes Release wait for the upload (--write-back=sync).
	SyncWriteBack bool
	// Uploaders is the number of concurrent uploads (default 4).
	Uploaders int
	// SegmentSize: files larger than this are uploaded as Static Large
	// Objects of segments this large (0: 1 GiB).
	SegmentSize int64
	// SegmentPrefix is where SLO segments live in the container (default
	// ".swiftfs-segments/").
	SegmentPrefix string
	// DownloadChunk and DownloadStreams tune parallel ranged downloads of
	// large objects (defaults 32 MiB and 4).
	DownloadChunk   int64
	DownloadStreams int
	// Validate, when set, checks a staged file before upload (FITS checks).
	// An error keeps the file dirty and is reported to fsync and close.
	Validate func(name string, r io.ReaderAt, size int64) error
	// OnUploaded is called after a successful upload with the object's new
	// state. It must not call back into the Cache synchronously for the
	// same entry.
	OnUploaded func(name string, info swiftclient.ObjectInfo)
	// PrepareUpload, when set, may replace the content to upload (e.g. a
	// consistent SQLite snapshot) and add metadata (e.g. a FITS HDU index).
	// It returns the file to upload (src itself when unchanged), its size,
	// extra metadata, and a cleanup function (may be nil). An error wrapping
	// ErrNotReady postpones the upload (retried with backoff).
	PrepareUpload func(ctx context.Context, name string, src *os.File, size int64) (Prepared, error)
	// CheckConflict, when it returns true for a name, makes the upload
	// first compare the object in Swift with the version this copy came
	// from. When another client changed it, our content is uploaded as a
	// conflict copy "<name>.conflict-<host>-<time>" instead, the other
	// version stays, and the failure is reported (ErrConflict).
	CheckConflict func(name string) bool
	Logger     *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Cache is the local disk cache of whole objects and the write-back queue.
//
// Lock order: Entry.mu before Cache.mu. Cache.mu is never held across I/O
// to disk or Swift, and never while taking an Entry.mu.
type Cache struct {
	opts   Options
	dir    string
	client swiftclient.Client
	log    *slog.Logger
	ctx    context.Context // for downloads and uploads; cancelled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	cond    *sync.Cond                       // signalled when dirty/uploading state changes; uses mu
	nextID  uint64                           // GUARDED_BY(mu)
	byName  map[string]*Entry                // GUARDED_BY(mu): live entries by object name
	entries map[uint64]*Entry                // GUARDED_BY(mu): every entry, including detached ones
	lru     *simplelru.LRU[uint64, struct{}] // GUARDED_BY(mu): evictable entries (pins == 0, clean)
	used    int64                            // GUARDED_BY(mu): sum of charged bytes
	hits    int64                            // GUARDED_BY(mu)
	misses  int64                            // GUARDED_BY(mu)
	closing bool                             // GUARDED_BY(mu): no new writes accepted

	wb *writeback
}

// New opens (or creates) the cache in opts.Dir, recovering entries a
// previous run left: clean complete copies are kept for reuse after
// validation, dirty ones are queued for upload at once.
func New(opts Options, client swiftclient.Client) (*Cache, error) {
	if opts.Dir == "" {
		return nil, errors.New("cache: no directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Uploaders <= 0 {
		opts.Uploaders = 4
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 1 << 30
	}
	if opts.SegmentPrefix == "" {
		opts.SegmentPrefix = ".swiftfs-segments/"
	}
	if opts.DownloadChunk <= 0 {
		opts.DownloadChunk = 32 << 20
	}
	if opts.DownloadStreams <= 0 {
		opts.DownloadStreams = 4
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{dir, filepath.Join(dir, "data"), filepath.Join(dir, "meta")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: creating %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	l, _ := simplelru.NewLRU[uint64, struct{}](1<<31-1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{opts: opts, dir: dir, client: client, log: opts.Logger, ctx: ctx, cancel: cancel,
		byName: map[string]*Entry{}, entries: map[uint64]*Entry{}, lru: l, nextID: 1}
	c.cond = sync.NewCond(&c.mu)
	if err := c.lockDir(); err != nil {
		cancel()
		return nil, err
	}
	c.wb = newWriteback(c)
	if err := c.recover(); err != nil {
		cancel()
		return nil, err
	}
	c.wb.start()
	return c, nil
}

// lockDir makes sure one daemon at a time uses the cache directory.
func (c *Cache) lockDir() error {
	f, err := os.OpenFile(filepath.Join(c.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("cache: directory %s is in use by another swiftfs process", c.dir)
	}
	// f stays open for the life of the process: the lock goes with it.
	return nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// pin marks e as not evictable. LOCKS_REQUIRED(c.mu)
func (c *Cache) pinLocked(e *Entry) {
	e.pins++
	c.lru.Remove(e.id)
}

// unpin undoes pin; the entry becomes evictable when clean and unpinned.
// LOCKS_REQUIRED(c.mu)
func (c *Cache) unpinLocked(e *Entry) {
	e.pins--
	if e.pins < 0 {
		panic("cache: pin count underflow")
	}
	if e.pins == 0 {
		if e.detached.Load() {
			c.dropLocked(e)
			return
		}
		if e.evictable {
			c.lru.Add(e.id, struct{}{})
		}
	}
}

// dropLocked forgets e and deletes its files (in the background: no I/O
// under c.mu). LOCKS_REQUIRED(c.mu)
func (c *Cache) dropLocked(e *Entry) {
	c.lru.Remove(e.id)
	delete(c.entries, e.id)
	if c.byName[e.name] == e {
		delete(c.byName, e.name)
	}
	c.used -= e.charged
	e.charged = 0
	e.dropped.Store(true)
	id := e.id
	go func() {
		e.closeFile()
		c.removeRecord(id)
	}()
}

// reserve charges n more bytes to e, evicting clean unpinned entries when
// the budget is exceeded. LOCKS_EXCLUDED(c.mu)
func (c *Cache) reserve(e *Entry, n int64) error {
	if n <= 0 {
		return nil
	}
	c.mu.Lock()
	var victims []*Entry
	for c.opts.MaxBytes > 0 && c.used+n > c.opts.MaxBytes {
		id, _, ok := c.lru.GetOldest()
		if !ok {
			break
		}
		v := c.entries[id]
		c.lru.Remove(id)
		if v == nil || v.pins > 0 {
			continue
		}
		victims = append(victims, v)
		c.dropLocked(v)
	}
	if c.opts.MaxBytes > 0 && c.used+n > c.opts.MaxBytes {
		c.mu.Unlock()
		c.log.Warn("cache budget exhausted", "need", n, "used", c.used, "max", c.opts.MaxBytes)
		return ErrNoSpace
	}
	c.used += n
	e.charged += n
	c.mu.Unlock()
	for _, v := range victims {
		c.log.Debug("evicted", "object", v.name, "bytes", v.size)
	}
	if c.opts.MinFree > 0 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(c.dir, &st); err == nil {
			free := int64(st.Bavail) * int64(st.Bsize)
			if free-n < c.opts.MinFree {
				c.mu.Lock()
				c.used -= n
				e.charged -= n
				c.mu.Unlock()
				c.log.Warn("cache file system low on space", "free", free, "min_free", c.opts.MinFree)
				return ErrNoSpace
			}
		}
	}
	return nil
}

// release gives back bytes charged to e beyond keep. LOCKS_EXCLUDED(c.mu)
func (c *Cache) releaseTo(e *Entry, keep int64) {
	c.mu.Lock()
	if e.charged > keep {
		c.used -= e.charged - keep
		e.charged = keep
	}
	c.mu.Unlock()
}

// Lookup returns the live entry of name without pinning it, or nil.
func (c *Cache) Lookup(name string) *Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byName[name]
}

// Open returns the entry for object name, pinned until Release. remote
// describes the object in Swift (nil when it does not exist there). A
// clean cached copy is reused when its fingerprint matches remote; a dirty
// or open one always is (it is the newest content). Otherwise a new entry
// is made, and unless skipDownload, the object is downloaded in the
// background: ReadAt waits only for the bytes it needs.
func (c *Cache) Open(name string, remote *swiftclient.ObjectInfo, skipDownload bool) (*Entry, error) {
	c.mu.Lock()
	if e := c.byName[name]; e != nil {
		c.pinLocked(e) // keeps e from eviction while it is checked
		c.mu.Unlock()
		e.mu.Lock()
		reuse := e.opens > 0 || e.dirty || e.uploading || e.busy
		if !reuse && e.err == nil && e.complete {
			if remote != nil {
				reuse = e.remoteETag != "" && e.remoteETag == remote.ETag && e.size == remote.Size
			} else {
				reuse = e.remoteETag == ""
			}
		}
		if reuse {
			e.opens++
			e.mu.Unlock()
			c.mu.Lock()
			c.hits++
			c.mu.Unlock()
			return e, nil
		}
		e.mu.Unlock()
		// A stale clean copy: forget it.
		c.mu.Lock()
		if c.byName[name] == e {
			c.detachLocked(e)
		}
		c.unpinLocked(e)
	}
	if c.closing {
		c.mu.Unlock()
		return nil, fmt.Errorf("cache: shutting down: %w", syscall.EROFS)
	}
	id := c.nextID
	c.nextID++
	e := newEntry(c, id, name)
	c.entries[id] = e
	c.byName[name] = e
	c.pinLocked(e)
	e.opens++
	c.misses++
	c.mu.Unlock()

	f, err := os.OpenFile(c.dataPath(id), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		e.fail(err)
		c.Release(e)
		return nil, fmt.Errorf("cache: %w", err)
	}
	e.mu.Lock()
	e.f = f
	if remote == nil || skipDownload {
		e.complete = true
		e.size = 0
		e.avail = 0
		if remote != nil {
			e.remoteETag = remote.ETag
		}
		e.mu.Unlock()
		return e, nil
	}
	e.size = remote.Size
	e.remoteETag = remote.ETag
	e.remoteLarge = remote.LargeObject
	e.lastModified = remote.LastModified
	e.busy = true
	e.mu.Unlock()
	if err := c.reserve(e, remote.Size); err != nil {
		e.fail(err)
		c.Release(e)
		return nil, err
	}
	c.mu.Lock()
	c.pinLocked(e) // the download's pin
	c.mu.Unlock()
	go c.download(e, *remote)
	return e, nil
}

// Release ends one Open. When the entry is dirty and no longer open, its
// upload is scheduled after the write-back delay (or done now and waited
// for with SyncWriteBack; its error is returned).
func (c *Cache) Release(e *Entry) error {
	e.mu.Lock()
	e.opens--
	schedule := e.opens == 0 && e.dirty && !e.detached.Load()
	e.mu.Unlock()
	c.mu.Lock()
	c.unpinLocked(e)
	c.mu.Unlock()
	if !schedule {
		return nil
	}
	if c.opts.SyncWriteBack {
		return c.wb.uploadNow(c.ctx, e)
	}
	c.wb.schedule(e, c.opts.Now().Add(c.opts.WriteBackDelay))
	return nil
}

// Rename moves the entry of oldName (if any) to newName, replacing any
// entry of newName. It waits for an upload in flight to finish. It
// reports whether the moved entry is dirty (its content is not yet in Swift
// under any name, or is newer there): then the caller must not copy the
// old object but delete it; the pending upload writes newName.
func (c *Cache) Rename(oldName, newName string) (moved, dirty bool, err error) {
	if oldName != newName {
		c.Remove(newName)
	}
	e := c.Lookup(oldName)
	if e == nil {
		return false, false, nil
	}
	e.mu.Lock()
	for e.uploading {
		e.cond.Wait()
	}
	c.mu.Lock()
	if c.byName[oldName] != e {
		c.mu.Unlock()
		e.mu.Unlock()
		return c.Rename(oldName, newName)
	}
	if old := c.byName[newName]; old != nil && old != e {
		c.detachLocked(old)
	}
	delete(c.byName, oldName)
	c.byName[newName] = e
	e.name = newName
	c.mu.Unlock()
	dirty = e.dirty
	rec := e.recordLocked()
	e.mu.Unlock()
	if dirty || rec.Complete {
		if err := c.saveRecord(rec); err != nil {
			return true, dirty, err
		}
	}
	return true, dirty, nil
}

// detachLocked removes e from the name index; its files go when the last
// pin goes. A pending upload is cancelled. LOCKS_REQUIRED(c.mu)
func (c *Cache) detachLocked(e *Entry) {
	if c.byName[e.name] == e {
		delete(c.byName, e.name)
	}
	e.detached.Store(true)
	if e.pins == 0 {
		c.dropLocked(e)
	}
}

// Remove forgets the entry of name (unlink, or overwrite by rename): a
// pending upload is cancelled; open descriptors keep reading and writing
// the detached copy, which is deleted on the last close.
func (c *Cache) Remove(name string) {
	e := c.Lookup(name)
	if e == nil {
		return
	}
	e.mu.Lock()
	for e.uploading {
		e.cond.Wait()
	}
	wasDirty := e.dirty
	e.dirty = false
	e.mu.Unlock()
	c.wb.cancel(e)
	c.mu.Lock()
	if c.byName[name] == e {
		if wasDirty {
			c.unpinLocked(e) // the dirty pin
		}
		c.detachLocked(e)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Stats is a snapshot of the cache's state for `swiftfs status`.
type Stats struct {
	UsedBytes  int64
	MaxBytes   int64
	Entries    int
	Hits       int64
	Misses     int64
	Dirty      []FileState
	QueueLen   int
	Uploading  int
	Failed     int
	DirtyBytes int64
}

// FileState describes one dirty file.
type FileState struct {
	Name      string
	Size      int64
	State     string // "dirty", "queued", "uploading", "failed"
	Error     string `json:",omitempty"`
	Attempts  int
	NextRetry time.Time `json:",omitzero"`
}

// Stats reports the cache's state.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	s := Stats{UsedBytes: c.used, MaxBytes: c.opts.MaxBytes, Entries: len(c.entries), Hits: c.hits, Misses: c.misses}
	var es []*Entry
	for _, e := range c.entries {
		es = append(es, e)
	}
	c.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		if e.dirty || e.uploading {
			fs := FileState{Name: e.name, Size: e.size, State: "dirty", Attempts: e.attempts, NextRetry: e.nextRetry}
			switch {
			case e.uploading:
				fs.State = "uploading"
				s.Uploading++
			case e.lastErr != nil:
				fs.State = "failed"
				fs.Error = e.lastErr.Error()
				s.Failed++
			case e.queued:
				fs.State = "queued"
				s.QueueLen++
			}
			s.DirtyBytes += e.size
			s.Dirty = append(s.Dirty, fs)
		}
		e.mu.Unlock()
	}
	return s
}

// DirtyNames lists the names of entries not yet uploaded (for the
// namespace overlay after a restart).
func (c *Cache) DirtyNames() map[string]int64 {
	c.mu.Lock()
	var es []*Entry
	for _, e := range c.byName {
		es = append(es, e)
	}
	c.mu.Unlock()
	out := map[string]int64{}
	for _, e := range es {
		e.mu.Lock()
		if e.dirty && !e.detached.Load() {
			out[e.name] = e.size
		}
		e.mu.Unlock()
	}
	return out
}

// SyncAll uploads every dirty entry now and waits until each one is
// durable in Swift, or returns the first failure.
func (c *Cache) SyncAll(ctx context.Context) error {
	c.mu.Lock()
	var es []*Entry
	for _, e := range c.byName {
		es = append(es, e)
	}
	c.mu.Unlock()
	var first error
	for _, e := range es {
		if err := e.Sync(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close stops accepting new entries, drains the upload queue for at most
// timeout, and stops background work. Dirty data that could not be
// uploaded stays in the cache directory for the next run.
func (c *Cache) Close(timeout time.Duration) error {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := c.SyncAll(ctx)
	c.wb.stop()
	c.cancel()
	left := c.DirtyNames()
	if len(left) > 0 {
		c.log.Warn("dirty files left in the cache for the next mount", "count", len(left), "dir", c.dir)
	}
	return err
}
