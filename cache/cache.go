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
	"sync/atomic"
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

// ErrClosed is returned for writes once Close has begun (unmount or
// SIGTERM): the cache drains its queue and accepts no new changes. It
// matches syscall.EROFS.
var ErrClosed = fmt.Errorf("cache: unmounting, writes refused: %w", syscall.EROFS)

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
	// SLOThreshold: files larger than this are uploaded as Static Large
	// Objects (0: SegmentSize).
	SLOThreshold int64
	// SegmentSize is the size of SLO segments (0: 1 GiB); larger for a
	// file that would need more than maxSegments of them.
	SegmentSize int64
	// SegmentPrefix is where SLO segments live in the container (default
	// ".swiftfs-segments/").
	SegmentPrefix string
	// DownloadChunk and DownloadStreams tune parallel ranged downloads of
	// large objects (defaults 32 MiB and 4).
	DownloadChunk   int64
	DownloadStreams int
	// LazyVerify serves downloaded bytes before their checksum was
	// compared (--verify=lazy): a read far into a large object need not
	// wait for its segment, or for a plain object's whole download; a
	// mismatch found after bytes were read fails every later read of that
	// copy. By default no byte is served before it matched (verify.go).
	LazyVerify bool
	// PrefetchWorkers is the number of prefetch downloads running at most
	// (default DefaultPrefetchWorkers; see Prefetch).
	PrefetchWorkers int
	// RetryBackoff is the wait before the first retry of a failed upload
	// (default 1 s); it doubles with every failure up to RetryBackoffMax
	// (default 1 min). PermanentRetry is the wait after a failure that a
	// retry soon will not fix: 403, 413, a refused file check (default 5 min).
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	PermanentRetry  time.Duration
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
	// guard against another writer: create-only for a copy of no object,
	// else a compare with the version this copy came from. When another
	// client changed or created it, our content is uploaded as a conflict
	// copy "<name>.conflict-<host>-<time>" instead, the other version
	// stays, and the failure is reported (ErrConflict). See "Conflicts" in
	// the package documentation.
	CheckConflict func(name string) bool
	Logger        *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time

	// checkInvariants makes every change of the accounting check the
	// invariants (tests).
	checkInvariants bool
	// recordFault, when set, fails the writing of a record (tests).
	recordFault func(name string) error
}

