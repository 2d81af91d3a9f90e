package cache

import (
	"context"
	"fmt"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is the local copy of one object: a data file in data/<id>, shared by
// every descriptor open on the object.
type Entry struct {
	c  *Cache
	id uint64

	// Fields guarded by Cache.mu.
	pins      int         // opens + 1 if dirty + 1 while downloading
	charged   int64       // bytes charged to the budget
	evictable bool        // clean and complete: may join the LRU when unpinned
	detached  atomic.Bool // removed from the name index (unlinked or replaced)
	dropped   atomic.Bool // files deleted

	mu   sync.Mutex
	cond *sync.Cond // on mu: download progress, upload completion

	name string   // GUARDED_BY(mu) (written also under Cache.mu)
	f    *os.File // GUARDED_BY(mu) for replacement; used for I/O without mu
	// size is the length of the content (the remote size while downloading).
	size         int64  // GUARDED_BY(mu)
	opens        int    // GUARDED_BY(mu)
	complete     bool   // GUARDED_BY(mu): the whole content is on disk
	busy         bool   // GUARDED_BY(mu): a download is running
	avail        int64  // GUARDED_BY(mu): single-stream download progress
	chunks       []span // GUARDED_BY(mu): parallel download progress
	err          error  // GUARDED_BY(mu): download failure, reported to readers
	remoteETag   string // GUARDED_BY(mu): the version this copy came from or was uploaded as
	remoteLarge  bool   // GUARDED_BY(mu)
	lastModified time.Time
	dirty        bool // GUARDED_BY(mu): content differs from Swift
	gen          int64
	uploading    bool // GUARDED_BY(mu)
	queued       bool // GUARDED_BY(mu)
	attempts     int
	lastErr      error
	nextRetry    time.Time
	contentType  string            // GUARDED_BY(mu)
	meta         map[string]string // GUARDED_BY(mu)
	segments     []string          // GUARDED_BY(mu): segments of the last SLO upload
}

type span struct{ start, end, done int64 }

func newEntry(c *Cache, id uint64, name string) *Entry {
	e := &Entry{c: c, id: id, name: name}
	e.cond = sync.NewCond(&e.mu)
	return e
}

// Name returns the object name the entry is currently stored under.
func (e *Entry) Name() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.name
}

// Size returns the content length.
func (e *Entry) Size() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.size
}

// Dirty reports whether the content is not yet in Swift.
func (e *Entry) Dirty() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dirty
}

// Complete reports whether the whole content is on local disk.
func (e *Entry) Complete() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.complete && e.err == nil
}

// File returns the data file, for kernel passthrough. Valid while the
// entry is open.
func (e *Entry) File() *os.File {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.f
}

func (e *Entry) fail(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.busy = false
	e.cond.Broadcast()
	e.mu.Unlock()
}

func (e *Entry) closeFile() {
	e.mu.Lock()
	f := e.f
	e.f = nil
	e.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// SetAttrs sets the content type and user metadata the next upload sends.
func (e *Entry) SetAttrs(contentType string, meta map[string]string) {
	e.mu.Lock()
	e.contentType = contentType
	e.meta = maps.Clone(meta)
	e.mu.Unlock()
}

// availableLocked reports whether [off, end) is on disk. LOCKS_REQUIRED(mu)
func (e *Entry) availableLocked(off, end int64) bool {
	if e.complete {
		return true
	}
	if e.chunks == nil {
		return e.avail >= end
	}
	for i := range e.chunks {
		s := &e.chunks[i]
		if s.end <= off || s.start >= end {
			continue
		}
		need := min(end, s.end)
		if s.start+s.done < need {
			return false
		}
	}
	return true
}

// ReadAt reads from the local copy, waiting until the bytes it needs are
// downloaded (not for the whole object).
func (e *Entry) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	e.mu.Lock()
	end := min(off+int64(len(p)), e.size)
	for !e.availableLocked(off, end) && e.err == nil {
		if ctx.Err() != nil {
			e.mu.Unlock()
			return 0, ctx.Err()
		}
		e.cond.Wait()
	}
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return 0, err
	}
	f := e.f
	size := e.size
	e.mu.Unlock()
	if off >= size {
		return 0, nil
	}
	if int64(len(p)) > size-off {
		p = p[:size-off]
	}
	n, err := f.ReadAt(p, off)
	if err != nil && n == len(p) {
		err = nil
	}
	return n, err
}

