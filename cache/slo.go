package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// maxSegments is the most segments an SLO manifest may name: Swift's
// max_manifest_segments, 1000 by default.
const maxSegments = 1000

// segmentSizeFor is the segment size of an SLO of size bytes (see
// SegmentSizeFor).
func (c *Cache) segmentSizeFor(size int64) int64 { return SegmentSizeFor(size, c.opts.SegmentSize) }

// SegmentSizeFor is the segment size of an SLO of size bytes: segSize, or
// the next MiB above size/maxSegments when that is more (a 32 MiB segment
// size covers 31 GiB in 1000 segments). swiftfs import uses it too.
func SegmentSizeFor(size, segSize int64) int64 {
	need := (size + maxSegments - 1) / maxSegments
	if need <= segSize {
		return segSize
	}
	return (need + 1<<20 - 1) &^ (1<<20 - 1)
}

// putSLO uploads f as a Static Large Object: segments of segmentSizeFor,
// Uploaders at a time, under SegmentPrefix<entry id>-<time>/, journalled in
// the entry's record before any is written (so that a crash or a failure
// leaves a list of what to delete), then the manifest. The journal entries
// are deleted by the garbage collector once an upload of the entry
// succeeded.
//
// A failed attempt keeps what it uploaded for the next one, when that
// uploads the same content (gen, the generation of the snapshot; -1 for a
// copy made by PrepareUpload): a 6 GiB upload that lost one segment to an
// overloaded Swift resumes rather than starting again. A failure that a
// retry soon will not fix (a quota, say) deletes the segments at once
// instead, so that attempts do not pile up. With createOnly the manifest
// is sent with "If-None-Match: *"; its 412 keeps the segments too, for the
// manifest of the conflict copy that follows.
func (w *writeback) putSLO(ctx context.Context, e *Entry, name string, f *os.File, size, gen int64, ct string, meta map[string]string, createOnly bool) (putResult, error) {
	c := w.c
	seg := c.segmentSizeFor(size)
	e.mu.Lock()
	p := e.partial
	e.partial = nil
	if p == nil || gen < 0 || p.gen != gen || p.size != size || p.segSize != seg {
		base := fmt.Sprintf("%s%d-%d/", c.opts.SegmentPrefix, e.id, c.opts.Now().UnixNano())
		p = &sloPartial{gen: gen, size: size, segSize: seg, segs: SegmentPlan(base, size, seg)}
		for _, s := range p.segs {
			e.journal = append(e.journal, garbage{Name: s.Name})
		}
		if err := e.saveRecordLocked(); err != nil {
			e.mu.Unlock()
			return putResult{}, err
		}
	}
	e.mu.Unlock()
	segs := p.segs // ours: the entry no longer refers to p
	names := make([]string, len(segs))
	resumed := 0
	for i := range segs {
		names[i] = segs[i].Name
		if segs[i].ETag != "" {
			resumed++
		}
	}
	if resumed > 0 {
		c.log.Info("resuming a large object upload", "object", name, "segments_done", resumed, "segments", len(segs))
	}

	errs := putSegments(ctx, c.client, name, f, segs, seg, c.opts.Uploaders, nil)
	keep := func() {
		e.mu.Lock()
		e.partial = p
		e.mu.Unlock()
	}
	if err := firstError(errs); err != nil {
		if permanent(err) {
			w.dropSegments(ctx, e, names)
		} else {
			keep()
		}
		return putResult{}, err
	}
	info, err := c.client.Put(ctx, name, nil, size, swiftclient.PutOptions{ContentType: ct, Meta: meta, Segments: segs, IfNoneMatch: createOnly})
	if err != nil {
		// The manifest may have been written after all (a timeout): the
		// journal keeps the segments until an upload succeeds.
		if !errors.Is(err, swiftclient.ErrInvalid) {
			keep()
		}
		return putResult{}, err
	}
	info.Size = size
	info.LargeObject = true
	c.log.Info("uploaded as static large object", "object", name, "bytes", size, "segments", len(segs),
		"segments_resumed", resumed, "segment_size", seg)
	return putResult{info: info, written: names}, nil
}

// firstError returns the first error that is not a cancellation caused by
// another one, else the first error.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return first
}

// dropSegments deletes segments of a failed SLO upload (no manifest refers
// to them) and takes those gone off the journal. A cancelled upload
// (remove, unmount) leaves them to the journal.
func (w *writeback) dropSegments(ctx context.Context, e *Entry, names []string) {
	c := w.c
	if ctx.Err() != nil || c.ctx.Err() != nil {
		return
	}
	dctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	gone := map[string]bool{}
	for _, n := range names {
		err := c.client.Delete(dctx, n, swiftclient.DeleteOptions{})
		if err == nil || errors.Is(err, swiftclient.ErrNotFound) {
			gone[n] = true
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var left []garbage
	for _, g := range e.journal {
		if !gone[g.Name] {
			left = append(left, g)
		}
	}
	e.journal = left
	if err := e.saveRecordLocked(); err != nil {
		e.recordNotSavedLocked(err)
	}
}

// supersede prepares the replacement of a large object whose segments the
// entry does not know (it was downloaded, not uploaded, here): a copy of
// its manifest alone is made under the segment prefix and journalled, so
// that once the new content is in place the old segments are deleted with
// it (multipart-manifest=delete). Overwriting a large object thus removes
// its segments, as deleting it does.
func (w *writeback) supersede(ctx context.Context, e *Entry, name string) error {
	c := w.c
	e.mu.Lock()
	need := e.remoteLarge && e.remoteETag != "" && len(e.segments) == 0 && !e.superseded
	if !need {
		e.mu.Unlock()
		return nil
	}
	keep := fmt.Sprintf("%s%d-%d.replaced", c.opts.SegmentPrefix, e.id, c.opts.Now().UnixNano())
	e.journal = append(e.journal, garbage{Name: keep, Manifest: true})
	err := e.saveRecordLocked()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = c.client.Copy(ctx, name, keep, swiftclient.CopyOptions{ManifestOnly: true})
	if err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
		return err
	}
	e.mu.Lock()
	e.superseded = true
	e.mu.Unlock()
	return nil
}
