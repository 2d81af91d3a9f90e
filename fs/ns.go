package fs

import (
	"context"
	"strings"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// nsEntry is what the namespace knows of one name in a directory: from the
// listing, or from a local change not yet confirmed by a listing. Entries
// of a listing are kept compactly (listing); an nsEntry is made when one
// is asked for, and kept for local changes (dirState.delta).
type nsEntry struct {
	attrs
	etag       string
	localAt    time.Time // last local change: wins over listings for overlayWindow
	markerName string    // for directories: the marker object, "" when implicit
	remote     bool      // an object (or a directory marker) exists in Swift
	large      bool      // SLO/DLO manifest
	localOnly  bool      // never uploaded (SQLite side files)
}

// dirState is the cached listing of one directory plus the local overlay.
// Its entries are those of base, except the names in delta: there delta's
// entry counts, and a nil entry hides the name.
type dirState struct {
	listedAt time.Time
	base     *listing            // the last listing (immutable; nil before the first)
	delta    map[string]*nsEntry // changes since: local ones, and attributes learnt later
	count    int                 // number of entries
	// tombs hides names deleted here until a listing stops showing them.
	tombs map[string]time.Time
	// self holds the directory's own marker attributes, when it has one.
	self *nsEntry
	// relistAt is when a background listing was last started while
	// Swift was unreachable (outage.go).
	relistAt time.Time
}

// get returns the entry of name, nil when there is none: the entry itself
// when it is in delta, else a new copy of the listing's.
func (ds *dirState) get(name string) *nsEntry {
	if e, ok := ds.delta[name]; ok {
		return e
	}
	if i := ds.base.find(name); i >= 0 {
		return ds.base.entry(i)
	}
	return nil
}

func (ds *dirState) has(name string) bool {
	if e, ok := ds.delta[name]; ok {
		return e != nil
	}
	return ds.base.find(name) >= 0
}

// put sets the entry of name.
func (ds *dirState) put(name string, e *nsEntry) {
	if !ds.has(name) {
		ds.count++
	}
	if ds.delta == nil {
		ds.delta = map[string]*nsEntry{}
	}
	ds.delta[name] = e
}

// remove deletes the entry of name, if any.
func (ds *dirState) remove(name string) {
	if !ds.has(name) {
		return
	}
	ds.count--
	if ds.base.find(name) >= 0 {
		if ds.delta == nil {
			ds.delta = map[string]*nsEntry{}
		}
		ds.delta[name] = nil
	} else {
		delete(ds.delta, name)
	}
}

// len returns the number of entries.
func (ds *dirState) len() int { return ds.count }

type listCall struct {
	done chan struct{}
	err  error
}

// dirLocked returns the state of dir, creating an unlisted one.
// LOCKS_REQUIRED(f.nsMu)
func (f *FS) dirLocked(dir string) *dirState {
	ds := f.dirs[dir]
	if ds == nil {
		ds = &dirState{}
		f.dirs[dir] = ds
	}
	return ds
}

// ensureListed makes sure dir's listing is at most MetadataTTL old. One
// listing per directory runs at a time; concurrent callers share it.
// While Swift is unreachable a directory listed before keeps its last
// listing however old (see outage.go): callers get it at once, and a
// refresh is tried in the background.
// LOCKS_EXCLUDED(f.nsMu)
func (f *FS) ensureListed(ctx context.Context, dir string) error {
	for {
		f.nsMu.Lock()
		ds := f.dirs[dir]
		listed := ds != nil && !ds.listedAt.IsZero()
		if listed && f.now().Sub(ds.listedAt) < f.opts.MetadataTTL {
			f.nsMu.Unlock()
			return nil
		}
		if listed && f.health.Down() {
			f.refreshLaterLocked(dir, ds)
			f.nsMu.Unlock()
			return nil
		}
		if call := f.listing[dir]; call != nil {
			f.nsMu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if call.err != nil {
				if listed && isOutage(call.err) {
					return nil // the last listing, however old
				}
				return call.err
			}
			continue
		}
		call := &listCall{done: make(chan struct{})}
		f.listing[dir] = call
		f.nsMu.Unlock()
		err := f.list(ctx, dir, call)
		if err != nil && listed && isOutage(err) {
			return nil // the last listing, however old
		}
		return err
	}
}

// list lists dir for call (registered in f.listing) and merges the result.
// LOCKS_EXCLUDED(f.nsMu)
func (f *FS) list(ctx context.Context, dir string, call *listCall) error {
	started := f.now()
	// Dirty names first: a file whose upload ends during the listing
	// is then either still dirty here or already in the listing.
	dirty := f.cache.DirtyNames()
	fresh, self, err := f.listDir(ctx, dir)
	f.nsMu.Lock()
	if err == nil {
		f.mergeLocked(dir, fresh, self, started, dirty)
	}
	delete(f.listing, dir)
	call.err = err
	close(call.done)
	f.nsMu.Unlock()
	return err
}

// listDir lists every entry directly under dir, paging past 10,000.
func (f *FS) listDir(ctx context.Context, dir string) (*listing, *nsEntry, error) {
	prefix := f.names.dirPrefix(dir)
	b := newListBuilder(prefix, f.mountTime, func(msg, object string) { f.warnOnce(msg, "object", object) })
	var self *nsEntry
	err := swiftclient.ListPages(ctx, f.client, swiftclient.ListOptions{Prefix: prefix, Delimiter: "/", Limit: f.opts.ListPageSize},
		func(entries []swiftclient.ObjectInfo) error {
			f.parsePage(dir, entries, b, &self)
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	return b.finish(), self, nil
}

// parsePage adds one listing page of dir to b (and the directory's own
// marker to *self). Only what stat needs is kept, compactly (listing): a
// listing of a million objects must not keep a million ObjectInfos.
func (f *FS) parsePage(dir string, page []swiftclient.ObjectInfo, b *listBuilder, self **nsEntry) {
	prefix := f.names.dirPrefix(dir)
	for _, oi := range page {
		if !strings.HasPrefix(oi.Name, prefix) {
			continue
		}
		rest := oi.Name[len(prefix):]
		if oi.Subdir {
			name := strings.TrimSuffix(rest, "/")
			if !f.acceptName(dir, name, oi.Name) {
				continue
			}
			b.add(name, nsEntry{attrs: attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID, mtime: f.mountTime}}, true)
			continue
		}
		if rest == "" {
			// The directory's own marker ("dir/").
			a := decode(oi.ContentType, nil, 0, oi.LastModified, attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID})
			a.kind = kindDir
			*self = &nsEntry{attrs: a, remote: true, etag: oi.ETag, markerName: oi.Name}
			continue
		}
		if !f.acceptName(dir, rest, oi.Name) || f.isLocalOnly(rest) {
			continue
		}
		a := decode(oi.ContentType, nil, oi.Size, oi.LastModified, attrs{kind: kindFile, perm: f.opts.FileMode, uid: f.opts.UID, gid: f.opts.GID})
		e := nsEntry{attrs: a, etag: oi.ETag, remote: true, large: oi.LargeObject}
		if a.kind == kindDir {
			e.markerName = oi.Name
			e.size = 0
		}
		b.add(rest, e, false)
	}
}

// mergeLocked replaces dir's listing with a fresh one, keeping local
// changes newer than the listing could show. LOCKS_REQUIRED(f.nsMu)
func (f *FS) mergeLocked(dir string, fresh *listing, self *nsEntry, started time.Time, dirty map[string]int64) {
	ds := f.dirLocked(dir)
	now := f.now()
	old := ds.delta
	ds.base, ds.delta, ds.count = fresh, nil, fresh.len()
	// Local changes the listing may not show yet (entries of the old
	// listing have no localAt: only delta can hold them).
	for name, e := range old {
		if e == nil {
			continue // deleted here: the tombs decide
		}
		if e.localOnly || (!e.localAt.IsZero() && (now.Sub(e.localAt) < f.opts.OverlayWindow || !e.localAt.Before(started))) {
			if i := fresh.find(name); i >= 0 && e.kind == kindDir && fresh.kindAt(i) == kindDir && !e.remote {
				continue // an implicit directory the listing now shows
			}
			ds.put(name, e)
		}
	}
	for name, size := range dirty {
		p, ok := f.names.path(name)
		if !ok {
			continue
		}
		pd, base := splitPath(p)
		switch {
		case pd == dir:
			// The local copy is newer than whatever the listing shows.
			if e := ds.get(base); e == nil || e.kind != kindFile {
				ds.put(base, &nsEntry{attrs: attrs{kind: kindFile, perm: f.opts.FileMode, uid: f.opts.UID, gid: f.opts.GID, mtime: now, size: size}, localAt: now})
			} else if e.localAt.IsZero() {
				c := *e
				c.size = size
				c.localAt = now
				ds.put(base, &c)
			}
		case strings.HasPrefix(pd+"/", prefixOf(dir)):
			sub, _, _ := strings.Cut(strings.TrimPrefix(pd, prefixOf(dir)), "/")
			if sub != "" && !ds.has(sub) {
				ds.put(sub, &nsEntry{attrs: attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID, mtime: now}, localAt: now})
			}
		}
	}
	for name, t := range ds.tombs {
		if l := ds.get(name); l != nil && (l.localAt.IsZero() || l.localAt.Before(t)) && now.Sub(t) < f.opts.TombstoneTTL {
			ds.remove(name)
		} else if l == nil || now.Sub(t) >= f.opts.TombstoneTTL {
			delete(ds.tombs, name)
		}
	}
	if dir == "" {
		for h := range hiddenAtRoot {
			ds.remove(h)
		}
	}
	if self != nil || ds.self == nil || ds.self.localAt.IsZero() || now.Sub(ds.self.localAt) >= f.opts.OverlayWindow {
		ds.self = self
	}
	ds.listedAt = started
}

