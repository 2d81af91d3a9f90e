package cache

import (
	"slices"
	"sync"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// Prefetching: downloads of objects a reader is expected to open next
// (package fs decides which: fs/prefetch.go). A prefetch is an Open
// without a caller: the entry is made and downloaded as for Open (same
// verification, same budget accounting), then released, so that the
// reader's Open finds it complete or shares the download in flight. The
// GETs of prefetches run Options.PrefetchWorkers at a time; a worker waits
// for its download before it takes the next name.
//
// Budget: a prefetch never waits for room that other prefetched copies
// would have to give up, and never evicts them: it is skipped when the
// budget is full and the evictable entries include prefetched copies not
// opened yet ("unused"), when unused copies would exceed a quarter of the
// budget or maxUnused entries, and when the object has an entry already
// (whatever its state: no second GET). Unused copies are the first ones
// evicted for anything else (evictUnusedLocked). Dirty data is never
// evicted (only the LRU's clean unpinned entries are).

const (
	// DefaultPrefetchWorkers is the number of prefetch GETs in flight at
	// most (Options.PrefetchWorkers).
	DefaultPrefetchWorkers = 8
	// maxUnused bounds the prefetched copies not opened yet.
	maxUnused = 1024
	// maxPrefetchQueue bounds the names waiting for a worker.
	maxPrefetchQueue = 4096
)

type prefetchItem struct {
	key  string
	info swiftclient.ObjectInfo
}

// prefetcher is the queue of prefetches and its workers. mu is a leaf.
type prefetcher struct {
	mu      sync.Mutex
	queue   []prefetchItem // GUARDED_BY(mu)
	running int            // GUARDED_BY(mu): workers
}

// Prefetch queues downloads of objs, as key's (package fs: a directory)
// prefetches, for objects that have no entry yet when a worker gets to
// them. It does not wait.
func (c *Cache) Prefetch(key string, objs []swiftclient.ObjectInfo) {
	if len(objs) == 0 || c.closed.Load() {
		return
	}
	p := &c.pf
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range objs {
		if len(p.queue) >= maxPrefetchQueue {
			break
		}
		p.queue = append(p.queue, prefetchItem{key, o})
	}
	for p.running < c.opts.PrefetchWorkers && p.running < len(p.queue) {
		p.running++
		c.goBackground(c.prefetchWorker)
	}
}

// CancelPrefetch drops key's prefetches that no worker has started. The
// ones running finish (their GET was sent).
func (c *Cache) CancelPrefetch(key string) {
	p := &c.pf
	p.mu.Lock()
	p.queue = slices.DeleteFunc(p.queue, func(it prefetchItem) bool { return it.key == key })
	p.mu.Unlock()
}

// PrefetchIdle reports whether no prefetch is queued or running.
func (c *Cache) PrefetchIdle() bool {
	p := &c.pf
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running == 0 && len(p.queue) == 0
}

func (c *Cache) prefetchWorker() {
	p := &c.pf
	for {
		p.mu.Lock()
		if len(p.queue) == 0 || c.ctx.Err() != nil {
			p.running--
			p.mu.Unlock()
			return
		}
		it := p.queue[0]
		p.queue = p.queue[1:]
		if len(p.queue) == 0 {
			p.queue = nil // let the array go
		}
		p.mu.Unlock()
		c.prefetchOne(it.info)
	}
}

// prefetchOne downloads one object unless it has an entry or does not
// fit, and waits until the download is over.
func (c *Cache) prefetchOne(info swiftclient.ObjectInfo) {
	e, err := c.open(info.Name, &info, false, true)
	if err != nil || e == nil {
		return
	}
	c.Release(e) // the download's pin keeps it until it is complete
	e.mu.Lock()
	for e.busy {
		e.cond.Wait()
	}
	e.mu.Unlock()
}

// prefetchRoomLocked is roomLocked for a prefetch: ErrNoSpace, evicting
// nothing, when room would cost unused prefetched copies or the unused
// copies would grow past their bounds. LOCKS_REQUIRED(c.mu)
func (c *Cache) prefetchRoomLocked(n, free int64) ([]evicted, error) {
	if len(c.unused) >= maxUnused || (c.opts.MaxBytes > 0 && c.unusedBytes+n > c.opts.MaxBytes/4) {
		return nil, ErrNoSpace
	}
	if c.shortLocked(n, free) > 0 {
		for id := range c.unused {
			if c.lru.Contains(id) {
				return nil, ErrNoSpace
			}
		}
	}
	return c.roomLocked(n, free)
}

// logDownloadFailed logs a failed download: at error level, except for a
// prefetch nobody opened (the object may well have been deleted since the
// listing; a reader's open then downloads again, and fails visibly).
// LOCKS_REQUIRED(e.mu) LOCKS_EXCLUDED(c.mu)
func (c *Cache) logDownloadFailed(e *Entry, name string, err error) {
	c.mu.Lock()
	_, unused := c.unused[e.id]
	c.mu.Unlock()
	if unused {
		c.log.Debug("prefetch failed", "object", name, "err", err)
		return
	}
	c.log.Error("download failed", "object", name, "err", err)
}

// addUnusedLocked records e, just made by a prefetch. LOCKS_REQUIRED(c.mu)
func (c *Cache) addUnusedLocked(e *Entry, size int64) {
	if c.unused == nil {
		c.unused = map[uint64]int64{}
	}
	c.unused[e.id] = size
	c.unusedBytes += size
	c.prefetched++
}

// usedLocked notes an Open of e: a prefetched copy is unused no more.
// LOCKS_REQUIRED(c.mu)
func (c *Cache) usedLocked(e *Entry) {
	if size, ok := c.unused[e.id]; ok {
		delete(c.unused, e.id)
		c.unusedBytes -= size
		c.prefetchHits++
	}
}

// forgetUnusedLocked notes that e is dropped. LOCKS_REQUIRED(c.mu)
func (c *Cache) forgetUnusedLocked(e *Entry) {
	if size, ok := c.unused[e.id]; ok {
		delete(c.unused, e.id)
		c.unusedBytes -= size
		c.prefetchWasted++
	}
}

// evictUnusedLocked evicts unused prefetched copies that are evictable
// until need bytes are freed, and returns them with what remains to be
// freed. LOCKS_REQUIRED(c.mu)
func (c *Cache) evictUnusedLocked(need int64) ([]evicted, int64) {
	var victims []evicted
	for id := range c.unused {
		if need <= 0 {
			break
		}
		v := c.entries[id]
		if v == nil || !c.lru.Contains(id) {
			continue
		}
		need -= v.charged
		victims = append(victims, evicted{v.name, v.charged})
		c.detachLocked(v) // unpinned: dropped at once (deleting it from c.unused)
	}
	return victims, need
}
