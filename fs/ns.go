package fs

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// nsEntry is what the namespace knows of one name in a directory: from the
// listing, or from a local change not yet confirmed by a listing.
type nsEntry struct {
	attrs
	etag       string
	remote     bool      // an object (or a directory marker) exists in Swift
	large      bool      // SLO/DLO manifest
	localAt    time.Time // last local change: wins over listings for overlayWindow
	localOnly  bool      // never uploaded (SQLite side files)
	markerName string    // for directories: the marker object, "" when implicit
}

// dirState is the cached listing of one directory plus the local overlay.
type dirState struct {
	listedAt time.Time
	children map[string]*nsEntry
	// tombs hides names deleted here until a listing stops showing them.
	tombs map[string]time.Time
	// self holds the directory's own marker attributes, when it has one.
	self *nsEntry
}

type listCall struct {
	done chan struct{}
	err  error
}

// dirLocked returns the state of dir, creating an unlisted one.
// LOCKS_REQUIRED(f.nsMu)
func (f *FS) dirLocked(dir string) *dirState {
	ds := f.dirs[dir]
	if ds == nil {
		ds = &dirState{children: map[string]*nsEntry{}, tombs: map[string]time.Time{}}
		f.dirs[dir] = ds
	}
	return ds
}

// ensureListed makes sure dir's listing is at most MetadataTTL old. One
// listing per directory runs at a time; concurrent callers share it.
// LOCKS_EXCLUDED(f.nsMu)
func (f *FS) ensureListed(ctx context.Context, dir string) error {
	for {
		f.nsMu.Lock()
		ds := f.dirs[dir]
		if ds != nil && !ds.listedAt.IsZero() && f.now().Sub(ds.listedAt) < f.opts.MetadataTTL {
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
				return call.err
			}
			continue
		}
		call := &listCall{done: make(chan struct{})}
		f.listing[dir] = call
		f.nsMu.Unlock()

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
}

// listDir lists every entry directly under dir, paging past 10,000.
func (f *FS) listDir(ctx context.Context, dir string) (map[string]*nsEntry, *nsEntry, error) {
	prefix := f.names.dirPrefix(dir)
	fresh := map[string]*nsEntry{}
	var self *nsEntry
	err := swiftclient.ListPages(ctx, f.client, swiftclient.ListOptions{Prefix: prefix, Delimiter: "/", Limit: f.opts.ListPageSize},
		func(entries []swiftclient.ObjectInfo) error {
			f.parsePage(dir, entries, fresh, &self)
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	return fresh, self, nil
}

// parsePage adds one listing page of dir to fresh (and the directory's own
// marker to *self). Only what stat needs is kept: a listing of a million
// objects must not keep a million ObjectInfos.
func (f *FS) parsePage(dir string, page []swiftclient.ObjectInfo, fresh map[string]*nsEntry, self **nsEntry) {
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
			if old := fresh[name]; old != nil && old.kind == kindDir {
				continue // a no-slash marker came first
			} else if old != nil {
				f.warnOnce("object "+prefix+name+" is hidden by the directory "+oi.Name, "object", prefix+name)
			}
			fresh[strings.Clone(name)] = &nsEntry{attrs: attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID, mtime: f.mountTime}}
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
		e := &nsEntry{attrs: a, etag: oi.ETag, remote: true, large: oi.LargeObject}
		if a.kind == kindDir {
			e.markerName = oi.Name
			e.size = 0
		}
		if old := fresh[rest]; old != nil && old.kind == kindDir && a.kind != kindDir {
			f.warnOnce("object "+oi.Name+" is hidden by the directory "+oi.Name+"/", "name", oi.Name)
			continue
		}
		fresh[strings.Clone(rest)] = e
	}
}

// mergeLocked replaces dir's children with a fresh listing, keeping local
// changes newer than the listing could show. LOCKS_REQUIRED(f.nsMu)
func (f *FS) mergeLocked(dir string, fresh map[string]*nsEntry, self *nsEntry, started time.Time, dirty map[string]int64) {
	ds := f.dirLocked(dir)
	now := f.now()
	// Local changes the listing may not show yet.
	for name, old := range ds.children {
		if old.localOnly || (!old.localAt.IsZero() && (now.Sub(old.localAt) < f.opts.OverlayWindow || !old.localAt.Before(started))) {
			if l := fresh[name]; l != nil && old.kind == kindDir && l.kind == kindDir && !old.remote {
				continue // an implicit directory the listing now shows
			}
			fresh[name] = old
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
			if e := fresh[base]; e == nil || e.kind != kindFile {
				fresh[base] = &nsEntry{attrs: attrs{kind: kindFile, perm: f.opts.FileMode, uid: f.opts.UID, gid: f.opts.GID, mtime: now, size: size}, localAt: now}
			} else if e.localAt.IsZero() {
				c := *e
				c.size = size
				c.localAt = now
				fresh[base] = &c
			}
		case strings.HasPrefix(pd+"/", prefixOf(dir)):
			sub, _, _ := strings.Cut(strings.TrimPrefix(pd, prefixOf(dir)), "/")
			if sub != "" && fresh[sub] == nil {
				fresh[sub] = &nsEntry{attrs: attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID, mtime: now}, localAt: now}
			}
		}
	}
	for name, t := range ds.tombs {
		if l := fresh[name]; l != nil && (l.localAt.IsZero() || l.localAt.Before(t)) && now.Sub(t) < f.opts.TombstoneTTL {
			delete(fresh, name)
		} else if fresh[name] == nil || now.Sub(t) >= f.opts.TombstoneTTL {
			delete(ds.tombs, name)
		}
	}
	if dir == "" {
		for h := range hiddenAtRoot {
			delete(fresh, h)
		}
	}
	ds.children = fresh
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
	e := f.dirLocked(dir).children[base]
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
			return nil, err
		}
		f.nsMu.Lock()
		if self := f.dirLocked(p).self; self != nil {
			c.attrs = self.attrs
			c.markerName, c.remote = self.markerName, true
			if e := f.dirLocked(dir).children[base]; e != nil && e.kind == kindDir {
				e.attrs, e.markerName, e.remote = self.attrs, self.markerName, true
			}
		}
		f.nsMu.Unlock()
	}
	return &c, nil
}

// setEntry records a local change of path. LOCKS_EXCLUDED(f.nsMu)
func (f *FS) setEntry(p string, e *nsEntry) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirLocked(dir)
	e.localAt = f.now()
	ds.children[base] = e
	delete(ds.tombs, base)
}

// updateEntry applies fn to path's entry, if known.
func (f *FS) updateEntry(p string, fn func(e *nsEntry)) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	if ds := f.dirs[dir]; ds != nil {
		if e := ds.children[base]; e != nil {
			fn(e)
			e.localAt = f.now()
		}
	}
}

// removeEntry records a local delete of path.
func (f *FS) removeEntry(p string) {
	dir, base := splitPath(p)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirLocked(dir)
	delete(ds.children, base)
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

// dirEntries returns dir's children sorted by name (a deterministic
// readdir), built under the lock without copying the entries.
func (f *FS) dirEntries(dir string) []fuse.DirEntry {
	f.nsMu.Lock()
	ds := f.dirLocked(dir)
	list := make([]fuse.DirEntry, 0, len(ds.children))
	for n, e := range ds.children {
		list = append(list, fuse.DirEntry{Name: n, Mode: e.mode()})
	}
	f.nsMu.Unlock()
	slices.SortFunc(list, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return list
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
