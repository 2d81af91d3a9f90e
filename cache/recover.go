package cache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// recover rebuilds the index from meta/ at start-up, before any FUSE
// request is served: dirty entries are queued for upload at once (their
// content is the newest), complete clean ones join the LRU to be reused
// after validation, anything else (partial downloads, data without a
// record, stray temp files) is deleted.
func (c *Cache) recover() error {
	metaDir := filepath.Join(c.dir, "meta")
	ents, err := os.ReadDir(metaDir)
	if err != nil {
		return err
	}
	known := map[uint64]bool{}
	var dirty []*Entry
	for _, de := range ents {
		n := de.Name()
		if !strings.HasSuffix(n, ".json") {
			os.Remove(filepath.Join(metaDir, n))
			continue
		}
		b, err := os.ReadFile(filepath.Join(metaDir, n))
		var r record
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			c.log.Warn("unreadable cache record removed", "file", n, "err", err)
			os.Remove(filepath.Join(metaDir, n))
			continue
		}
		if r.ID >= c.nextID {
			c.nextID = r.ID + 1
		}
		st, serr := os.Stat(c.dataPath(r.ID))
		if serr != nil || (!r.Dirty && (!r.Complete || st.Size() != r.Size)) {
			if r.Dirty {
				c.log.Error("dirty file lost its data in the cache", "object", r.Name, "err", serr)
			}
			c.removeRecord(r.ID)
			continue
		}
		if old := c.byName[r.Name]; old != nil {
			// Two records for one name (a crash during rename): the dirty,
			// or else the newer, wins.
			if old.dirty && !r.Dirty || (old.dirty == r.Dirty && old.id > r.ID) {
				c.removeRecord(r.ID)
				continue
			}
			delete(c.entries, old.id)
			c.used -= old.charged
			c.lru.Remove(old.id)
			c.removeRecord(old.id)
		}
		f, err := os.OpenFile(c.dataPath(r.ID), os.O_RDWR, 0o600)
		if err != nil {
			c.removeRecord(r.ID)
			continue
		}
		e := newEntry(c, r.ID, r.Name)
		e.f = f
		e.size = st.Size()
		e.complete = true
		e.dirty = r.Dirty
		e.remoteETag = r.RemoteETag
		e.lastModified = r.LastModified
		e.contentType = r.ContentType
		e.meta = r.Meta
		e.segments = r.Segments
		e.charged = st.Size()
		c.used += e.charged
		c.entries[r.ID] = e
		c.byName[r.Name] = e
		known[r.ID] = true
		if r.Dirty {
			e.pins = 1
			dirty = append(dirty, e)
		} else {
			e.evictable = true
			c.lru.Add(e.id, struct{}{})
		}
	}
	dataDir := filepath.Join(c.dir, "data")
	files, err := os.ReadDir(dataDir)
	if err != nil {
		return err
	}
	for _, de := range files {
		id, perr := strconv.ParseUint(de.Name(), 10, 64)
		if perr != nil || !known[id] {
			os.Remove(filepath.Join(dataDir, de.Name()))
		}
	}
	if len(dirty) > 0 {
		c.log.Info("recovered dirty files from the cache; uploading them first", "count", len(dirty))
	}
	now := c.opts.Now()
	for _, e := range dirty {
		c.wb.due[e] = now
		e.queued = true
	}
	return nil
}
