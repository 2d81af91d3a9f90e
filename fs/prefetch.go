package fs

import (
	"sync"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// Prefetch of small files for a program that opens the files of a
// directory one after another in listing order (a loop over `ls`, find,
// tar, a pipeline over a directory of small files): without it each open
// waits for one GET round trip. The pattern is detected per directory;
// the downloads are the cache's (cache.Cache.Prefetch), through its normal
// download path and budget.
//
//   - An open is in order when the file comes after the directory's
//     previous one in the listing with only entries that are not regular
//     files (directories, symlinks, special files) between them. Opening
//     the same file again changes nothing.
//   - prefetchTrigger opens in order in a row start prefetching: the next
//     prefetchStart listing positions after the file opened, then a window
//     doubling with every further open in order (slow start) up to
//     Options.PrefetchFiles positions ahead.
//   - Only regular files that are in Swift as the listing shows them, not
//     changed here since, not large objects, of 1 to prefetchMaxSize
//     bytes, with an MD5 ETag (so their content is verified) are fetched.
//   - An open out of order ends the run: the directory's prefetches not
//     started yet are cancelled, and a new run needs prefetchTrigger opens
//     in order again. A program that opens files in another order thus
//     causes no prefetch at all.
//
// ra.mu is a leaf; nsMu is never held with it.
const (
	prefetchTrigger = 3
	prefetchStart   = 4
	prefetchMaxSize = 1 << 20
	// prefetchGap bounds the entries between two opens in order.
	prefetchGap = 64
	// prefetchDirs bounds the directories whose pattern is followed.
	prefetchDirs = 64
)

type readAhead struct {
	mu   sync.Mutex
	dirs map[string]*dirRun // GUARDED_BY(mu)
	tick uint64             // GUARDED_BY(mu)
}

// dirRun is the pattern of opens in one directory, by index in base.
type dirRun struct {
	base   *listing
	last   int // the file opened last
	run    int // opens in order ending at last
	window int // positions ahead of last to prefetch (0: none yet)
	ahead  int // prefetches were requested up to this index
	used   uint64
}

// prefetchAfterOpen notes an open of the file at p for reading and queues
// prefetches when the pattern calls for them. LOCKS_EXCLUDED(f.nsMu)
func (f *FS) prefetchAfterOpen(p string) {
	if f.opts.PrefetchFiles <= 0 {
		return
	}
	dir, name := splitPath(p)
	f.nsMu.Lock()
	var base *listing
	if ds := f.dirs[dir]; ds != nil {
		base = ds.base
	}
	f.nsMu.Unlock()
	i := base.find(name) // base is immutable
	if i < 0 {
		return
	}
	from, to, cancel := f.ra.step(dir, base, i, f.opts.PrefetchFiles)
	if cancel {
		f.cache.CancelPrefetch(dir)
	}
	if from > to || f.health.Down() {
		return
	}
	f.cache.Prefetch(dir, f.prefetchCandidates(dir, base, from, to))
}

// step records an open of entry i of base in dir and returns the range of
// indexes to prefetch (from > to: none) and whether the directory's
// queued prefetches are to be cancelled.
func (r *readAhead) step(dir string, base *listing, i, maxWindow int) (from, to int, cancel bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tick++
	d := r.dirs[dir]
	if d == nil {
		if r.dirs == nil {
			r.dirs = map[string]*dirRun{}
		}
		if len(r.dirs) >= prefetchDirs {
			r.forgetOldestLocked()
		}
		d = &dirRun{base: base, last: -1}
		r.dirs[dir] = d
	}
	d.used = r.tick
	if d.base != base {
		d.rebase(base)
	}
	switch {
	case d.last == i:
		return 1, 0, false
	case d.last >= 0 && inOrder(base, d.last, i):
		d.run++
	default:
		cancel = d.window > 0
		*d = dirRun{base: base, last: i, run: 1, ahead: i, used: r.tick}
		return 1, 0, cancel
	}
	d.last = i
	if d.run < prefetchTrigger {
		return 1, 0, false
	}
	if d.window == 0 {
		d.window = min(prefetchStart, maxWindow)
	} else {
		d.window = min(2*d.window, maxWindow)
	}
	from = max(d.ahead, i) + 1
	to = min(i+d.window, base.len()-1)
	d.ahead = max(d.ahead, to)
	return from, to, false
}

// rebase moves d's indexes to a new listing of its directory.
func (d *dirRun) rebase(base *listing) {
	last, ahead := -1, -1
	if d.last >= 0 {
		last = base.find(d.base.name(d.last))
	}
	if d.ahead >= 0 && d.ahead < d.base.len() {
		ahead = base.find(d.base.name(d.ahead))
	}
	if last < 0 {
		*d = dirRun{base: base, last: -1, used: d.used}
		return
	}
	d.base, d.last, d.ahead = base, last, max(ahead, last)
}

// forgetOldestLocked drops the directory used least recently.
// LOCKS_REQUIRED(r.mu)
func (r *readAhead) forgetOldestLocked() {
	var oldest string
	var at uint64
	for dir, d := range r.dirs {
		if oldest == "" || d.used < at {
			oldest, at = dir, d.used
		}
	}
	delete(r.dirs, oldest)
}

// inOrder reports whether entry i follows entry last of l with no regular
// file between them.
func inOrder(l *listing, last, i int) bool {
	if i <= last || i-last > prefetchGap {
		return false
	}
	for j := last + 1; j < i; j++ {
		if l.kindAt(j) == kindFile {
			return false
		}
	}
	return true
}

// prefetchCandidates returns the objects of entries from..to of base worth
// prefetching (see the list above). LOCKS_EXCLUDED(f.nsMu)
func (f *FS) prefetchCandidates(dir string, base *listing, from, to int) []swiftclient.ObjectInfo {
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	ds := f.dirs[dir]
	if ds == nil || ds.base != base {
		return nil // listed again meanwhile: the next open decides
	}
	var out []swiftclient.ObjectInfo
	for i := from; i <= to; i++ {
		if base.kindAt(i) != kindFile {
			continue
		}
		name := base.name(i)
		if _, changed := ds.delta[name]; changed {
			continue
		}
		e := base.entry(i)
		if !e.remote || e.large || e.size <= 0 || e.size > prefetchMaxSize || !md5Hex(e.etag) {
			continue
		}
		out = append(out, swiftclient.ObjectInfo{Name: f.names.object(joinPath(dir, name)), Size: e.size,
			ETag: e.etag, LastModified: e.mtime})
	}
	return out
}

func md5Hex(s string) bool {
	var b [16]byte
	return parseMD5(s, &b)
}
