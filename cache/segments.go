package cache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// DefaultSegmentPrefix is where SLO segments live when Options.SegmentPrefix
// is empty: a name at the container root that the file system hides.
const DefaultSegmentPrefix = ".swiftfs-segments/"

// SegmentPlan lists the segments of a Static Large Object of size bytes:
// segSize each (the last one shorter), named base + "%08d" (base ends in
// "/"; the cache's own base is SegmentPrefix + "<entry id>-<time>/"). The
// ETags are left empty.
func SegmentPlan(base string, size, segSize int64) []swiftclient.Segment {
	var segs []swiftclient.Segment
	for off, i := int64(0), 0; off < size; off, i = off+segSize, i+1 {
		segs = append(segs, swiftclient.Segment{Name: base + fmt.Sprintf("%08d", i), Size: min(segSize, size-off)})
	}
	return segs
}

// PutSegments uploads the segments of segs whose ETag is empty, each from
// its range of r (segment i starts at i*segSize), uploaders at a time:
// every segment is hashed first and sent with its MD5, so that Swift
// refuses a body that changed. It sets the ETag of each segment uploaded;
// the first failure stops the others and is returned (name is the object
// the segments belong to, for the error text). done, when set, is called
// with each segment's size once it is stored. The manifest is the
// caller's: Client.Put with PutOptions.Segments.
func PutSegments(ctx context.Context, client swiftclient.Client, name string, r io.ReaderAt, segs []swiftclient.Segment, segSize int64, uploaders int, done func(n int64)) error {
	return firstError(putSegments(ctx, client, name, r, segs, segSize, max(uploaders, 1), done))
}

// SLOETag is the ETag Swift reports (HEAD, listing) for a Static Large
// Object of these segments: the MD5 of their ETags, concatenated.
func SLOETag(segs []swiftclient.Segment) string {
	h := md5.New()
	for _, s := range segs {
		io.WriteString(h, s.ETag)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SectionMD5 is the lower-case hex MD5 of the n bytes of r at off: the
// ETag Swift gives them as one object (swiftfs import uses it too).
func SectionMD5(r io.ReaderAt, off, n int64) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, off, n)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// putSegments is PutSegments with one error per segment.
func putSegments(ctx context.Context, client swiftclient.Client, name string, r io.ReaderAt, segs []swiftclient.Segment, segSize int64, uploaders int, done func(n int64)) []error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(segs))
	sem := make(chan struct{}, uploaders)
	for i := range segs {
		if segs[i].ETag != "" {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-sctx.Done():
		}
		if sctx.Err() != nil {
			errs[i] = sctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			off := int64(i) * segSize
			sum, err := SectionMD5(r, off, segs[i].Size)
			if err != nil {
				errs[i] = fmt.Errorf("cache: reading %q for upload: %w", name, err)
				cancel()
				return
			}
			_, errs[i] = client.Put(sctx, segs[i].Name, io.NewSectionReader(r, off, segs[i].Size), segs[i].Size,
				swiftclient.PutOptions{MD5: sum})
			if errs[i] != nil {
				cancel()
				return
			}
			segs[i].ETag = sum
			if done != nil {
				done(segs[i].Size)
			}
		}()
	}
	wg.Wait()
	return errs
}
