package cache

import (
	"context"
	"errors"
	"maps"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// Entry is the local copy of one object: a data file in data/<id>, shared by
// every descriptor open on the object.
type Entry struct {
	c    *Cache
	id   uint64
	gone chan struct{} // closed when the files of a dropped entry are deleted

	// pins counts the reasons to keep the entry: one per Open, one while
	// dirty, one while a download runs. GUARDED_BY(Cache.mu)
	pins int
	// charged is the number of bytes charged to the budget. GUARDED_BY(Cache.mu)
	charged int64
	// detached: removed from the name index (unlinked, replaced, stale or
	// failed); set under Cache.mu. INVARIANT: a detached entry has no
	// durable record, is never uploaded, and is dropped at its last pin.
	detached atomic.Bool
	dropped  atomic.Bool // set under Cache.mu: files being deleted

	mu   sync.Mutex
	cond *sync.Cond // on mu: download progress

	// name is the object name. GUARDED_BY(mu), written only with Cache.mu
	// held too, so either lock suffices to read it.
	name string
	f    *os.File // GUARDED_BY(mu) for replacement; used for I/O without mu
	// size is the length of the content (the remote size while downloading).
	size         int64        // GUARDED_BY(mu)
	opens        int          // GUARDED_BY(mu)
	complete     bool         // GUARDED_BY(mu): the whole content is on disk (and verified)
	busy         bool         // GUARDED_BY(mu): being set up or downloaded
	avail        int64        // GUARDED_BY(mu): single-stream download progress
	chunks       []*span      // GUARDED_BY(mu): parallel download progress, sorted by offset (ranged.go)
	units        []*checkUnit // GUARDED_BY(mu): the parallel download's check units, sorted by offset (verify.go)
	pdl          *parallel    // GUARDED_BY(mu): the parallel download running, for reads to demand bytes
	err          error        // GUARDED_BY(mu): download failure, reported to readers
	remoteETag   string       // GUARDED_BY(mu): the version this copy came from or was uploaded as
	remoteLarge  bool         // GUARDED_BY(mu): that version is a large object (SLO/DLO manifest)
	lastModified time.Time
	// dirty: the content (or attributes) differ from Swift. INVARIANT:
	// dirty implies a durable record saying so and a pin.
	dirty      bool      // GUARDED_BY(mu)
	dirtySince time.Time // GUARDED_BY(mu): when dirty was last set (Stats)
	gen        int64     // GUARDED_BY(mu): bumped by every change
	// writing counts WriteAt calls between their two critical sections
	// (the bytes go to the file without mu). INVARIANT: an upload makes
	// the entry clean only when gen is unchanged since its snapshot and
	// writing == 0.
	writing int // GUARDED_BY(mu)
	// uploading is set while an upload runs; uploadDone is closed and
	// uploadCancel cancels it. INVARIANT: uploading implies dirty.
	uploading    bool                    // GUARDED_BY(mu)
	uploadDone   chan struct{}           // GUARDED_BY(mu)
	uploadCancel context.CancelCauseFunc // GUARDED_BY(mu)
	uploadGuard  *uploadGuard            // GUARDED_BY(mu): set while an upload streams the file unverified (putLive)
	commits      int64                   // GUARDED_BY(mu): uploads that reached Swift under the entry's name
	putTried     bool                    // GUARDED_BY(mu): an upload of the entry began in this run (its PUT may have landed, whatever it returned)
	attempts     int                     // GUARDED_BY(mu): failed uploads since the last success
	lastErr      error                   // GUARDED_BY(mu)
	nextRetry    time.Time               // GUARDED_BY(mu)
	contentType  string                  // GUARDED_BY(mu)
	meta         map[string]string       // GUARDED_BY(mu); replaced, never modified in place
	// segments are the SLO segments of the manifest this entry uploaded
	// last (the object in Swift refers to them). GUARDED_BY(mu)
	segments []string
	// journal lists objects written by uploads that have not (or not
	// knowingly) been committed: segments of a failed or interrupted SLO
	// upload, and manifest-only copies of the large object being replaced
	// (kind "manifest"). They are deleted once the next upload of this
	// entry succeeded. GUARDED_BY(mu)
	journal []garbage
	// superseded is set once the large object this entry replaces is
	// preserved in a journalled manifest copy. GUARDED_BY(mu)
	superseded bool
	// partial is what a failed SLO upload achieved, for the next attempt
	// to resume (its segments are in the journal). GUARDED_BY(mu)
	partial *sloPartial
	// unconfirmed: an upload began since the last one that committed
	// (its PUT may have landed, whatever it returned). GUARDED_BY(mu)
	unconfirmed bool
	// overOwn: renamed over an entry of this mount still pending (dirty,
	// or unconfirmed): the object under the name may be our own version,
	// which no check could tell from another writer's, so the next upload
	// overwrites without one. GUARDED_BY(mu)
	overOwn bool
	// unsaved: the last record write failed (the durable record is older
	// than the entry's state). GUARDED_BY(mu)
	unsaved bool
}

// sloPartial describes the segments of an SLO upload that did not
// complete. Those with an ETag are in Swift with that content.
type sloPartial struct {
	gen     int64 // the content generation they were cut from
	size    int64
	segSize int64
	segs    []swiftclient.Segment
}

func newEntry(c *Cache, id uint64, name string) *Entry {
	e := &Entry{c: c, id: id, name: name, gone: make(chan struct{})}
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

func (e *Entry) isUploading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.uploading
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

func (e *Entry) closeFile() {
	e.mu.Lock()
	f := e.f
	e.f = nil
	e.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// reusableLocked decides whether Open may hand out this entry for remote
// (the object as the caller sees it in Swift, nil when absent).
// LOCKS_REQUIRED(mu)
func (e *Entry) reusableLocked(remote *swiftclient.ObjectInfo) bool {
	switch {
	case e.dirty || e.uploading:
		return true // the newest content
	case e.err != nil:
		return false // a failed download: fetch again
	case e.opens > 0:
		// Open elsewhere: one copy for every descriptor (a stale copy
		// replaced now would lose what its writers write next).
		return true
	case e.busy:
		// Being downloaded: share the download unless the caller knows
		// of another version.
		return remote == nil || remote.ETag == "" || remote.ETag == e.remoteETag
	case !e.complete:
		return false
	case remote == nil:
		// The caller saw no object, yet this copy is in Swift (or came
		// from there): its view is older than ours, typically a listing
		// taken before our own upload finished. Handing out an empty
		// copy instead would lose the content. (Had another client
		// deleted the object, the caller would not be opening the name.)
		return true
	}
	// A clean complete copy: reuse it when the fingerprint matches. The
	// modification time is not compared: a POST changes it without
	// changing the content, which ETag and size identify.
	return e.remoteETag != "" && e.remoteETag == remote.ETag && e.size == remote.Size
}

// SetAttrs sets the content type and user metadata the next upload sends.
// On a dirty entry the change is recorded durably and, when an upload is
// running, makes the entry stay dirty for another one.
func (e *Entry) SetAttrs(contentType string, meta map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.contentType == contentType && maps.Equal(e.meta, meta) {
		return
	}
	e.contentType = contentType
	e.meta = maps.Clone(meta)
	if e.dirty {
		e.gen++
		if err := e.saveRecordLocked(); err != nil {
			e.recordNotSavedLocked(err)
		}
	}
}

// availableLocked reports whether [off, end) is on disk. LOCKS_REQUIRED(mu)
func (e *Entry) availableLocked(off, end int64) bool {
	if e.complete {
		return true
	}
	if end <= off {
		return true
	}
	if e.chunks == nil {
		return e.avail >= end
	}
	i := sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].end > off })
	for ; i < len(e.chunks) && e.chunks[i].start < end; i++ {
		s := e.chunks[i]
		if s.start+s.done < min(end, s.end) {
			return false
		}
	}
	return true
}

