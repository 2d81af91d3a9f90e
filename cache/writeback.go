package cache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

var errReadOnly = syscall.EROFS

// writeback is the upload queue: dirty entries wait for their due time
// (the write-back delay after the last close, or a retry backoff), then
// are uploaded by at most Options.Uploaders workers.
//
// Lock order: Entry.mu before writeback.mu; writeback.mu is a leaf.
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
	e.mu.Lock()
	e.queued = true
	e.mu.Unlock()
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
				delete(w.due, e)
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
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-w.sem }()
				w.upload(w.c.ctx, e, false)
			}()
		}
		timer.Reset(next.Sub(now))
		select {
		case <-w.quit:
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// uploadNow uploads e at once (fsync, sync write-back, swiftfs sync) and
// returns when it is durable or failed.
func (w *writeback) uploadNow(ctx context.Context, e *Entry) error {
	w.cancel(e)
	return w.upload(ctx, e, true)
}

// permanent reports failures that retrying soon will not fix.
func permanent(err error) bool {
	switch swiftclient.KindOf(err) {
	case swiftclient.ErrForbidden, swiftclient.ErrTooLarge, swiftclient.ErrInvalid, swiftclient.ErrNotFound:
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

func backoff(attempts int, perm bool) time.Duration {
	if perm {
		return 5 * time.Minute
	}
	d := time.Second << min(attempts, 6)
	return min(d, time.Minute)
}

// upload sends e's content to Swift if it is dirty. Only one upload of an
// entry runs at a time; a caller that finds one running waits for it and
// then uploads again if the entry is still dirty.
func (w *writeback) upload(ctx context.Context, e *Entry, wait bool) error {
	c := w.c
	e.mu.Lock()
	for e.uploading {
		if !wait {
			e.mu.Unlock()
			return nil
		}
		e.cond.Wait()
	}
	if !e.dirty || e.detached.Load() || e.dropped.Load() {
		err := error(nil)
		if e.dirty {
			err = e.lastErr
		}
		e.mu.Unlock()
		return err
	}
	if err := e.waitCompleteLocked(); err != nil {
		e.mu.Unlock()
		return err
	}
	e.uploading = true
	e.queued = false
	gen := e.gen
	name, size, f := e.name, e.size, e.f
	ct, meta := e.contentType, e.meta
	e.mu.Unlock()

	info, err := w.put(ctx, e, name, f, size, ct, meta)

	var ce *ConflictError
	if errors.As(err, &ce) {
		// Our content is safe in the conflict copy: the entry is done, and
		// forgotten so that the next open reads the other client's version.
		e.mu.Lock()
		e.uploading = false
		e.dirty = false
		e.lastErr = err
		e.cond.Broadcast()
		e.mu.Unlock()
		c.mu.Lock()
		c.unpinLocked(e) // the dirty pin
		c.detachLocked(e)
		c.cond.Broadcast()
		c.mu.Unlock()
		if c.opts.OnUploaded != nil {
			c.opts.OnUploaded(ce.Copy, info)
		}
		return err
	}
	e.mu.Lock()
	e.uploading = false
	e.cond.Broadcast()
	if err != nil {
		e.attempts++
		e.lastErr = err
		perm := permanent(err)
		e.nextRetry = c.opts.Now().Add(backoff(e.attempts, perm))
		retryAt := e.nextRetry
		e.mu.Unlock()
		level := c.log.Warn
		if perm {
			level = c.log.Error
		}
		level("upload failed; the file stays dirty in the cache", "object", name, "attempt", e.attempts,
			"retry_in", retryAt.Sub(c.opts.Now()).Round(time.Second), "err", err)
		if ctx.Err() == nil && c.ctx.Err() == nil {
			w.schedule(e, retryAt)
		}
		return err
	}
	e.remoteETag = info.ETag
	e.remoteLarge = info.LargeObject
	e.lastModified = info.LastModified
	e.lastErr = nil
	e.attempts = 0
	clean := e.gen == gen && !e.detached.Load()
	var rec record
	if clean {
		e.dirty = false
		rec = e.recordLocked()
	}
	reschedule := !clean && e.dirty && e.opens == 0 && !e.detached.Load()
	e.mu.Unlock()
	if clean {
		if serr := c.saveRecord(rec); serr != nil {
			c.log.Warn("cache record not saved", "object", name, "err", serr)
		}
		c.mu.Lock()
		e.evictable = true
		c.unpinLocked(e) // the dirty pin
		c.cond.Broadcast()
		c.mu.Unlock()
	}
	if reschedule {
		w.schedule(e, c.opts.Now().Add(c.opts.WriteBackDelay))
	}
	c.log.Debug("uploaded", "object", name, "bytes", size, "etag", info.ETag)
	if c.opts.OnUploaded != nil {
		c.opts.OnUploaded(name, info)
	}
	return nil
}

// put uploads one file: whole with its MD5 as ETag, or as an SLO.
func (w *writeback) put(ctx context.Context, e *Entry, name string, f *os.File, size int64, ct string, meta map[string]string) (swiftclient.ObjectInfo, error) {
	c := w.c
	if f == nil {
		return swiftclient.ObjectInfo{}, ErrRemoved
	}
	if c.opts.Validate != nil {
		if err := c.opts.Validate(name, f, size); err != nil {
			return swiftclient.ObjectInfo{}, &ValidationError{Name: name, Err: err}
		}
	}
	if c.opts.PrepareUpload != nil {
		p, err := c.opts.PrepareUpload(ctx, name, f, size)
		if err != nil {
			return swiftclient.ObjectInfo{}, err
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
	if c.opts.CheckConflict != nil && c.opts.CheckConflict(name) {
		alt, err := w.checkConflict(ctx, e, name)
		if err != nil {
			return swiftclient.ObjectInfo{}, err
		}
		if alt != name {
			info, err := w.putWhole(ctx, alt, f, size, ct, meta)
			if err != nil {
				return info, err
			}
			return info, &ConflictError{Name: name, Copy: alt}
		}
	}
	if size > c.opts.SegmentSize {
		return w.putSLO(ctx, e, name, f, size, ct, meta)
	}
	return w.putWhole(ctx, name, f, size, ct, meta)
}

func (w *writeback) putWhole(ctx context.Context, name string, f *os.File, size int64, ct string, meta map[string]string) (swiftclient.ObjectInfo, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return swiftclient.ObjectInfo{}, fmt.Errorf("cache: reading %q for upload: %w", name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return w.c.client.Put(ctx, name, io.NewSectionReader(f, 0, size), size,
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: sum})
}

// ConflictError reports an upload diverted to a conflict copy because
// another client changed the object (Options.CheckConflict).
type ConflictError struct {
	Name string // the object another client changed (its version is kept)
	Copy string // where our content went
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%q was changed in Swift by another client since it was read here: their version is kept, ours was uploaded as %q", e.Name, e.Copy)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// checkConflict compares the object in Swift with the version e's copy
// came from. When they differ, it returns the name of a conflict copy to
// upload to instead, and remembers to report ErrConflict afterwards.
func (w *writeback) checkConflict(ctx context.Context, e *Entry, name string) (string, error) {
	e.mu.Lock()
	base := e.remoteETag
	e.mu.Unlock()
	st, err := w.c.client.Stat(ctx, name)
	switch {
	case errors.Is(err, swiftclient.ErrNotFound):
		if base == "" {
			return name, nil
		}
	case err != nil:
		return "", err
	case st.ETag == base:
		return name, nil
	}
	host, _ := os.Hostname()
	alt := fmt.Sprintf("%s.conflict-%s-%s", name, host, w.c.opts.Now().UTC().Format("20060102T150405Z"))
	w.c.log.Error("object changed in Swift since it was read here: keeping the other version, uploading ours as a conflict copy",
		"object", name, "conflict_copy", alt, "our_base_etag", base, "swift_etag", st.ETag)
	return alt, nil
}
