package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// Why an upload in flight was cancelled (context.Cause).
var (
	errRenamed = errors.New("cache: renamed during upload")
	errRemoved = errors.New("cache: removed during upload")
	errWritten = errors.New("cache: written during upload")
)

// writeback is the upload queue: dirty entries wait for their due time
// (the write-back delay after the last close, or a retry backoff), then
// are uploaded by at most Options.Uploaders workers.
//
// Lock order: Entry.mu and Cache.mu before writeback.mu; writeback.mu is a
// leaf.
type writeback struct {
	c    *Cache
	mu   sync.Mutex
	due  map[*Entry]time.Time // GUARDED_BY(mu)
	wake chan struct{}
	quit chan struct{}
	sem  chan struct{}
	wg   sync.WaitGroup
}

func newWriteback(c *Cache) *writeback {
	return &writeback{c: c, due: map[*Entry]time.Time{}, wake: make(chan struct{}, 1),
		quit: make(chan struct{}), sem: make(chan struct{}, c.opts.Uploaders)}
}

func (w *writeback) start() {
	w.wg.Add(1)
	go w.loop()
}

// stop ends the loop and waits for the uploads it started (Cache.ctx is
// cancelled first, so they end promptly).
func (w *writeback) stop() {
	close(w.quit)
	w.wg.Wait()
}

func (w *writeback) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// schedule queues e for upload at the given time (or keeps an earlier one).
func (w *writeback) schedule(e *Entry, at time.Time) {
	w.mu.Lock()
	if t, ok := w.due[e]; !ok || at.Before(t) {
		w.due[e] = at
	}
	w.mu.Unlock()
	w.kick()
}

// cancel takes e off the queue (it was written again, or removed).
func (w *writeback) cancel(e *Entry) {
	w.mu.Lock()
	delete(w.due, e)
	w.mu.Unlock()
}

func (w *writeback) isQueued(e *Entry) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.due[e]
	return ok
}

