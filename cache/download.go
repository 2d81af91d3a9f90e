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
	"sync"

	"github.com/swiftfs/swiftfs/swiftclient"
)

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

const downloadAttempts = 3

// download fetches the whole object into e's data file, publishing progress
// so that readers wait only for their bytes. Objects larger than two
// chunks are fetched with parallel ranged GETs. The content is checked
// against the ETag (when it is an MD5, i.e. not a large object manifest);
// a mismatch is retried once, then reported as swiftclient.ErrCorrupted.
func (c *Cache) download(e *Entry, remote swiftclient.ObjectInfo) {
	ctx := c.ctx
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if remote.Size > 2*c.opts.DownloadChunk && c.opts.DownloadStreams > 1 {
			err = c.downloadParallel(ctx, e, remote)
		} else {
			err = c.downloadStream(ctx, e, remote)
		}
		if !errors.Is(err, swiftclient.ErrCorrupted) {
			break
		}
		c.log.Warn("download corrupted, retrying", "object", remote.Name, "err", err)
	}
	e.mu.Lock()
	e.busy = false
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		c.log.Error("download failed", "object", remote.Name, "err", err)
	} else {
		e.complete = true
		e.chunks = nil
	}
	rec := e.recordLocked()
	clean := err == nil && !e.dirty
	e.cond.Broadcast()
	e.mu.Unlock()
	if clean {
		if serr := c.saveRecord(rec); serr != nil {
			c.log.Warn("cache record not saved", "object", rec.Name, "err", serr)
		}
	}
	c.mu.Lock()
	e.evictable = clean
	c.unpinLocked(e) // the download's pin
	c.mu.Unlock()
}

func (c *Cache) downloadStream(ctx context.Context, e *Entry, remote swiftclient.ObjectInfo) error {
	e.mu.Lock()
	e.avail = 0
	e.chunks = nil
	f := e.f
	e.mu.Unlock()
	var h hash.Hash
	verify := !remote.LargeObject && md5Hex.MatchString(remote.ETag)
	if verify {
		h = md5.New()
	}
	var off int64
	var lastErr error
	for attempt := 0; attempt < downloadAttempts; attempt++ {
		rc, info, err := c.client.Get(ctx, remote.Name, off, -1)
		if err != nil {
			lastErr = err
			if !swiftclient.IsTransient(err) {
				return err
			}
			continue
		}
		if off == 0 && info.Size != remote.Size {
			// The object changed since it was listed: take the new version.
			remote.Size = info.Size
			remote.ETag = info.ETag
			verify = verify && md5Hex.MatchString(info.ETag)
			e.mu.Lock()
			e.size = info.Size
			e.remoteETag = info.ETag
			e.mu.Unlock()
		}
		n, err := copyProgress(f, rc, off, h, func(done int64) {
			e.mu.Lock()
			e.avail = done
			e.cond.Broadcast()
			e.mu.Unlock()
		})
		rc.Close()
		off += n
		if err == nil {
			lastErr = nil
			break
		}
		lastErr = &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "get", Name: remote.Name, Err: err}
	}
	if lastErr != nil {
		return lastErr
	}
	if off != remote.Size {
		return &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "get", Name: remote.Name,
			Err: fmt.Errorf("short download: %d of %d bytes", off, remote.Size)}
	}
	if verify {
		if got := hex.EncodeToString(h.Sum(nil)); got != remote.ETag {
			return &swiftclient.Error{Kind: swiftclient.ErrCorrupted, Op: "get", Name: remote.Name,
				Err: fmt.Errorf("MD5 %s of the downloaded content differs from ETag %s", got, remote.ETag)}
		}
	}
	return nil
}

// copyProgress copies r into f from off, reporting the end offset written
// after each block, and hashes the bytes when h is set.
func copyProgress(f io.WriterAt, r io.Reader, off int64, h hash.Hash, progress func(int64)) (int64, error) {
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
			progress(off + n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (c *Cache) downloadParallel(ctx context.Context, e *Entry, remote swiftclient.ObjectInfo) error {
	chunk := c.opts.DownloadChunk
	var spans []span
	for s := int64(0); s < remote.Size; s += chunk {
		spans = append(spans, span{start: s, end: min(s+chunk, remote.Size)})
	}
	e.mu.Lock()
	e.chunks = spans
	f := e.f
	e.mu.Unlock()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < c.opts.DownloadStreams; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := c.fetchSpan(ctx, e, f, remote.Name, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	for i := range spans {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if !remote.LargeObject && md5Hex.MatchString(remote.ETag) {
		h := md5.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, remote.Size)); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != remote.ETag {
			return &swiftclient.Error{Kind: swiftclient.ErrCorrupted, Op: "get", Name: remote.Name,
				Err: fmt.Errorf("MD5 %s of the downloaded content differs from ETag %s", got, remote.ETag)}
		}
	}
	return nil
}

func (c *Cache) fetchSpan(ctx context.Context, e *Entry, f io.WriterAt, name string, i int) error {
	e.mu.Lock()
	s := e.chunks[i]
	e.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < downloadAttempts; attempt++ {
		off := s.start + s.done
		rc, _, err := c.client.Get(ctx, name, off, s.end-off)
		if err != nil {
			lastErr = err
			if !swiftclient.IsTransient(err) {
				return err
			}
			continue
		}
		n, err := copyProgress(f, io.LimitReader(rc, s.end-off), off, nil, func(done int64) {
			e.mu.Lock()
			e.chunks[i].done = done - s.start
			e.cond.Broadcast()
			e.mu.Unlock()
		})
		rc.Close()
		s.done += n
		if err == nil && s.start+s.done == s.end {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("short range read: %d of %d bytes", s.done, s.end-s.start)
		}
		lastErr = &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "get", Name: name, Err: err}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return lastErr
}