// waitCompleteLocked waits for the download to finish. LOCKS_REQUIRED(mu)
func (e *Entry) waitCompleteLocked() error {
	for !e.complete && e.err == nil {
		e.cond.Wait()
	}
	return e.err
}

// markDirtyLocked records durably that the content will differ from Swift,
// before the change is made. LOCKS_REQUIRED(mu)
func (e *Entry) markDirtyLocked() error {
	if e.dirty {
		return nil
	}
	e.c.mu.Lock()
	if e.c.closing {
		e.c.mu.Unlock()
		return fmt.Errorf("cache: unmounting, writes refused: %w", errReadOnly)
	}
	e.c.mu.Unlock()
	e.dirty = true
	e.lastErr = nil
	rec := e.recordLocked()
	if err := e.c.saveRecord(rec); err != nil {
		e.dirty = false
		return err
	}
	e.c.mu.Lock()
	e.evictable = false
	e.c.pinLocked(e) // the dirty pin
	e.c.mu.Unlock()
	e.c.wb.cancel(e) // an upload scheduled earlier waits for the next close
	return nil
}

// MarkDirty makes the entry dirty without changing its content (a new empty
// file, or new metadata to upload).
func (e *Entry) MarkDirty() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.waitCompleteLocked(); err != nil {
		return err
	}
	if err := e.markDirtyLocked(); err != nil {
		return err
	}
	e.gen++
	return nil
}

// WriteAt writes to the local copy, after the download finished. The first
// write makes the entry dirty, durably.
func (e *Entry) WriteAt(p []byte, off int64) (int, error) {
	e.mu.Lock()
	if err := e.waitCompleteLocked(); err != nil {
		e.mu.Unlock()
		return 0, err
	}
	if err := e.markDirtyLocked(); err != nil {
		e.mu.Unlock()
		return 0, err
	}
	end := off + int64(len(p))
	f := e.f
	e.mu.Unlock()
	if err := e.grow(end); err != nil {
		return 0, err
	}
	n, err := f.WriteAt(p, off)
	e.mu.Lock()
	if off+int64(n) > e.size {
		e.size = off + int64(n)
	}
	e.gen++
	e.mu.Unlock()
	return n, err
}

// grow charges the budget for a content of end bytes (in 1 MiB steps).
func (e *Entry) grow(end int64) error {
	e.c.mu.Lock()
	charged := e.charged
	e.c.mu.Unlock()
	if end <= charged {
		return nil
	}
	const step = 1 << 20
	want := (end + step - 1) / step * step
	return e.c.reserve(e, want-charged)
}

// Truncate changes the content length.
func (e *Entry) Truncate(size int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.waitCompleteLocked(); err != nil {
		return err
	}
	if size == e.size && e.dirty {
		return nil
	}
	if err := e.markDirtyLocked(); err != nil {
		return err
	}
	if size > e.size {
		e.mu.Unlock()
		err := e.grow(size)
		e.mu.Lock()
		if err != nil {
			return err
		}
	}
	if err := e.f.Truncate(size); err != nil {
		return err
	}
	e.size = size
	e.gen++
	if size == 0 {
		e.c.releaseTo(e, 0)
	}
	return nil
}

// Sync uploads the entry now if it is dirty and waits until Swift has it
// (the fsync barrier). It returns the upload's error.
func (e *Entry) Sync(ctx context.Context) error {
	e.mu.Lock()
	dirty := e.dirty || e.uploading
	e.mu.Unlock()
	if !dirty {
		return nil
	}
	return e.c.wb.uploadNow(ctx, e)
}

// LastError returns the last upload failure, if the entry is still dirty.
func (e *Entry) LastError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.dirty {
		return nil
	}
	return e.lastErr
}

// recordLocked returns the durable record of e. LOCKS_REQUIRED(mu)
func (e *Entry) recordLocked() record {
	return record{ID: e.id, Name: e.name, Size: e.size, Complete: e.complete && e.err == nil,
		Dirty: e.dirty, ContentType: e.contentType, Meta: maps.Clone(e.meta), RemoteETag: e.remoteETag,
		LastModified: e.lastModified, Segments: append([]string(nil), e.segments...)}
}
