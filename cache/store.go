package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// record is the durable state of one entry, kept in meta/<id>.json. It is
// written with WriteFileDurable (temp file, fsync, rename, fsync dir), and
// only with the entry's mutex held, so records reach the disk in the order
// of the changes they describe.
type record struct {
	ID           uint64            `json:"id"`
	Name         string            `json:"name"`
	Size         int64             `json:"size"`
	LastModified time.Time         `json:"last_modified,omitzero"`
	Complete     bool              `json:"complete"`
	Dirty        bool              `json:"dirty"`
	ContentType  string            `json:"content_type,omitempty"`
	Meta         map[string]string `json:"meta,omitempty"`
	// RemoteETag is the fingerprint of the object this copy was downloaded
	// from or last uploaded as; empty for a file never in Swift.
	RemoteETag  string `json:"remote_etag,omitempty"`
	RemoteLarge bool   `json:"remote_large,omitempty"`
	// Segments lists the SLO segments of the manifest this entry uploaded
	// last.
	Segments []string `json:"segments,omitempty"`
	// Journal lists objects written by uploads not known to have
	// completed (SLO segments, manifest copies of a replaced large
	// object); see Entry.journal.
	Journal []garbage `json:"journal,omitempty"`
}

func (c *Cache) dataPath(id uint64) string {
	return filepath.Join(c.dir, "data", strconv.FormatUint(id, 10))
}

func (c *Cache) metaPath(id uint64) string {
	return filepath.Join(c.dir, "meta", strconv.FormatUint(id, 10)+".json")
}

// WriteFileDurable replaces path with data so that after a crash either
// the old or the new content is found, never a mix (temp file ".tmp-*"
// beside it, fsync, rename, fsync of the directory). Package fs uses it
// for the records of its local-only files.
func WriteFileDurable(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// removeDurable deletes path (if present) so that a crash cannot bring it
// back.
func removeDurable(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (c *Cache) saveRecord(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := WriteFileDurable(c.metaPath(r.ID), b); err != nil {
		return fmt.Errorf("cache: saving state of %q: %w", r.Name, err)
	}
	return nil
}

// removeRecord deletes an entry's record durably.
func (c *Cache) removeRecord(id uint64) error {
	return removeDurable(c.metaPath(id))
}

// removeFiles deletes an entry's record and data (a dropped entry).
func (c *Cache) removeFiles(id uint64) {
	os.Remove(c.metaPath(id))
	os.Remove(c.dataPath(id))
}