func prefixOf(dir string) string {
	if dir == "" {
		return ""
	}
	return dir + "/"
}

func (f *FS) acceptName(dir, name, object string) bool {
	if p := nameProblem(name); p != "" {
		f.warnOnce("object skipped: "+p, "object", object)
		return false
	}
	if dir == "" && hiddenAtRoot[name] {
		return false
	}
	return true
}

func (f *FS) warnOnce(msg string, args ...any) {
	key := msg
	f.warnMu.Lock()
	seen := f.warned[key]
	f.warned[key] = true
	f.warnMu.Unlock()
	if !seen {
		f.log.Warn(msg, args...)
	}
}

// lookupEntry returns a copy of the namespace entry of path, listing its
// directory when needed.
func (f *FS) lookupEntry(ctx context.Context, p string) (*nsEntry, error) {
	dir, base := splitPath(p)
	if err := f.ensureListed(ctx, dir); err != nil {
		return nil, err
	}
	f.nsMu.Lock()
	e := f.dirLocked(dir).get(base)
	if e == nil {
		f.nsMu.Unlock()
		return nil, nil
	}
	c := *e
	f.nsMu.Unlock()
	if c.kind == kindDir && !c.explicit {
		// A directory's mode lives in its marker, which only its own
		// listing shows ("dir/" is rolled into the parent's subdir entry).
		if err := f.ensureListed(ctx, p); err != nil {
			if isOutage(err) {
				return &c, nil // the mode the parent's listing gives
			}
			return nil, err
		}
		f.nsMu.Lock()
		if self := f.dirLocked(p).self; self != nil {
			c.attrs = self.attrs
			c.markerName, c.remote = self.markerName, true
			ds := f.dirLocked(dir)
			if e := ds.get(base); e != nil && e.kind == kindDir {
				e.attrs, e.markerName, e.remote = self.attrs, self.markerName, true
				ds.put(base, e)
			}
		}
		f.nsMu.Unlock()
	}
	return &c, nil
}