// waitLocked waits on e.cond until woken or ctx is done.
// LOCKS_REQUIRED(mu)
func (e *Entry) waitLocked(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
	e.cond.Wait()
	stop()
	return ctx.Err()
}

// ReadAt reads from the local copy, waiting until the bytes it needs are
// downloaded (not for the whole object), or ctx is done. During a parallel
// download, bytes no stream is about to reach are fetched at once with
// ranged GETs of their own (Entry.demandLocked).
func (e *Entry) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	e.mu.Lock()
	for {
		if e.err != nil {
			err := e.err
			e.mu.Unlock()
			return 0, err
		}
		end := min(off+int64(len(p)), e.size)
		if e.availableLocked(off, end) && (e.f != nil || off >= e.size) && e.checkedLocked(off, end) {
			break
		}
		if doff, dend, ok := e.demandRangeLocked(off, end); ok {
			e.demandLocked(doff, dend)
		}
		if err := e.waitLocked(ctx); err != nil {
			e.mu.Unlock()
			return 0, err
		}
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

// waitCompleteLocked waits for the set-up or download to finish.
// LOCKS_REQUIRED(mu)
func (e *Entry) waitCompleteLocked() error {
	for !e.complete && e.err == nil {
		e.cond.Wait()
	}
	return e.err
}

// markDirtyLocked records durably that the content will differ from Swift,
// before the change is made. A detached entry (unlinked while open) takes
// changes without a record: they go with its last close.
// LOCKS_REQUIRED(mu) LOCKS_EXCLUDED(Cache.mu)
func (e *Entry) markDirtyLocked() error {
	c := e.c
	if c.closed.Load() {
		return ErrClosed
	}
	if e.detached.Load() {
		return nil
	}
	if e.dirty {
		if e.unsaved {
			// The record of an earlier change could not be written: no
			// further change before it is (ENOSPC, EIO), so that what a
			// crash would lose stays what the failed call reported.
			return e.saveRecordLocked()
		}
		return nil
	}
	e.dirty = true
	e.dirtySince = c.opts.Now()
	e.lastErr = nil
	e.attempts = 0
	if err := e.saveRecordLocked(); err != nil {
		e.dirty = false
		return err
	}
	c.mu.Lock()
	c.pinLocked(e) // the dirty pin
	c.unlockChecked()
	c.wb.cancel(e) // an upload scheduled earlier waits for the next close
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

// roundCharge is what a content of n bytes is charged while it is being
// written: a little ahead, so that not every write needs a reservation,
// in steps of 4 KiB (a file system block) for small files, 64 KiB from 1
// MiB and 1 MiB from 16 MiB. The last close trims the charge to roundBlock.
func roundCharge(n int64) int64 {
	step := int64(4 << 10)
	switch {
	case n >= 16<<20:
		step = 1 << 20
	case n >= 1<<20:
		step = 64 << 10
	}
	return (n + step - 1) / step * step
}

// roundBlock is what a content of n bytes occupies on disk (4 KiB blocks).
func roundBlock(n int64) int64 { return (n + 4095) / 4096 * 4096 }

// WriteAt writes to the local copy, after the download finished. The first
// write makes the entry dirty, durably. Growing the content is charged to
// the budget first: when it does not fit, WriteAt fails with ErrNoSpace
// and changes nothing.
func (e *Entry) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("cache: negative offset")
	}
	e.mu.Lock()
	if err := e.waitCompleteLocked(); err != nil {
		e.mu.Unlock()
		return 0, err
	}
	if e.c.closed.Load() {
		e.mu.Unlock()
		return 0, ErrClosed
	}
	end := off + int64(len(p))
	if end > e.size {
		if _, err := e.c.reserveTo(e, roundCharge(end), false); err != nil {
			e.mu.Unlock()
			return 0, err
		}
	}
	if err := e.markDirtyLocked(); err != nil {
		e.mu.Unlock()
		return 0, err
	}
	f := e.f
	e.stopLiveUploadLocked()
	e.gen++
	e.writing++
	e.mu.Unlock()
	n, err := f.WriteAt(p, off)
	e.mu.Lock()
	if off+int64(n) > e.size {
		e.size = off + int64(n)
	}
	e.gen++ // again: an upload that began meanwhile may have missed this
	e.writing--
	e.mu.Unlock()
	return n, err
}

