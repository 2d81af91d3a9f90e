package cache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// recover rebuilds the index from meta/ at start-up, before any FUSE
// request is served: dirty entries are queued for upload at once (their
// content is the newest), complete clean ones join the LRU to be reused
// after validation, anything else (partial downloads, data without a
// record, stray temp files) is deleted. It returns the garbage lists left
// by the previous run (gc files), to delete once the cache runs.
func (c *Cache) recover() ([]gcFile, error) {
	metaDir := filepath.Join(c.dir, "meta")
	ents, err := os.ReadDir(metaDir)
	if err != nil {
		return nil, err
	}
	var recs []record
	var gc []gcFile
	for _, de := range ents {
		n := de.Name()
		p := filepath.Join(metaDir, n)
		switch {
		case isGCFile(n):
			g, err := readGC(p)
			if err != nil {
				c.log.Warn("unreadable garbage list removed", "file", n, "err", err)
				os.Remove(p)
				continue
			}
			gc = append(gc, g)
			continue
		case !strings.HasSuffix(n, ".json"):
			os.Remove(p) // a temp file of an interrupted write
			continue
		}
		b, err := os.ReadFile(p)
		var r record
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil || strconv.FormatUint(r.ID, 10)+".json" != n {
			c.log.Warn("unreadable cache record removed", "file", n, "err", err)
			os.Remove(p)
			continue
		}
		recs = append(recs, r)
	}
	// Oldest first: the LRU order, and the newer record of a name wins.
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })

	var dirty []*Entry
	for _, r := range recs {
		if r.ID >= c.nextID {
			c.nextID = r.ID + 1
		}
		st, serr := os.Stat(c.dataPath(r.ID))
		if serr != nil || (!r.Dirty && (!r.Complete || st.Size() != r.Size)) {
			if r.Dirty {
				c.log.Error("dirty file lost its data in the cache", "object", r.Name, "err", serr)
				if len(r.Journal) > 0 {
					// The journal may hold the segments of a manifest that
					// made it to Swift: deleting them could break the
					// object there. Leave them.
					c.log.Warn("segments of an unfinished upload left in Swift", "object", r.Name, "segments", len(r.Journal))
				}
			} else if len(r.Journal) > 0 {
				g, ok := c.journalGC(r)
				if !ok {
					continue // keep the record (and its journal) for next time
				}
				gc = append(gc, g)
			}
			c.removeFiles(r.ID)
			continue
		}
		if old := c.byName[r.Name]; old != nil {
			// Two records for one name (a crash during a rename or while
			// a stale copy was replaced): the dirty one wins, else the newer.
			if old.dirty && !r.Dirty {
				c.removeFiles(r.ID)
				continue
			}
			c.log.Info("older cache copy replaced", "object", r.Name, "dirty", old.dirty)
			c.forgetRecovered(old)
			if old.dirty {
				dirty = removeEntry(dirty, old)
			}
		}
		f, err := os.OpenFile(c.dataPath(r.ID), os.O_RDWR, 0o600)
		if err != nil {
			c.log.Warn("cache data unreadable; removed", "object", r.Name, "err", err)
			c.removeFiles(r.ID)
			continue
		}
		e := newEntry(c, r.ID, r.Name)
		e.f = f
		e.size = st.Size()
		e.complete = true
		e.dirty = r.Dirty
		e.dirtySince = st.ModTime()
		e.remoteETag = r.RemoteETag
		e.remoteLarge = r.RemoteLarge
		e.lastModified = r.LastModified
		e.contentType = r.ContentType
		e.meta = r.Meta
		e.segments = r.Segments
		e.charged = st.Size()
		c.used += e.charged
		c.entries[r.ID] = e
		c.byName[r.Name] = e
		if r.Dirty {
			// Kept until the next upload succeeds: the segments of an
			// interrupted SLO upload, whose manifest may have made it.
			e.journal = r.Journal
			for _, g := range r.Journal {
				e.superseded = e.superseded || g.Manifest
			}
			e.pins = 1 // the dirty pin
			dirty = append(dirty, e)
		} else {
			if len(r.Journal) > 0 {
				if g, ok := c.journalGC(r); ok {
					gc = append(gc, g)
					e.mu.Lock()
					if err := e.saveRecordLocked(); err != nil {
						e.recordNotSavedLocked(err)
					}
					e.mu.Unlock()
				} else {
					e.journal = r.Journal
				}
			}
			c.lru.Add(e.id, struct{}{})
			c.lruBytes += e.charged
		}
	}
	dataDir := filepath.Join(c.dir, "data")
	files, err := os.ReadDir(dataDir)
	if err != nil {
		return nil, err
	}
	for _, de := range files {
		id, perr := strconv.ParseUint(de.Name(), 10, 64)
		if perr != nil || c.entries[id] == nil {
			os.Remove(filepath.Join(dataDir, de.Name()))
		}
	}
	// A smaller budget than last time: make room.
	if max := c.opts.MaxBytes; max > 0 && c.used > max {
		c.trimLocked()
		if c.used > max {
			c.log.Warn("dirty data in the cache exceeds the budget; new data is refused until it is uploaded",
				"dirty_bytes", c.used, "max", max)
		}
	}
	if len(dirty) > 0 {
		c.log.Info("recovered dirty files from the cache; uploading them first", "count", len(dirty))
	}
	now := c.opts.Now()
	for _, e := range dirty {
		c.wb.due[e] = now
	}
	if err := c.invariantsLocked(); err != nil {
		return nil, err
	}
	return gc, nil
}

// journalGC hands a record's journal to the garbage collector (the record
// is clean, or gone: its upload completed or it was removed, so nothing
// refers to the journal's objects any more). ok is false when the list
// could not be saved; the journal then stays where it is.
func (c *Cache) journalGC(r record) (g gcFile, ok bool) {
	c.log.Info("deleting segments of an earlier upload", "object", r.Name, "objects", len(r.Journal))
	g, err := c.saveGC(r.Journal)
	if err != nil {
		c.log.Warn("garbage list not saved", "object", r.Name, "err", err)
		return gcFile{}, false
	}
	return g, true
}

// forgetRecovered undoes the recovery of e (a newer record of its name
// was found).
func (c *Cache) forgetRecovered(e *Entry) {
	delete(c.entries, e.id)
	delete(c.byName, e.name)
	c.used -= e.charged
	if c.lru.Remove(e.id) {
		c.lruBytes -= e.charged
	}
	e.f.Close()
	c.removeFiles(e.id)
}

func removeEntry(es []*Entry, e *Entry) []*Entry {
	out := es[:0]
	for _, x := range es {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}
