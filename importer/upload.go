package importer

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	sfs "github.com/swiftfs/swiftfs/fs"
	"github.com/swiftfs/swiftfs/swiftclient"
)

const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// do imports one entry and counts it as done, unless ctx was cancelled
// first (the entry is then left for the next run).
func (im *Importer) do(ctx context.Context, e *entry, remote map[string]swiftclient.ObjectInfo) {
	if ctx.Err() != nil {
		return
	}
	var counted int64 // bytes of e already added to bytesDone
	var err error
	switch e.kind {
	case sfs.ObjectDir:
		err = im.dir(ctx, e, remote)
	case sfs.ObjectSymlink:
		err = im.symlink(ctx, e, remote)
	default:
		err = im.file(ctx, e, remote, &counted)
	}
	if err != nil && ctx.Err() != nil {
		im.bytesDone.Add(-counted) // cut off: not done
		return
	}
	im.bytesDone.Add(e.size - counted)
	im.filesDone.Add(1)
	if err != nil {
		im.fail(display(e.rel), err)
	}
}

func (im *Importer) abs(rel string) string {
	return filepath.Join(im.opts.Source, filepath.FromSlash(rel))
}

func (im *Importer) count(f func(r *Result)) {
	im.mu.Lock()
	f(&im.res)
	im.mu.Unlock()
}

func (im *Importer) dir(ctx context.Context, e *entry, remote map[string]swiftclient.ObjectInfo) error {
	info, err := os.Lstat(im.abs(e.rel))
	if err != nil {
		return err
	}
	name := im.opts.Prefix + e.rel + "/"
	if e.rel == "" {
		name = im.opts.Prefix
	}
	if o, clash := remote[strings.TrimSuffix(name, "/")]; clash {
		return fmt.Errorf("Swift holds a file of that name (%s, %d bytes): not replaced by a directory", o.ContentType, o.Size)
	}
	ct, meta := sfs.EncodeObject(e.rel, attrsOf(sfs.ObjectDir, info))
	if o, ok := remote[name]; ok && o.ContentType == ct {
		im.count(func(r *Result) { r.Skipped++ })
		return nil
	}
	if _, err := im.client.Put(ctx, name, strings.NewReader(""), 0,
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: emptyMD5}); err != nil {
		return err
	}
	im.count(func(r *Result) { r.Dirs++ })
	return nil
}

func (im *Importer) symlink(ctx context.Context, e *entry, remote map[string]swiftclient.ObjectInfo) error {
	p := im.abs(e.rel)
	target, err := os.Readlink(p)
	if err != nil {
		return err
	}
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	name := im.opts.Prefix + e.rel
	if _, clash := remote[name+"/"]; clash {
		return errors.New("Swift holds a directory of that name: not replaced by a symlink")
	}
	ct, meta := sfs.EncodeObject(e.rel, attrsOf(sfs.ObjectSymlink, info))
	sum := md5hex([]byte(target))
	if o, ok := remote[name]; ok && o.ContentType == ct && o.ETag == sum && !o.LargeObject {
		im.count(func(r *Result) { r.Skipped++ })
		return nil
	}
	old, err := im.supersede(ctx, name, remote)
	if err != nil {
		return err
	}
	if _, err := im.client.Put(ctx, name, strings.NewReader(target), int64(len(target)),
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: sum}); err != nil {
		im.dropSuperseded(old, false)
		return err
	}
	im.dropSuperseded(old, true)
	im.count(func(r *Result) { r.Symlinks++ })
	return nil
}

func (im *Importer) file(ctx context.Context, e *entry, remote map[string]swiftclient.ObjectInfo, counted *int64) error {
	f, err := os.OpenFile(im.abs(e.rel), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New("no longer a regular file")
	}
	size := info.Size()
	name := im.opts.Prefix + e.rel
	if _, clash := remote[name+"/"]; clash {
		return errors.New("Swift holds a directory of that name: not replaced by a file")
	}
	ct, meta := sfs.EncodeObject(e.rel, attrsOf(sfs.ObjectFile, info))
	large := size > im.opts.SLOThreshold
	o, exists := remote[name]
	if exists && o.Size == size && o.LargeObject == large {
		sum, err := im.hash(f, size, large)
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
		if sum == o.ETag {
			if o.ContentType == ct {
				im.count(func(r *Result) { r.Skipped++; r.SkippedBytes += size })
				return nil
			}
			// The content is there: only the attributes changed.
			_, meta, cleanup, err := im.prepare(ctx, name, f, size, meta)
			if cleanup != nil {
				cleanup()
			}
			if err != nil {
				return err
			}
			if err := im.client.Update(ctx, name, ct, meta); err != nil {
				return err
			}
			im.count(func(r *Result) { r.Updated++ })
			return im.unchanged(f, info)
		}
	}
	body, meta, cleanup, err := im.prepare(ctx, name, f, size, meta)
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return err
	}
	bsize := size
	if body != f {
		st, err := body.Stat()
		if err != nil {
			return err
		}
		bsize = st.Size()
	}
	old, err := im.supersede(ctx, name, remote)
	if err != nil {
		return err
	}
	if bsize > im.opts.SLOThreshold {
		err = im.putLarge(ctx, name, body, bsize, ct, meta, counted)
	} else {
		err = im.putWhole(ctx, name, body, bsize, ct, meta)
	}
	im.dropSuperseded(old, err == nil)
	if err != nil {
		return err
	}
	im.count(func(r *Result) { r.Files++; r.Bytes += bsize })
	return im.unchanged(f, info)
}