// stopLiveUploadLocked cuts short an upload that streams the file
// unverified (writeback.putLive) before the file changes: the upload's
// reads stop first, then it is cancelled. LOCKS_REQUIRED(mu)
func (e *Entry) stopLiveUploadLocked() {
	if g := e.uploadGuard; g != nil {
		e.uploadGuard = nil
		g.stop()
		e.uploadCancel(errWritten)
	}
}

// Truncate changes the content length (no change when it is the same).
func (e *Entry) Truncate(size int64) error {
	if size < 0 {
		return errors.New("cache: negative size")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.waitCompleteLocked(); err != nil {
		return err
	}
	if e.c.closed.Load() {
		return ErrClosed
	}
	if size == e.size {
		return nil
	}
	if size > e.size {
		if _, err := e.c.reserveTo(e, roundCharge(size), false); err != nil {
			return err
		}
	}
	if err := e.markDirtyLocked(); err != nil {
		return err
	}
	e.stopLiveUploadLocked()
	if err := e.f.Truncate(size); err != nil {
		return err
	}
	e.size = size
	e.gen++
	e.c.releaseTo(e, roundCharge(size))
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
		RemoteLarge: e.remoteLarge, LastModified: e.lastModified,
		Segments: append([]string(nil), e.segments...), Journal: append([]garbage(nil), e.journal...)}
}

// saveRecordLocked writes e's record durably, unless e is detached (a
// detached entry has none). Records are written only with e.mu held, so
// that they reach the disk in the order of the changes they describe. A
// failure sets e.unsaved: the next change of the entry writes the record
// first, and fails when it still cannot. LOCKS_REQUIRED(mu)
func (e *Entry) saveRecordLocked() error {
	if e.detached.Load() {
		return nil
	}
	var err error
	if f := e.c.opts.recordFault; f != nil {
		err = f(e.name)
	}
	if err == nil {
		err = e.c.saveRecord(e.recordLocked())
	}
	e.unsaved = err != nil
	return err
}

// recordNotSavedLocked logs a record that could not be written where the
// change it describes is already made (attributes, an upload's outcome, a
// finished download). For a dirty entry a crash now would recover the
// previous record: the next write of the entry fails until the record is
// written. LOCKS_REQUIRED(mu)
func (e *Entry) recordNotSavedLocked(err error) {
	if e.dirty {
		e.c.log.Error("cache record not saved: a crash now would recover the file's previous state; its next write fails until the record is written",
			"object", e.name, "err", err)
		return
	}
	e.c.log.Warn("cache record not saved: the clean copy is not reused after a restart", "object", e.name, "err", err)
}

// forgetRecordLocked removes e's record durably (after detaching e), first
// handing the journal's objects to the garbage collector.
// LOCKS_REQUIRED(e.mu) LOCKS_EXCLUDED(c.mu)
func (c *Cache) forgetRecordLocked(e *Entry) {
	if len(e.journal) > 0 {
		c.collect(e.journal)
		e.journal = nil
	}
	if err := c.removeRecord(e.id); err != nil {
		c.log.Warn("cache record not removed", "object", e.name, "err", err)
	}
}