// Cache is the local disk cache of whole objects and the write-back queue.
// See the package documentation for the on-disk layout, the crash protocol
// and the lock order (Entry.mu before Cache.mu before writeback.mu).
type Cache struct {
	opts     Options
	dir      string
	client   swiftclient.Client
	log      *slog.Logger
	ctx      context.Context // for downloads and uploads; cancelled by Close
	cancel   context.CancelFunc
	lockFile *os.File // holds the flock on <dir>/lock until Close

	// closed is set when Close begins: writes and new dirty entries are
	// refused (ErrClosed) from then on.
	closed atomic.Bool
	// inflight is the number of bytes reserved for downloads but not yet
	// written to disk; --cache-min-free counts them as already used.
	inflight atomic.Int64

	mu       sync.Mutex
	nextID   uint64                           // GUARDED_BY(mu)
	byName   map[string]*Entry                // GUARDED_BY(mu): live entries by object name
	entries  map[uint64]*Entry                // GUARDED_BY(mu): every entry, including detached ones
	lru      *simplelru.LRU[uint64, struct{}] // GUARDED_BY(mu): evictable entries
	lruBytes int64                            // GUARDED_BY(mu): sum of charged bytes of the LRU's entries
	used     int64                            // GUARDED_BY(mu): sum of charged bytes, dropping included
	// dropping is the charge of dropped entries whose files are not
	// deleted yet: they count against the budget until they are gone, so
	// that the budget holds on disk too. dropCond (on mu) is signalled
	// when a deletion finished.
	dropping int64 // GUARDED_BY(mu)
	dropCond *sync.Cond
	hits     int64 // GUARDED_BY(mu)
	misses   int64 // GUARDED_BY(mu)
	// hitBytes and missBytes are the sizes of the objects opened from the
	// cache and of those downloaded for an Open. GUARDED_BY(mu)
	hitBytes, missBytes int64
	// unused holds the prefetched entries not opened yet (prefetch.go),
	// with the bytes they were admitted with; unusedBytes is their sum.
	unused      map[uint64]int64 // GUARDED_BY(mu)
	unusedBytes int64            // GUARDED_BY(mu)
	// prefetched, prefetchHits and prefetchWasted count the prefetches
	// started, the prefetched copies opened, and those dropped unopened.
	prefetched, prefetchHits, prefetchWasted int64 // GUARDED_BY(mu)
	// INVARIANT: used == sum of e.charged over entries + dropping.
	// INVARIANT: used <= MaxBytes, except after a recovery found more
	//   dirty data than the budget (then nothing new is admitted until
	//   uploads made room).
	// INVARIANT: e is in lru iff e.pins == 0 && !e.detached (such an
	//   entry is clean and complete: dirty entries and downloads hold a
	//   pin, failed downloads are detached). lruBytes == sum of charged of
	//   the lru's entries.
	// INVARIANT: byName[n] == e implies e.name == n and !e.detached.
	// INVARIANT: every id in unused is in entries.

	bgMu   sync.Mutex
	bgCond *sync.Cond // on bgMu: signalled when bgN drops
	bgN    int        // GUARDED_BY(bgMu): background goroutines running

	gcSeq atomic.Uint64 // names gc files

	wb        *writeback
	conflicts conflictLog
	pf        prefetcher
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
	if opts.SLOThreshold <= 0 {
		opts.SLOThreshold = opts.SegmentSize
	}
	if opts.SegmentPrefix == "" {
		opts.SegmentPrefix = DefaultSegmentPrefix
	}
	if opts.DownloadChunk <= 0 {
		opts.DownloadChunk = 32 << 20
	}
	if opts.DownloadStreams <= 0 {
		opts.DownloadStreams = 4
	}
	if opts.PrefetchWorkers <= 0 {
		opts.PrefetchWorkers = DefaultPrefetchWorkers
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = time.Second
	}
	if opts.RetryBackoffMax <= 0 {
		opts.RetryBackoffMax = time.Minute
	}
	if opts.PermanentRetry <= 0 {
		opts.PermanentRetry = 5 * time.Minute
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
	c.bgCond = sync.NewCond(&c.bgMu)
	c.dropCond = sync.NewCond(&c.mu)
	if err := c.lockDir(); err != nil {
		cancel()
		return nil, err
	}
	c.wb = newWriteback(c)
	gc, err := c.recover()
	if err != nil {
		cancel()
		c.lockFile.Close()
		return nil, err
	}
	c.wb.start()
	for _, g := range gc {
		c.startGC(g)
	}
	return c, nil
}

// lockDir makes sure one daemon at a time uses the cache directory. The
// lock goes with the file descriptor: Close (or the end of the process,
// kill -9 included) releases it.
func (c *Cache) lockDir() error {
	f, err := os.OpenFile(filepath.Join(c.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("cache: directory %s is in use by another swiftfs process", c.dir)
	}
	c.lockFile = f
	return nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// goBackground runs f in a goroutine that Close (and the crash simulation
// of the tests) waits for.
func (c *Cache) goBackground(f func()) {
	c.bgMu.Lock()
	c.bgN++
	c.bgMu.Unlock()
	go func() {
		defer func() {
			c.bgMu.Lock()
			c.bgN--
			c.bgCond.Broadcast()
			c.bgMu.Unlock()
		}()
		f()
	}()
}

func (c *Cache) waitBackground() {
	c.bgMu.Lock()
	for c.bgN > 0 {
		c.bgCond.Wait()
	}
	c.bgMu.Unlock()
}

// unlockChecked checks the accounting invariants (when enabled) and
// unlocks c.mu. LOCKS_REQUIRED(c.mu)
func (c *Cache) unlockChecked() {
	if c.opts.checkInvariants {
		if err := c.invariantsLocked(); err != nil {
			c.mu.Unlock()
			panic(err)
		}
	}
	c.mu.Unlock()
}

// invariantsLocked reports the first broken invariant. LOCKS_REQUIRED(c.mu)
func (c *Cache) invariantsLocked() error {
	var sum, lruSum int64
	for id, e := range c.entries {
		if e.id != id {
			return fmt.Errorf("cache invariant: entry %d filed under %d", e.id, id)
		}
		if e.pins < 0 || e.charged < 0 {
			return fmt.Errorf("cache invariant: entry %d: pins %d, charged %d", id, e.pins, e.charged)
		}
		sum += e.charged
		inLRU := c.lru.Contains(id)
		want := e.pins == 0 && !e.detached.Load()
		if inLRU != want {
			return fmt.Errorf("cache invariant: entry %d (%q): in LRU %v, pins %d, detached %v",
				id, e.name, inLRU, e.pins, e.detached.Load())
		}
		if inLRU {
			lruSum += e.charged
		}
	}
	if c.dropping < 0 || sum+c.dropping != c.used {
		return fmt.Errorf("cache invariant: used %d != sum of charged %d + dropping %d", c.used, sum, c.dropping)
	}
	if lruSum != c.lruBytes {
		return fmt.Errorf("cache invariant: lruBytes %d != %d", c.lruBytes, lruSum)
	}
	for n, e := range c.byName {
		if e.name != n || e.detached.Load() || c.entries[e.id] != e {
			return fmt.Errorf("cache invariant: byName[%q] is entry %d named %q (detached %v)", n, e.id, e.name, e.detached.Load())
		}
	}
	for id := range c.unused {
		if c.entries[id] == nil {
			return fmt.Errorf("cache invariant: unused prefetched entry %d is not in entries", id)
		}
	}
	if c.opts.MaxBytes > 0 && c.used > c.opts.MaxBytes && c.lru.Len() > 0 {
		return fmt.Errorf("cache invariant: used %d over budget %d with %d evictable entries", c.used, c.opts.MaxBytes, c.lru.Len())
	}
	return nil
}

// pinLocked marks e as not evictable. LOCKS_REQUIRED(c.mu)
func (c *Cache) pinLocked(e *Entry) {
	e.pins++
	if c.lru.Remove(e.id) {
		c.lruBytes -= e.charged
	}
}

// unpinLocked undoes pinLocked. At the last pin a detached entry is
// dropped; any other joins the LRU (an unpinned entry is clean and
// complete: dirty entries and running downloads hold a pin, failed ones are
// detached). LOCKS_REQUIRED(c.mu)
func (c *Cache) unpinLocked(e *Entry) {
	e.pins--
	if e.pins < 0 {
		panic("cache: pin count underflow")
	}
	if e.pins > 0 {
		return
	}
	if e.detached.Load() {
		c.dropLocked(e)
		return
	}
	if !c.lru.Contains(e.id) {
		c.lru.Add(e.id, struct{}{})
		c.lruBytes += e.charged
	}
	if c.opts.MaxBytes > 0 && c.used > c.opts.MaxBytes {
		c.trimLocked() // over budget since a recovery: make room
	}
}

// trimLocked evicts clean unpinned entries, oldest first, while the cache
// is over its budget. LOCKS_REQUIRED(c.mu)
func (c *Cache) trimLocked() {
	for c.used > c.opts.MaxBytes {
		id, _, ok := c.lru.GetOldest()
		if !ok {
			return
		}
		if v := c.entries[id]; v != nil {
			c.detachLocked(v)
		} else {
			c.lru.Remove(id)
		}
	}
}

// dropLocked forgets e and deletes its files in the background (no I/O
// under c.mu). LOCKS_REQUIRED(c.mu)
func (c *Cache) dropLocked(e *Entry) {
	if e.dropped.Load() {
		return
	}
	if c.lru.Remove(e.id) {
		c.lruBytes -= e.charged
	}
	delete(c.entries, e.id)
	c.forgetUnusedLocked(e)
	if c.byName[e.name] == e {
		delete(c.byName, e.name)
	}
	e.detached.Store(true)
	freed := e.charged
	e.charged = 0
	c.dropping += freed // still in used until the files are gone
	e.dropped.Store(true)
	id := e.id
	c.goBackground(func() {
		e.closeFile()
		c.removeFiles(id)
		c.mu.Lock()
		c.dropping -= freed
		c.used -= freed
		c.dropCond.Broadcast()
		c.unlockChecked()
		close(e.gone)
	})
}

// detachLocked removes e from the name index: it is no longer found by
// Open or Lookup; open descriptors keep using it and its files go with the
// last pin. The caller removes e's record (see forgetRecordLocked).
// LOCKS_REQUIRED(e.mu, c.mu)
func (c *Cache) detachLocked(e *Entry) {
	if c.byName[e.name] == e {
		delete(c.byName, e.name)
	}
	if !e.detached.Swap(true) {
		if c.lru.Remove(e.id) {
			c.lruBytes -= e.charged
		}
		if e.pins == 0 {
			c.dropLocked(e)
		}
	}
}

// evicted describes an evicted entry, for the log.
type evicted struct {
	name  string
	bytes int64
}

func (c *Cache) logEvicted(victims []evicted) {
	for _, v := range victims {
		c.log.Debug("evicted", "object", v.name, "bytes", v.bytes)
	}
}

// evictLocked drops clean unpinned entries, oldest first, until at least
// need bytes are freed, and returns them. It evicts nothing when the
// evictable bytes cannot cover need. LOCKS_REQUIRED(c.mu)
func (c *Cache) evictLocked(need int64) []evicted {
	if need <= 0 || c.lruBytes < need {
		return nil
	}
	victims, need := c.evictUnusedLocked(need) // prefetched copies never opened go first
	for need > 0 {
		id, _, ok := c.lru.GetOldest()
		if !ok {
			break
		}
		v := c.entries[id]
		if v == nil {
			c.lru.Remove(id)
			continue
		}
		need -= v.charged
		victims = append(victims, evicted{v.name, v.charged})
		c.detachLocked(v) // unpinned: dropped at once
	}
	return victims
}

// errWait: room is being made (files of dropped entries are being
// deleted); wait on dropCond and try again.
var errWait = errors.New("cache: wait for deletions")

// maxRoomWaits bounds the rounds of evicting and waiting of one
// reservation (another process may be filling the file system).
const maxRoomWaits = 100

// roomLocked checks whether n more bytes fit the budget and the file
// system, keeping MinFree plus recordRoom free there (free is a recent
// freeSpace; bytes reserved for downloads and not written yet count as
// used). When they do not, it
// evicts clean unpinned entries (oldest first) and returns errWait when
// that, or the deletions already running, will make room, else
// ErrNoSpace (evicting nothing). LOCKS_REQUIRED(c.mu)
func (c *Cache) roomLocked(n, free int64) ([]evicted, error) {
	if n <= 0 {
		return nil, nil
	}
	short := c.shortLocked(n, free)
	if short <= 0 {
		return nil, nil
	}
	if short > c.lruBytes+c.dropping {
		return nil, ErrNoSpace
	}
	var victims []evicted
	if need := short - c.dropping; need > 0 {
		victims = c.evictLocked(need)
	}
	return victims, errWait
}

// recordRoom is free space on the cache file system that content
// (downloads, writes) never takes, below Options.MinFree: the durable
// records of dirty entries (a few KiB each, rewritten through a temporary
// file) must always find room, or a crash could lose what they describe.
const recordRoom = 1 << 20

// shortLocked returns how many bytes are missing for n more (see
// roomLocked). LOCKS_REQUIRED(c.mu)
func (c *Cache) shortLocked(n, free int64) int64 {
	short := int64(0)
	if max := c.opts.MaxBytes; max > 0 {
		short = c.used + n - max
	}
	if free >= 0 {
		short = max(short, c.opts.MinFree+recordRoom-(free-c.inflight.Load()-n))
	}
	return short
}

// freeSpace returns the free bytes of the cache file system (-1 when
// unknown).
func (c *Cache) freeSpace() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// reserveTo makes sure e is charged at least total bytes (the budget and
// the free space permitting), evicting and waiting for the deletion of
// evicted files when needed, and returns the bytes added. download marks
// them as not yet on disk (see Cache.inflight). LOCKS_EXCLUDED(c.mu)
func (c *Cache) reserveTo(e *Entry, total int64, download bool) (int64, error) {
	var victims []evicted
	defer func() { c.logEvicted(victims) }()
	for waits := 0; ; waits++ {
		c.mu.Lock()
		enough := e.charged >= total
		c.mu.Unlock()
		if enough {
			return 0, nil
		}
		free := c.freeSpace()
		c.mu.Lock()
		n := total - e.charged
		v, err := c.roomLocked(n, free)
		victims = append(victims, v...)
		if err == errWait && waits < maxRoomWaits {
			c.dropCond.Wait()
			c.mu.Unlock()
			continue
		}
		if err != nil {
			used := c.used
			c.mu.Unlock()
			c.log.Warn("cache budget exhausted", "need", n, "used", used, "max", c.opts.MaxBytes,
				"min_free", c.opts.MinFree)
			return 0, ErrNoSpace
		}
		if n > 0 {
			c.used += n
			e.charged += n
			if download {
				c.inflight.Add(n)
			}
		}
		c.unlockChecked()
		return max(n, 0), nil
	}
}

// releaseTo gives back bytes charged to e beyond keep. LOCKS_EXCLUDED(c.mu)
func (c *Cache) releaseTo(e *Entry, keep int64) {
	c.mu.Lock()
	if e.charged > keep && !e.dropped.Load() {
		c.used -= e.charged - keep
		e.charged = keep
	}
	c.unlockChecked()
}

// Lookup returns the live entry of name without pinning it, or nil.
func (c *Cache) Lookup(name string) *Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byName[name]
}

// Open returns the entry for object name, pinned until Release. remote
// describes the object in Swift (nil when it does not exist there). A
// clean cached copy is reused when its fingerprint (ETag and size) matches
// remote; a dirty or open one always is (it is the newest content), and
// so is one being downloaded (one download per object, however many open
// it). Otherwise a new entry is made, and unless skipDownload, the object
// is downloaded in the background: ReadAt waits only for the bytes it
// needs. The download's bytes are charged to the budget at once
// (ErrNoSpace when they do not fit).
func (c *Cache) Open(name string, remote *swiftclient.ObjectInfo, skipDownload bool) (*Entry, error) {
	return c.open(name, remote, skipDownload, false)
}

// open is Open, or with prefetch the Open of a prefetch (prefetch.go): it
// returns nil, nil when name has an entry already or the object does not
// fit the prefetches' share of the budget.
func (c *Cache) open(name string, remote *swiftclient.ObjectInfo, skipDownload, prefetch bool) (*Entry, error) {
	download := remote != nil && !skipDownload
	var victims []evicted
	defer func() { c.logEvicted(victims) }()
	for waits := 0; ; waits++ {
		free := int64(-1)
		if download {
			free = c.freeSpace() // before c.mu: statfs is a system call
		}
		c.mu.Lock()
		e := c.byName[name]
		if e != nil && prefetch {
			c.mu.Unlock()
			return nil, nil
		}
		if e == nil {
			if !download {
				break // with c.mu held
			}
			// Make room for the download before the entry exists.
			room := c.roomLocked
			if prefetch {
				room = c.prefetchRoomLocked
			}
			v, err := room(remote.Size, free)
			victims = append(victims, v...)
			if err == errWait && waits < maxRoomWaits {
				c.dropCond.Wait()
				c.mu.Unlock()
				continue // the name may have an entry now
			}
			if err != nil && prefetch {
				c.mu.Unlock()
				return nil, nil
			}
			if err != nil {
				c.mu.Unlock()
				c.log.Warn("cache budget exhausted: object not downloaded", "object", name, "bytes", remote.Size,
					"max", c.opts.MaxBytes, "min_free", c.opts.MinFree)
				return nil, ErrNoSpace
			}
			break // with c.mu held and room for the download
		}
		c.pinLocked(e) // keeps e from eviction while it is checked
		c.mu.Unlock()
		e.mu.Lock()
		if e.reusableLocked(remote) {
			e.opens++ // the pin is the open's
			size := e.size
			e.mu.Unlock()
			c.mu.Lock()
			c.hits++
			c.hitBytes += size
			c.usedLocked(e)
			c.mu.Unlock()
			return e, nil
		}
		// A stale clean copy, or a failed download: forget it, and look
		// again (another Open may have replaced it meanwhile).
		c.mu.Lock()
		detach := c.byName[name] == e
		if detach {
			c.detachLocked(e)
		}
		c.unpinLocked(e)
		c.unlockChecked()
		if detach {
			c.forgetRecordLocked(e)
		}
		e.mu.Unlock()
	}
	// c.mu is held and name has no entry.
	if c.closed.Load() {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	id := c.nextID
	c.nextID++
	e := newEntry(c, id, name)
	e.busy = true // until the data file is open (and, with download, complete)
	if remote != nil {
		e.remoteETag = remote.ETag
		e.remoteLarge = remote.LargeObject
		e.lastModified = remote.LastModified
	}
	if download {
		e.size = remote.Size
		e.charged = remote.Size
		c.used += remote.Size
		c.inflight.Add(remote.Size)
	}
	c.entries[id] = e
	c.byName[name] = e
	c.pinLocked(e) // the open's pin
	if download {
		c.pinLocked(e) // the download's pin
	}
	e.opens = 1
	switch {
	case prefetch:
		c.addUnusedLocked(e, remote.Size)
	case download:
		c.misses++
		c.missBytes += remote.Size
	default:
		c.misses++
	}
	c.unlockChecked()

	fail := func(err error) (*Entry, error) {
		e.mu.Lock()
		if e.err == nil {
			e.err = err
		}
		e.busy = false
		e.cond.Broadcast()
		c.mu.Lock()
		if download {
			c.inflight.Add(-e.charged)
			c.unpinLocked(e) // the download's pin
		}
		if c.byName[name] == e {
			c.detachLocked(e)
		}
		c.unlockChecked()
		e.mu.Unlock()
		c.Release(e)
		return nil, err
	}
	f, err := os.OpenFile(c.dataPath(id), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(fmt.Errorf("cache: %w", err))
	}
	e.mu.Lock()
	e.f = f
	if !download {
		e.complete = true
		e.busy = false
		e.cond.Broadcast()
		e.mu.Unlock()
		return e, nil
	}
	e.mu.Unlock()
	r := *remote
	c.goBackground(func() { c.download(e, r) })
	return e, nil
}

// Hold opens the entry of name when it holds a complete copy (clean or
// dirty), without any download or check, and returns it; nil when there is
// none. A rename over a file the kernel knows holds the old copy for a
// moment: the kernel may still open the old file through a lookup made
// before the rename. Release undoes a Hold; the entry stays readable after
// Remove (detached) until then.
func (c *Cache) Hold(name string) *Entry {
	c.mu.Lock()
	e := c.byName[name]
	if e == nil {
		c.mu.Unlock()
		return nil
	}
	c.pinLocked(e)
	c.mu.Unlock()
	e.mu.Lock()
	if e.complete && e.err == nil {
		e.opens++ // the pin is the hold's
		e.mu.Unlock()
		return e
	}
	e.mu.Unlock()
	c.mu.Lock()
	c.unpinLocked(e)
	c.unlockChecked()
	return nil
}

// Reopen adds an open to e, which the caller holds open: a further
// descriptor of an open file shares its copy, also when the name has moved
// on meanwhile (the file was renamed over or unlinked and the name's entry,
// if any, is another file's). Each Reopen that returns true is undone by
// a Release; it returns false when e is not open (a caller's mistake).
func (c *Cache) Reopen(e *Entry) bool {
	e.mu.Lock()
	if e.opens <= 0 {
		e.mu.Unlock()
		c.log.Error("cache: Reopen of an entry that is not open", "object", e.Name())
		return false
	}
	e.opens++
	size := e.size
	e.mu.Unlock()
	c.mu.Lock()
	c.pinLocked(e) // the open's pin, as in Open
	c.hits++
	c.hitBytes += size
	c.mu.Unlock()
	return true
}

// Release ends one Open. When the entry is dirty and no longer open, its
// upload is scheduled after the write-back delay (or done now and waited
// for with SyncWriteBack; its error is returned).
func (c *Cache) Release(e *Entry) error {
	e.mu.Lock()
	if e.opens <= 0 {
		e.mu.Unlock()
		c.log.Error("cache: Release without Open (ignored)", "object", e.Name())
		return nil
	}
	e.opens--
	last := e.opens == 0
	schedule := last && e.dirty && !e.detached.Load()
	if last && e.complete {
		// Written files were charged ahead of their size: give back the
		// excess.
		c.releaseTo(e, max(roundBlock(e.size), e.size))
	}
	e.mu.Unlock()
	c.mu.Lock()
	c.unpinLocked(e)
	c.unlockChecked()
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
// entry of newName (which is removed as by Remove). An upload of the
// entry in flight is cancelled: a dirty entry is uploaded once, later,
// under newName. Rename reports whether the moved entry is dirty (its
// content is not yet in Swift under any name, or is newer there): then the
// caller must not copy the old object but delete it; the pending upload
// writes newName.
func (c *Cache) Rename(oldName, newName string) (moved, dirty bool, err error) {
	moved, dirty, _, err = c.RenameEntry(oldName, newName)
	return moved, dirty, err
}

// RenameEntry is Rename that also reports whether the entry's content may
// exist in Swift under oldName: an upload of it began in this run (stopped,
// failed or cut short by a write, its PUT may still have landed), or the
// entry came from Swift. The caller should then delete oldName; a file created here
// and never uploaded has nothing to delete (the Butler's temp names).
func (c *Cache) RenameEntry(oldName, newName string) (moved, dirty, mayExist bool, err error) {
	overOwn := false
	for {
		if oldName != newName && c.remove(newName) {
			overOwn = true
		}
		c.mu.Lock()
		e := c.byName[oldName]
		if e == nil {
			c.mu.Unlock()
			return false, false, false, nil
		}
		c.pinLocked(e)
		c.mu.Unlock()
		e.mu.Lock()
		if e.uploading {
			e.cancelUpload(errRenamed)
			e.waitUploadLocked(context.Background())
		}
		c.mu.Lock()
		if c.byName[oldName] != e || (oldName != newName && c.byName[newName] != nil) {
			// Changed while we waited: start again.
			c.unpinLocked(e)
			c.unlockChecked()
			e.mu.Unlock()
			continue
		}
		delete(c.byName, oldName)
		c.byName[newName] = e
		e.name = newName
		c.unpinLocked(e)
		c.unlockChecked()
		dirty = e.dirty
		if overOwn && dirty {
			e.overOwn = true
		}
		mayExist = e.putTried || e.remoteETag != "" // putTried covers uploads stopped or finished
		if dirty || (e.complete && e.err == nil) {
			err = e.saveRecordLocked()
		}
		e.mu.Unlock()
		return true, dirty, mayExist, err
	}
}

// Remove forgets the entry of name (unlink, or overwrite by rename): a
// pending upload is cancelled (one in flight is stopped), the durable
// record goes at once (so a crash cannot resurrect the file), and open
// descriptors keep reading and writing the detached copy, which is deleted
// on the last close. The SLO segments the entry wrote (of its last upload,
// and of unfinished ones) are deleted in the background; the caller
// deletes the object itself.
func (c *Cache) Remove(name string) { c.remove(name) }

// remove is Remove; it reports whether the removed entry was a version
// of ours not known to be in Swift (dirty, or an upload begun since its
// last commit that may have landed): the object under name may then be
// ours, which no check could tell from another writer's.
func (c *Cache) remove(name string) (ownMayExist bool) {
	for {
		c.mu.Lock()
		e := c.byName[name]
		if e == nil {
			c.mu.Unlock()
			return false
		}
		c.pinLocked(e)
		c.mu.Unlock()
		e.mu.Lock()
		commits := e.commits
		if e.uploading {
			e.cancelUpload(errRemoved)
			e.waitUploadLocked(context.Background())
		}
		c.mu.Lock()
		if c.byName[name] != e {
			c.unpinLocked(e)
			c.unlockChecked()
			e.mu.Unlock()
			continue
		}
		// The upload stopped may have reached Swift all the same: then
		// the object is ours to delete (the caller may not know it
		// exists), before a rename puts something else there.
		uploaded := e.commits != commits
		// A version of ours was pending: the object under name may be
		// its upload (landed, stopped after its PUT, or an older one).
		ownMayExist = (e.dirty || e.unconfirmed) && !uploaded
		large := e.remoteLarge
		if e.dirty {
			e.dirty = false
			c.unpinLocked(e) // the dirty pin
		}
		c.detachLocked(e)
		c.unpinLocked(e) // ours: may drop e
		c.unlockChecked()
		// The segments of the entry's last upload go too: the object
		// naming them is being deleted by the caller, or was already
		// (a dirty entry renamed: the old manifest went without them).
		for _, n := range e.segments {
			e.journal = append(e.journal, garbage{Name: n})
		}
		e.segments = nil
		c.forgetRecordLocked(e)
		e.mu.Unlock()
		c.wb.cancel(e)
		if uploaded {
			ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
			err := c.client.Delete(ctx, name, swiftclient.DeleteOptions{MultipartManifest: large})
			cancel()
			if err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
				c.log.Error("removed file was uploaded as it was removed and could not be deleted from Swift",
					"object", name, "err", err)
			}
		}
		return ownMayExist
	}
}

// Stats is a snapshot of the cache's state for `swiftfs status`.
type Stats struct {
	UsedBytes  int64
	MaxBytes   int64
	Entries    int
	Hits       int64
	Misses     int64
	HitBytes   int64 // sizes of the objects opened from the cache
	MissBytes  int64 // sizes of the objects downloaded for an Open
	Dirty      []FileState
	QueueLen   int
	Uploading  int
	Failed     int
	DirtyBytes int64
	// Conflicts are the uploads diverted to conflict copies since the
	// mount began (the latest maxConflicts).
	Conflicts []Conflict `json:",omitempty"`
	// ConflictsTotal counts every upload diverted to a conflict copy since
	// the mount began (Conflicts keeps only the latest).
	ConflictsTotal int64 `json:",omitempty"`

	// Prefetched counts the prefetch downloads started, PrefetchHits the
	// prefetched copies opened, PrefetchWasted those dropped unopened.
	Prefetched, PrefetchHits, PrefetchWasted int64
}

// FileState describes one dirty file.
type FileState struct {
	Name string
	Size int64
	// State is "dirty" (open, or waiting for its last close), "queued"
	// (waiting for the write-back delay or a retry), "uploading", or
	// "failed" (the last upload failed; retried at NextRetry).
	State string
	Error string `json:",omitempty"`
	// Permanent is set when the failure needs attention (403, quota 413,
	// a refused file check): retries are rare until it is fixed.
	Permanent bool `json:",omitempty"`
	Attempts  int
	NextRetry time.Time `json:",omitzero"`
	// Since is when the file became dirty (its first change since it was
	// last in Swift; for a file recovered from an earlier run, the last
	// change of its data file).
	Since time.Time `json:",omitzero"`
}

// Stats reports the cache's state.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	s := Stats{UsedBytes: c.used, MaxBytes: c.opts.MaxBytes, Entries: len(c.entries), Hits: c.hits, Misses: c.misses,
		HitBytes: c.hitBytes, MissBytes: c.missBytes, Conflicts: c.conflicts.list(), ConflictsTotal: c.conflicts.count(),
		Prefetched: c.prefetched, PrefetchHits: c.prefetchHits, PrefetchWasted: c.prefetchWasted}
	var es []*Entry
	for _, e := range c.entries {
		es = append(es, e)
	}
	c.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		if (e.dirty || e.uploading) && !e.detached.Load() {
			fs := FileState{Name: e.name, Size: e.size, State: "dirty", Attempts: e.attempts, Since: e.dirtySince}
			switch {
			case e.uploading:
				fs.State = "uploading"
				s.Uploading++
			case e.lastErr != nil:
				fs.State = "failed"
				fs.Error = e.lastErr.Error()
				fs.Permanent = permanent(e.lastErr)
				fs.NextRetry = e.nextRetry
				s.Failed++
			case c.wb.isQueued(e):
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
	out := map[string]int64{}
	for _, e := range c.live() {
		e.mu.Lock()
		if e.dirty && !e.detached.Load() {
			out[e.name] = e.size
		}
		e.mu.Unlock()
	}
	return out
}

func (c *Cache) live() []*Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	es := make([]*Entry, 0, len(c.byName))
	for _, e := range c.byName {
		es = append(es, e)
	}
	return es
}

// SyncAll uploads every dirty entry now (Uploaders at a time) and waits
// until each one is durable in Swift, or returns the first failure. Uploads
// diverted to conflict copies since the last SyncAll (in the background
// too) make it fail, naming the copies, once.
func (c *Cache) SyncAll(ctx context.Context) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, c.opts.Uploaders)
	for _, e := range c.live() {
		if !e.Dirty() && !e.isUploading() {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			if first == nil {
				first = ctx.Err()
			}
			mu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := e.Sync(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := c.conflicts.take(); err != nil && (first == nil || errors.Is(first, ErrConflict)) {
		first = err
	}
	return first
}

// Close stops accepting writes (ErrClosed), uploads what is dirty for at
// most timeout, then stops background work and releases the cache
// directory. Dirty data that could not be uploaded stays in the cache
// directory for the next run, which uploads it first. Reads of open
// entries keep working.
func (c *Cache) Close(timeout time.Duration) error {
	if c.closed.Swap(true) {
		return nil
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := c.SyncAll(ctx)
	c.cancel() // stops uploads and downloads still running
	c.wb.stop()
	c.waitBackground()
	left := c.DirtyNames()
	if len(left) > 0 {
		c.log.Warn("dirty files left in the cache for the next mount", "count", len(left), "dir", c.dir,
			"waited", time.Since(start).Round(time.Millisecond), "err", err)
		if err == nil {
			err = fmt.Errorf("cache: %d files not uploaded; they stay in %s for the next mount", len(left), c.dir)
		}
	}
	c.lockFile.Close()
	return err
}

// ChecksConflict reports whether uploads of name are checked against the
// version in Swift (Options.CheckConflict).
func (c *Cache) ChecksConflict(name string) bool {
	return c.opts.CheckConflict != nil && c.opts.CheckConflict(name)
}

// SetConflictBase records, for a dirty entry, which version of the object
// in Swift it is meant to replace (etag "" for none): after a rename over
// an object, it is the overwritten object's version, not the version the
// copy was once downloaded or uploaded as (see Options.CheckConflict).
func (c *Cache) SetConflictBase(name, etag string) {
	e := c.Lookup(name)
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.dirty {
		e.remoteETag = etag
		e.remoteLarge = false
	}
	e.mu.Unlock()
}
