package cache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"sync/atomic"

	"github.com/swiftfs/swiftfs/swiftclient"
)

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

// downloadAttempts bounds the GETs that resume one stream or one range
// after the connection broke mid-body (the client retries only the
// opening request; it cannot resume a body), and the whole download when
// the content did not match its ETag or the object changed meanwhile.
const downloadAttempts = 3

// changedError reports that a GET found another version of the object
// than the one being downloaded.
type changedError struct{ info swiftclient.ObjectInfo }

func (e *changedError) Error() string {
	return fmt.Sprintf("object %q changed during the download (now %d bytes, ETag %s)", e.info.Name, e.info.Size, e.info.ETag)
}

// dlBudget tracks the bytes a download reserved but has not written yet
// (Cache.inflight).
type dlBudget struct {
	c       *Cache
	pending atomic.Int64
}

func (d *dlBudget) wrote(n int64) {
	for {
		p := d.pending.Load()
		take := min(p, n)
		if take <= 0 {
			return
		}
		if d.pending.CompareAndSwap(p, p-take) {
			d.c.inflight.Add(-take)
			return
		}
	}
}

func (d *dlBudget) done() { d.c.inflight.Add(-d.pending.Swap(0)) }

// download fetches the whole object into e's data file, publishing progress
// so that readers wait only for their bytes. Objects larger than two
// chunks are fetched with parallel ranged GETs, and their bytes are served
// as they arrive. Smaller ones come in one stream, and when their ETag is
// an MD5 (not a large object) no byte is served before the whole content
// matched it. A mismatch is retried; if it persists, the entry fails with
// swiftclient.ErrCorrupted (EIO), is detached and never reused.
func (c *Cache) download(e *Entry, remote swiftclient.ObjectInfo) {
	ctx := c.ctx
	dl := &dlBudget{c: c}
	e.mu.Lock()
	dl.pending.Store(e.size)
	e.mu.Unlock()
	var err error
retry:
	for attempt := 0; attempt < downloadAttempts; attempt++ {
		var units []*checkUnit
		units, err = c.planUnits(ctx, remote)
		if err == nil {
			if (remote.LargeObject && units != nil) || (remote.Size > 2*c.opts.DownloadChunk && c.opts.DownloadStreams > 1) {
				err = c.downloadParallel(ctx, e, remote, dl, units)
			} else {
				err = c.downloadStream(ctx, e, remote, dl)
			}
		}
		if err == nil {
			break
		}
		var ce *changedError
		switch {
		case errors.As(err, &ce):
			c.log.Info("object changed during the download; fetching the new version", "object", remote.Name,
				"etag", ce.info.ETag, "bytes", ce.info.Size)
			remote.Size, remote.ETag, remote.LargeObject, remote.LastModified =
				ce.info.Size, ce.info.ETag, ce.info.LargeObject, ce.info.LastModified
			e.mu.Lock()
			e.size, e.remoteETag, e.remoteLarge, e.lastModified = remote.Size, remote.ETag, remote.LargeObject, remote.LastModified
			e.mu.Unlock()
			added, rerr := c.reserveTo(e, remote.Size, true)
			if rerr != nil {
				err = rerr
				break retry
			}
			dl.pending.Add(added)
			c.releaseTo(e, remote.Size)
			continue
		case errors.Is(err, swiftclient.ErrCorrupted) && !isFinal(err):
			c.log.Warn("download corrupted, retrying", "object", remote.Name, "attempt", attempt+1, "err", err)
			continue
		}
		break
	}
	dl.done()
	e.mu.Lock()
	e.busy = false
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		c.logDownloadFailed(e, remote.Name, err) // prefetch.go
	} else {
		e.complete = true
		e.chunks = nil
		e.units = nil
		e.avail = e.size
		if !e.dirty {
			if serr := e.saveRecordLocked(); serr != nil {
				e.recordNotSavedLocked(serr)
			}
		}
	}
	e.cond.Broadcast()
	c.mu.Lock()
	if err != nil && c.byName[e.name] == e {
		c.detachLocked(e) // never reused: the next Open downloads again
	}
	c.unpinLocked(e) // the download's pin
	c.unlockChecked()
	e.mu.Unlock()
}

// resetProgress forgets what a failed attempt published. The bytes stay
// on disk but are downloaded again.
func (e *Entry) resetProgress() {
	e.mu.Lock()
	e.avail = 0
	e.chunks = nil
	e.units = nil
	e.mu.Unlock()
}

// sameVersion reports whether a GET's info describes the version expected.
func sameVersion(want, got swiftclient.ObjectInfo) bool {
	if got.Size != want.Size {
		return false
	}
	return want.ETag == "" || got.ETag == "" || want.ETag == got.ETag
}

func (c *Cache) downloadStream(ctx context.Context, e *Entry, remote swiftclient.ObjectInfo, dl *dlBudget) error {
	e.resetProgress()
	e.mu.Lock()
	f := e.f
	e.mu.Unlock()
	verify := !remote.LargeObject && md5Hex.MatchString(remote.ETag)
	var h hash.Hash
	if verify {
		h = md5.New()
	}
	var off int64
	var lastErr error
	for attempt := 0; attempt < downloadAttempts; attempt++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rc, info, err := c.client.Get(ctx, remote.Name, off, -1)
		if err != nil {
			lastErr = err
			if !swiftclient.IsTransient(err) {
				return err
			}
			continue
		}
		if !sameVersion(remote, info) {
			rc.Close()
			info.Name = remote.Name
			return &changedError{info: info}
		}
		n, err := copyProgress(f, rc, off, h, func(end, m int64) {
			dl.wrote(m)
			if !verify { // unverified bytes are served only when they cannot be verified
				e.mu.Lock()
				e.avail = end
				e.cond.Broadcast()
				e.mu.Unlock()
			}
		})
		rc.Close()
		off += n
		if err == nil && off == remote.Size {
			lastErr = nil
			break
		}
		if err == nil {
			err = fmt.Errorf("short download: %d of %d bytes", off, remote.Size)
		}
		lastErr = &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "get", Name: remote.Name, Err: err}
	}
	if lastErr != nil {
		return lastErr
	}
	if verify {
		if got := hex.EncodeToString(h.Sum(nil)); got != remote.ETag {
			return &swiftclient.Error{Kind: swiftclient.ErrCorrupted, Op: "get", Name: remote.Name,
				Err: fmt.Errorf("MD5 %s of the downloaded content differs from ETag %s", got, remote.ETag)}
		}
	}
	return nil
}

// copyProgress copies r into f from off, calling progress with the end
// offset written and the bytes added after each block, and hashes the
// bytes when h is set. It returns a nil error only at the end of r.
func copyProgress(f io.WriterAt, r io.Reader, off int64, h hash.Hash, progress func(end, n int64)) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := io.ReadFull(r, buf)
		if m > 0 {
			if _, werr := f.WriteAt(buf[:m], off+n); werr != nil {
				return n, werr
			}
			if h != nil {
				h.Write(buf[:m])
			}
			n += int64(m)
			progress(off+n, int64(m))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
