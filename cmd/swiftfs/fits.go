package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/swiftfs/swiftfs/fitsstage"
)

// fitsCheck wires --fits-check: staged FITS files are checked before upload
// (warn: logged, uploaded anyway; refuse: kept dirty, close/fsync fail).
type fitsCheck struct {
	mode string
	log  *slog.Logger
}

func fitsValidator(mode string, log *slog.Logger) fitsCheck { return fitsCheck{mode: mode, log: log} }

func (c fitsCheck) check(name string, r io.ReaderAt, size int64) error {
	if c.mode == "off" {
		return nil
	}
	var err error
	switch {
	case fitsstage.Applies(name):
		_, err = fitsstage.Validate(r, size)
	case fitsstage.AppliesGzip(name):
		err = fitsstage.ValidateGzip(r, size)
	default:
		return nil
	}
	if err == nil {
		return nil
	}
	if c.mode == "warn" {
		c.log.Warn("FITS check failed; uploading anyway (--fits-check=warn)", "object", name, "err", err)
		return nil
	}
	return fmt.Errorf("FITS check failed (--fits-check=refuse): %w", err)
}

// upload is the cache's Validate hook; nil when checks are off.
func (c fitsCheck) upload(name string, r io.ReaderAt, size int64) error {
	return c.check(name, r, size)
}

// close is the file system's hook, run at close() so that refuse mode
// reports the failure to the writer. In warn mode the upload hook logs.
func (c fitsCheck) close(name string, r io.ReaderAt, size int64) error {
	if c.mode != "refuse" {
		return nil
	}
	return c.check(name, r, size)
}