// prepare runs the Validate and Prepare hooks: the file to upload (f
// itself or a snapshot), the metadata with the hook's additions, and the
// snapshot's cleanup.
func (im *Importer) prepare(ctx context.Context, name string, f *os.File, size int64, meta map[string]string) (*os.File, map[string]string, func(), error) {
	if im.opts.Validate != nil {
		if err := im.opts.Validate(name, f, size); err != nil {
			return nil, nil, nil, err
		}
	}
	if im.opts.Prepare == nil {
		return f, meta, nil, nil
	}
	p, err := im.opts.Prepare(ctx, name, f, size)
	if err != nil {
		return nil, nil, p.Cleanup, err
	}
	if len(p.Meta) > 0 {
		meta = maps.Clone(meta)
		maps.Copy(meta, p.Meta)
	}
	body := f
	if p.File != nil {
		body = p.File
	}
	return body, meta, p.Cleanup, nil
}

// unchanged reports a file whose size or mtime changed while it was
// imported: what Swift holds may then be older than the file.
func (im *Importer) unchanged(f *os.File, before os.FileInfo) error {
	now, err := f.Stat()
	if err != nil {
		return err
	}
	if now.Size() != before.Size() || !now.ModTime().Equal(before.ModTime()) {
		return errors.New("the file changed while it was imported (run the import again)")
	}
	return nil
}

// hash returns the ETag Swift lists for this content: the MD5, or for a
// large object the MD5 of its segments' MD5s (segments of SegmentSizeFor).
func (im *Importer) hash(f *os.File, size int64, large bool) (string, error) {
	if !large {
		return cache.SectionMD5(f, 0, size)
	}
	segSize := cache.SegmentSizeFor(size, im.opts.SegmentSize)
	segs := cache.SegmentPlan("", size, segSize)
	for i := range segs {
		sum, err := cache.SectionMD5(f, int64(i)*segSize, segs[i].Size)
		if err != nil {
			return "", err
		}
		segs[i].ETag = sum
	}
	return cache.SLOETag(segs), nil
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// putWhole uploads f as one object with its MD5 as ETag.
func (im *Importer) putWhole(ctx context.Context, name string, f *os.File, size int64, ct string, meta map[string]string) error {
	sum, err := cache.SectionMD5(f, 0, size)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	_, err = im.client.Put(ctx, name, io.NewSectionReader(f, 0, size), size,
		swiftclient.PutOptions{ContentType: ct, Meta: meta, MD5: sum})
	return err
}

// putLarge uploads f as a Static Large Object. The segments of a failed
// attempt are deleted unless the manifest may have been written (a
// failure other than a refusal).
func (im *Importer) putLarge(ctx context.Context, name string, f *os.File, size int64, ct string, meta map[string]string, counted *int64) error {
	base := fmt.Sprintf("%simport-%d-%d/", im.opts.SegmentPrefix, im.opts.Now().UnixNano(), im.seq.Add(1))
	segSize := cache.SegmentSizeFor(size, im.opts.SegmentSize)
	segs := cache.SegmentPlan(base, size, segSize)
	var sent atomic.Int64
	err := cache.PutSegments(ctx, im.client, name, f, segs, segSize, im.opts.Workers, func(n int64) {
		im.bytesDone.Add(n)
		sent.Add(n)
	})
	*counted = sent.Load()
	if err == nil {
		_, err = im.client.Put(ctx, name, nil, size, swiftclient.PutOptions{ContentType: ct, Meta: meta, Segments: segs})
		if err != nil && swiftclient.KindOf(err) != swiftclient.ErrInvalid && ctx.Err() == nil {
			im.log.Warn("large object manifest not confirmed; its segments are kept", "object", name, "segments", base, "err", err)
			return err
		}
	}
	if err != nil {
		im.deleteObjects(segs)
	}
	return err
}

// deleteObjects deletes the segments that were stored (they have an
// ETag), in the background of a failure: at most a minute.
func (im *Importer) deleteObjects(segs []swiftclient.Segment) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range segs {
		if s.ETag == "" {
			continue
		}
		if err := im.client.Delete(ctx, s.Name, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			im.log.Warn("segment of a failed upload not deleted", "segment", s.Name, "err", err)
		}
	}
}

// supersede prepares the replacement of a large object: a copy of its
// manifest alone goes under the segment prefix, so that its segments can
// be deleted with it once the new content is in place (dropSuperseded).
// It returns the copy's name ("" when name is not a large object).
func (im *Importer) supersede(ctx context.Context, name string, remote map[string]swiftclient.ObjectInfo) (string, error) {
	if o, ok := remote[name]; !ok || !o.LargeObject {
		return "", nil
	}
	keep := fmt.Sprintf("%simport-%d-%d.replaced", im.opts.SegmentPrefix, im.opts.Now().UnixNano(), im.seq.Add(1))
	if _, err := im.client.Copy(ctx, name, keep, swiftclient.CopyOptions{ManifestOnly: true}); err != nil {
		if errors.Is(err, swiftclient.ErrNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("keeping the replaced large object's manifest: %w", err)
	}
	return keep, nil
}

// dropSuperseded deletes the manifest copy of supersede: with the old
// segments when the replacement is stored (replaced), alone otherwise.
func (im *Importer) dropSuperseded(keep string, replaced bool) {
	if keep == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := im.client.Delete(ctx, keep, swiftclient.DeleteOptions{MultipartManifest: replaced}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
		im.log.Warn("copy of a replaced large object's manifest not deleted", "object", keep, "with_segments", replaced, "err", err)
	}
}
