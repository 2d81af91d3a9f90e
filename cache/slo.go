package cache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// putSLO uploads f as a Static Large Object: segments of SegmentSize in
// parallel under SegmentPrefix/<entry id>-<time>/, journaled in the entry's
// record before they are written (so a crash leaves a list of orphans to
// delete), then the manifest.
func (w *writeback) putSLO(ctx context.Context, e *Entry, name string, f *os.File, size int64, ct string, meta map[string]string) (swiftclient.ObjectInfo, error) {
	c := w.c
	seg := c.opts.SegmentSize
	base := fmt.Sprintf("%s%d-%d/", c.opts.SegmentPrefix, e.id, c.opts.Now().UnixNano())
	var segs []swiftclient.Segment
	var names []string
	for off, i := int64(0), 0; off < size; off, i = off+seg, i+1 {
		n := base + fmt.Sprintf("%08d", i)
		segs = append(segs, swiftclient.Segment{Name: n, Size: min(seg, size-off)})
		names = append(names, n)
	}
	e.mu.Lock()
	old := e.segments
	e.segments = append(append([]string(nil), old...), names...)
	rec := e.recordLocked()
	e.mu.Unlock()
	if err := c.saveRecord(rec); err != nil {
		return swiftclient.ObjectInfo{}, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(segs))
	sem := make(chan struct{}, max(2, c.opts.Uploaders))
	for i := range segs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			off := int64(i) * seg
			sr := io.NewSectionReader(f, off, segs[i].Size)
			h := md5.New()
			if _, err := io.Copy(h, sr); err != nil {
				errs[i] = err
				return
			}
			segs[i].ETag = hex.EncodeToString(h.Sum(nil))
			_, errs[i] = c.client.Put(ctx, segs[i].Name, io.NewSectionReader(f, off, segs[i].Size), segs[i].Size,
				swiftclient.PutOptions{MD5: segs[i].ETag})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return swiftclient.ObjectInfo{}, err
		}
	}
	info, err := c.client.Put(ctx, name, nil, size, swiftclient.PutOptions{ContentType: ct, Meta: meta, Segments: segs})
	if err != nil {
		return info, err
	}
	// The new manifest is in place: segments of this entry's earlier
	// uploads are orphans now.
	for _, n := range old {
		if derr := c.client.Delete(ctx, n, swiftclient.DeleteOptions{}); derr != nil && swiftclient.KindOf(derr) != swiftclient.ErrNotFound {
			c.log.Warn("old segment not deleted", "segment", n, "err", derr)
		}
	}
	e.mu.Lock()
	e.segments = names
	e.mu.Unlock()
	info.Size = size
	info.LargeObject = true
	c.log.Info("uploaded as static large object", "object", name, "bytes", size, "segments", len(segs),
		"segment_prefix", base, "segment_size", strconv.FormatInt(seg, 10))
	return info, nil
}