func (w *writeback) loop() {
	defer w.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := w.c.opts.Now()
		next := now.Add(time.Hour)
		var ready []*Entry
		w.mu.Lock()
		for e, t := range w.due {
			if !t.After(now) {
				ready = append(ready, e)
			} else if t.Before(next) {
				next = t
			}
		}
		w.mu.Unlock()
		for _, e := range ready {
			select {
			case w.sem <- struct{}{}:
			case <-w.quit:
				return
			}
			w.mu.Lock()
			_, still := w.due[e]
			delete(w.due, e)
			w.mu.Unlock()
			if !still { // cancelled while we waited for a worker
				<-w.sem
				continue
			}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-w.sem }()
				w.upload(w.c.ctx, e, false)
			}()
		}
		if len(ready) > 0 {
			continue // more may have come due while the workers were busy
		}
		timer.Reset(max(next.Sub(now), time.Millisecond))
		select {
		case <-w.quit:
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// uploadNow uploads e at once (fsync, sync write-back, swiftfs sync) and
// returns when it is durable or failed. The entry leaves the queue only
// when its upload starts, so an interrupted caller does not unqueue it.
func (w *writeback) uploadNow(ctx context.Context, e *Entry) error {
	return w.upload(ctx, e, true)
}

// permanent reports failures that retrying soon will not fix. A PUT's 404
// (the proxy does not see the container) is not one of them: Swift answers
// it for a while after a restart too, until the proxy reaches the
// container servers again (seen after TestWritebackSwiftOutage's outage).
func permanent(err error) bool {
	switch swiftclient.KindOf(err) {
	case swiftclient.ErrForbidden, swiftclient.ErrTooLarge, swiftclient.ErrInvalid:
		return true
	}
	var ve *ValidationError
	return errors.As(err, &ve)
}

// ValidationError is an upload refused by Options.Validate.
type ValidationError struct {
	Name string
	Err  error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("upload of %q refused by the file check: %v", e.Name, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// backoff is the wait after the given number of failed attempts.
func (w *writeback) backoff(attempts int, perm bool) time.Duration {
	o := &w.c.opts
	if perm {
		return o.PermanentRetry
	}
	d := o.RetryBackoff
	for i := 1; i < attempts && d < o.RetryBackoffMax; i++ {
		d *= 2
	}
	return min(d, o.RetryBackoffMax)
}

// waitUploadLocked waits until no upload of e runs, or ctx is done.
// LOCKS_REQUIRED(mu)
func (e *Entry) waitUploadLocked(ctx context.Context) error {
	for e.uploading {
		done := e.uploadDone
		e.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		e.mu.Lock()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// cancelUpload stops the upload in flight. LOCKS_REQUIRED(mu)
func (e *Entry) cancelUpload(cause error) {
	if e.uploadCancel != nil {
		e.uploadCancel(cause)
	}
}

// upload sends e's content to Swift if it is dirty. Only one upload of an
// entry runs at a time. With wait, a caller that finds one running waits
// for it and then uploads again if the entry is still dirty; without, it
// leaves the work to the running upload (which reschedules the entry when
// it is still dirty afterwards).
func (w *writeback) upload(ctx context.Context, e *Entry, wait bool) error {
	for tries := 0; ; tries++ {
		err, again := w.uploadOnce(ctx, e, wait, tries < maxRaces)
		if !again {
			return err
		}
	}
}

// maxRaces bounds the immediate re-uploads of a waiting caller whose upload
// lost a race with a concurrent write (or was stopped by a rename).
const maxRaces = 3

// snapshot is what one upload sends.
type snapshot struct {
	gen  int64
	name string
	f    *os.File
	size int64
	ct   string
	meta map[string]string
}

func (w *writeback) uploadOnce(ctx context.Context, e *Entry, wait, mayRetry bool) (err error, again bool) {
	c := w.c
	if err := ctx.Err(); err != nil {
		return err, false
	}
	e.mu.Lock()
	if e.uploading {
		if !wait {
			e.mu.Unlock()
			return nil, false
		}
		if err := e.waitUploadLocked(ctx); err != nil {
			e.mu.Unlock()
			return err, false
		}
	}
	if !e.dirty || e.detached.Load() {
		e.mu.Unlock()
		return nil, false
	}
	if c.ctx.Err() != nil {
		e.mu.Unlock()
		return fmt.Errorf("cache: closed, %q stays dirty for the next mount: %w", e.name, c.ctx.Err()), false
	}
	w.cancel(e) // this upload serves the queued one too
	uctx, cancel := context.WithCancelCause(ctx)
	stopOnClose := context.AfterFunc(c.ctx, func() { cancel(context.Canceled) })
	done := make(chan struct{})
	e.uploading, e.uploadDone, e.uploadCancel = true, done, cancel
	e.putTried = true
	e.unconfirmed = true
	s := snapshot{gen: e.gen, name: e.name, f: e.f, size: e.size, ct: e.contentType, meta: e.meta}
	e.mu.Unlock()

	res, err := w.put(uctx, e, s)
	cause := context.Cause(uctx)
	stopOnClose()
	cancel(nil)
	if err == nil && c.opts.OnUploaded != nil {
		// Before the entry turns clean: whoever then finds it clean also
		// finds the namespace knowing the object exists (else an open in
		// between would take the clean copy for a stale one).
		c.opts.OnUploaded(s.name, res.info)
	}

	e.mu.Lock()
	e.uploading, e.uploadDone, e.uploadCancel, e.uploadGuard = false, nil, nil, nil
	defer close(done)
	var ce *ConflictError
	switch {
	case err == nil || errors.As(err, &ce):
		w.committedLocked(e, s, res, ce)
		e.mu.Unlock()
		if ce != nil {
			c.conflicts.add(Conflict{Name: s.name, Copy: ce.Copy, Time: c.opts.Now()})
			c.log.Warn("upload diverted to a conflict copy: another client changed the object; their version is kept",
				"object", s.name, "conflict_copy", ce.Copy, "our_base_etag", ce.Base, "swift_etag", ce.Theirs)
			if c.opts.OnUploaded != nil {
				c.opts.OnUploaded(ce.Copy, res.info)
				if ce.theirs != nil {
					// The name holds their version now, as far as the
					// namespace is concerned too.
					c.opts.OnUploaded(s.name, *ce.theirs)
				}
			}
			return err, false
		}
		c.log.Debug("uploaded", "object", s.name, "bytes", s.size, "etag", res.info.ETag)
		return nil, false

	case ctx.Err() == nil && (cause == errRenamed || cause == errRemoved):
		// Stopped by Rename or Remove, not by our caller: the renamed
		// entry is uploaded under its new name (at once when a caller
		// waits for it, else after the delay).
		requeue := cause == errRenamed && !wait && e.opens == 0 && e.dirty && !e.detached.Load()
		e.mu.Unlock()
		c.log.Debug("upload stopped", "object", s.name, "why", cause)
		if requeue {
			w.schedule(e, c.opts.Now().Add(c.opts.WriteBackDelay))
		}
		return nil, wait && cause == errRenamed

	case (errors.Is(err, swiftclient.ErrCorrupted) || (ctx.Err() == nil && cause == errWritten)) && e.gen != s.gen && !e.detached.Load():
		// The file was written while it was read for the upload: Swift
		// refused a body that did not match its MD5, or the write cut the
		// upload short (uploadGuard). Not a failure: upload the new content.
		requeue := !wait && e.opens == 0 && e.dirty
		e.mu.Unlock()
		c.log.Debug("file changed during its upload; uploading again", "object", s.name)
		if requeue {
			w.schedule(e, c.opts.Now().Add(c.opts.WriteBackDelay))
		}
		if wait && !mayRetry {
			return err, false
		}
		return nil, wait

	default:
		interrupted := ctx.Err() != nil || c.ctx.Err() != nil
		if !interrupted {
			e.attempts++
			e.lastErr = err
		}
		perm := permanent(err)
		delay := w.backoff(e.attempts, perm)
		if interrupted {
			delay = c.opts.WriteBackDelay
		}
		e.nextRetry = c.opts.Now().Add(delay)
		attempts := e.attempts
		requeue := e.dirty && !e.detached.Load() && (!interrupted || e.opens == 0)
		e.mu.Unlock()
		switch {
		case interrupted:
			c.log.Info("upload interrupted; the file stays dirty in the cache", "object", s.name, "err", err)
		case perm:
			c.log.Error("upload failed and needs attention; the file stays dirty in the cache",
				"object", s.name, "attempt", attempts, "retry_in", delay, "err", err)
		default:
			c.log.Warn("upload failed; the file stays dirty in the cache",
				"object", s.name, "attempt", attempts, "retry_in", delay, "err", err)
		}
		if requeue && c.ctx.Err() == nil {
			w.schedule(e, c.opts.Now().Add(delay))
		}
		return err, false
	}
}

// committedLocked updates e after its content reached Swift (under its
// name, or as a conflict copy when ce is set). LOCKS_REQUIRED(e.mu)
func (w *writeback) committedLocked(e *Entry, s snapshot, res putResult, ce *ConflictError) {
	c := w.c
	// The segments of the manifest replaced (or, for a conflict, of the
	// version another client replaced) and the journal are garbage now;
	// the conflict copy's own segments belong to the copy.
	var trash []garbage
	for _, n := range e.segments {
		trash = append(trash, garbage{Name: n})
	}
	keep := map[string]bool{}
	for _, n := range res.written {
		keep[n] = true
	}
	for _, g := range e.journal {
		if !keep[g.Name] {
			trash = append(trash, g)
		}
	}
	e.journal = nil
	e.superseded = false
	e.segments = nil
	if ce == nil {
		e.unconfirmed, e.overOwn = false, false
		e.commits++
		e.segments = res.written
		e.remoteETag = res.info.ETag
		e.remoteLarge = res.info.LargeObject
		e.lastModified = res.info.LastModified
	}
	e.attempts = 0
	e.lastErr = nil
	if ce != nil {
		e.lastErr = ce
	}
	e.nextRetry = time.Time{}
	clean := e.gen == s.gen && e.writing == 0 && !e.detached.Load()
	if len(trash) > 0 {
		// Durably handed to the collector before the record forgets them.
		c.collect(trash)
	}
	if clean {
		e.dirty = false
	}
	if ce != nil && e.opens == 0 && e.dirty == false {
		// Our content is safe in the conflict copy: forget the entry, so
		// that the next open reads the other client's version.
		c.mu.Lock()
		c.unpinLocked(e) // the dirty pin
		c.detachLocked(e)
		c.unlockChecked()
		c.forgetRecordLocked(e)
		return
	}
	if err := e.saveRecordLocked(); err != nil {
		e.recordNotSavedLocked(err)
	}
	if clean {
		c.mu.Lock()
		c.unpinLocked(e) // the dirty pin
		c.unlockChecked()
	} else if e.dirty && e.opens == 0 && !e.detached.Load() {
		// Changed during the upload, and already closed: upload again.
		w.schedule(e, c.opts.Now().Add(c.opts.WriteBackDelay))
	}
}

// putResult is the outcome of one put.
type putResult struct {
	info swiftclient.ObjectInfo
	// written lists the SLO segments of the new manifest.
	written []string
}

// put uploads one snapshot: whole with its MD5 as ETag, or as an SLO.
func (w *writeback) put(ctx context.Context, e *Entry, s snapshot) (putResult, error) {
	c := w.c
	f, size, meta := s.f, s.size, s.meta
	if f == nil {
		return putResult{}, ErrRemoved
	}
	if c.opts.Validate != nil {
		if err := c.opts.Validate(s.name, f, size); err != nil {
			return putResult{}, &ValidationError{Name: s.name, Err: err}
		}
	}
	if c.opts.PrepareUpload != nil {
		p, err := c.opts.PrepareUpload(ctx, s.name, f, size)
		if err != nil {
			return putResult{}, err
		}
		if p.Cleanup != nil {
			defer p.Cleanup()
		}
		if p.File != nil {
			f, size = p.File, p.Size
		}
		if len(p.Meta) > 0 {
			meta = maps.Clone(meta)
			if meta == nil {
				meta = map[string]string{}
			}
			maps.Copy(meta, p.Meta)
		}
	}
	var conflict *ConflictError
	createOnly := false
	if c.opts.CheckConflict != nil && c.opts.CheckConflict(s.name) {
		var err error
		if createOnly, conflict, err = w.checkConflict(ctx, e, s.name); err != nil {
			return putResult{}, err
		}
	}
	if conflict != nil {
		return w.sendCopy(ctx, e, s, conflict, f, size, meta)
	}
	if err := w.supersede(ctx, e, s.name); err != nil {
		return putResult{}, err
	}
	res, err := w.send(ctx, e, s, s.name, f, size, meta, createOnly)
	if createOnly && errors.Is(err, swiftclient.ErrPreconditionFailed) {
		// Another writer created the name first.
		var theirs swiftclient.ObjectInfo
		if res, theirs, err = w.created(ctx, s, f, size); err == nil {
			return res, nil // by an earlier attempt of ours
		}
		if errors.Is(err, errTheirs) {
			conflict = w.conflict(s.name, "", theirs.ETag)
			conflict.theirs = &theirs
			return w.sendCopy(ctx, e, s, conflict, f, size, meta)
		}
	}
	return res, err
}

// send uploads one snapshot under target: whole or as an SLO; createOnly
// makes it fail with swiftclient.ErrPreconditionFailed when target exists.
func (w *writeback) send(ctx context.Context, e *Entry, s snapshot, target string, f *os.File, size int64, meta map[string]string, createOnly bool) (putResult, error) {
	c := w.c
	var (
		res putResult
		err error
	)
	if size > c.opts.SLOThreshold {
		gen := s.gen
		if f != s.f {
			gen = -1 // a prepared copy: nothing to resume
		}
		res, err = w.putSLO(ctx, e, target, f, size, gen, s.ct, meta, createOnly)
	} else if f == s.f {
		res.info, err = w.putLive(ctx, e, s, target, size, meta, createOnly)
	} else {
		// A prepared private copy: nothing writes it.
		res.info, err = w.c.client.Put(ctx, target, io.NewSectionReader(f, 0, size), size,
			swiftclient.PutOptions{ContentType: s.ct, Meta: meta, IfNoneMatch: createOnly})
	}
	return res, err
}

// putLive uploads the entry's own cache file, which writers may change
// while it is sent. It streams the file once: swiftclient hashes the body
// as it goes and compares with the ETag Swift computed (ErrCorrupted on a
// mismatch), and an uploadGuard makes the first write after the upload
// began cut the upload short, so Swift never stores a mix of two
// versions. When a write is already under way, it falls back to putWhole
// (MD5 first, sent as ETag: Swift refuses a body that changed).
func (w *writeback) putLive(ctx context.Context, e *Entry, s snapshot, name string, size int64, meta map[string]string, createOnly bool) (swiftclient.ObjectInfo, error) {
	g := &uploadGuard{}
	e.mu.Lock()
	quiet := e.gen == s.gen && e.writing == 0 && e.uploading && e.uploadGuard == nil
	if quiet {
		e.uploadGuard = g
	}
	e.mu.Unlock()
	if !quiet {
		return w.putWhole(ctx, name, s.f, size, s.ct, meta, createOnly)
	}
	body := &guardedReader{g: g, r: io.NewSectionReader(s.f, 0, size)}
	return w.c.client.Put(ctx, name, body, size, swiftclient.PutOptions{ContentType: s.ct, Meta: meta, IfNoneMatch: createOnly})
}

// uploadGuard stops an upload's reads of a cache file before a write
// changes the file: the upload then ends with errWritten instead of
// sending bytes of two versions. Its lock is a leaf, taken under
// Entry.mu by writers (stop) and alone by the upload's reads.
type uploadGuard struct {
	mu      sync.RWMutex
	stopped bool // GUARDED_BY(mu)
}

// stop waits for a read in progress and makes every later read fail.
func (g *uploadGuard) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

// guardedReader reads the cache file for an upload until its guard stops.
type guardedReader struct {
	g *uploadGuard
	r io.ReadSeeker
}

func (r *guardedReader) Read(p []byte) (int, error) {
	r.g.mu.RLock()
	defer r.g.mu.RUnlock()
	if r.g.stopped {
		return 0, errWritten
	}
	return r.r.Read(p)
}

func (r *guardedReader) Seek(off int64, whence int) (int64, error) { return r.r.Seek(off, whence) }

func (w *writeback) putWhole(ctx context.Context, name string, f *os.File, size int64, ct string, meta map[string]string, createOnly bool) (swiftclient.ObjectInfo, error) {
	sum, err := fileMD5(f, size)
	if err != nil {
		return swiftclient.ObjectInfo{}, fmt.Errorf("cache: reading %q for upload: %w", name, err)
	}
	return w.c.client.Put(ctx, name, io.NewSectionReader(f, 0, size), size,
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: sum, IfNoneMatch: createOnly})
}

// fileMD5 is the lower-case hex MD5 of f's first size bytes.
func fileMD5(f *os.File, size int64) (string, error) { return SectionMD5(f, 0, size) }
