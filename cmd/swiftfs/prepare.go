package main

import (
	"context"
	"maps"
	"os"
	"strings"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/fitsstage"
)

type prepareFunc func(ctx context.Context, name string, src *os.File, size int64) (cache.Prepared, error)

// chainPrepare runs each PrepareUpload step on the output of the previous
// one, merging metadata and cleanups.
func chainPrepare(steps ...prepareFunc) prepareFunc {
	return func(ctx context.Context, name string, src *os.File, size int64) (cache.Prepared, error) {
		out := cache.Prepared{}
		var cleanups []func()
		cur, curSize := src, size
		for _, step := range steps {
			if step == nil {
				continue
			}
			p, err := step(ctx, name, cur, curSize)
			if p.Cleanup != nil {
				cleanups = append(cleanups, p.Cleanup)
			}
			if err != nil {
				for _, c := range cleanups {
					c()
				}
				return cache.Prepared{}, err
			}
			if p.File != nil {
				cur, curSize = p.File, p.Size
				out.File, out.Size = p.File, p.Size
			}
			if len(p.Meta) > 0 {
				if out.Meta == nil {
					out.Meta = map[string]string{}
				}
				maps.Copy(out.Meta, p.Meta)
			}
		}
		if len(cleanups) > 0 {
			out.Cleanup = func() {
				for _, c := range cleanups {
					c()
				}
			}
		}
		return out, nil
	}
}

// fitsHDUIndex records where each HDU of a FITS file starts, in the
// object's metadata (X-Object-Meta-Fits-Hdu-Index), so that a later reader
// can fetch header n with one ranged GET. Files that do not parse get none.
func fitsHDUIndex(ctx context.Context, name string, src *os.File, size int64) (cache.Prepared, error) {
	if !fitsstage.Applies(name) {
		return cache.Prepared{}, nil
	}
	l, err := fitsstage.Validate(src, size)
	if err != nil {
		return cache.Prepared{}, nil // the check (--fits-check) reports it
	}
	return cache.Prepared{Meta: map[string]string{strings.ToLower(fitsstage.MetadataKey): fitsstage.HDUIndex(l)}}, nil
}