// peekEntry returns a copy of path's entry if the namespace holds one,
// without listing. LOCKS_EXCLUDED(f.nsMu)
func (f *FS) peekEntry(p string) (nsEntry, bool) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirs[dir]
	if ds == nil {
		return nsEntry{}, false
	}
	e := ds.get(base)
	if e == nil {
		return nsEntry{}, false
	}
	return *e, true
}

// setEntry records a local change of path. LOCKS_EXCLUDED(f.nsMu)
func (f *FS) setEntry(p string, e *nsEntry) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirLocked(dir)
	e.localAt = f.now()
	ds.put(base, e)
	delete(ds.tombs, base)
}

// updateEntry applies fn to path's entry, if known.
func (f *FS) updateEntry(p string, fn func(e *nsEntry)) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	if ds := f.dirs[dir]; ds != nil {
		if e := ds.get(base); e != nil {
			fn(e)
			e.localAt = f.now()
			ds.put(base, e)
		}
	}
}

// removeEntry records a local delete of path.
func (f *FS) removeEntry(p string) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirLocked(dir)
	ds.remove(base)
	if ds.tombs == nil {
		ds.tombs = map[string]time.Time{}
	}
	ds.tombs[base] = f.now()
}

// forgetTree drops cached listings of dir and everything below it.
func (f *FS) forgetTree(dir string) {
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	for d := range f.dirs {
		if d == dir || strings.HasPrefix(d, dir+"/") {
			delete(f.dirs, d)
		}
	}
}

// onUploaded is the cache's callback after an upload: the object exists.
func (f *FS) onUploaded(name string, info swiftclient.ObjectInfo) {
	p, ok := f.names.path(name)
	if !ok {
		return
	}
	f.updateEntry(p, func(e *nsEntry) {
		e.remote = true
		e.etag = info.ETag
		if info.Size > 0 {
			e.size = info.Size // (a PUT's answer may not carry the size: keep ours)
		}
		e.large = info.LargeObject
	})
}
