package fs

import (
	"context"
	"path"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// The Butler's create-if-absent idiom (safeFileIo, write_once) is
// symlink(tmp, final) as a lock, then rename(tmp, final) over that fresh
// symlink. A loser opening final meanwhile walks final → the symlink → its
// target tmp; when the rename lands between the symlink's READLINK and the
// LOOKUP of tmp, tmp is gone and the open fails with ENOENT. On a local
// disk the same race exists but its window is nanoseconds; here it is a
// FUSE round trip or two.
//
// A path walk that fails with ESTALE is walked again once by the kernel,
// revalidating every name (LOOKUP_REVAL): final is then looked up anew and
// is the renamed file. So for a moment (heldFor) after such a rename, the
// first LOOKUP of tmp from each thread answers ESTALE instead of ENOENT.
// A thread that looks tmp up directly gets ENOENT on the kernel's second
// try (one more round trip); a thread that came through the old symlink
// does not look tmp up again and opens the new file. (The kernel caches no
// negative entry for tmp meanwhile: lookup answers it a plain ENOENT, where
// other missing names get a cached negative entry; see recent.)

// symWalks remembers the source names of such renames. Its mu is a leaf.
type symWalks struct {
	mu    sync.Mutex
	tombs map[string]*symWalk // GUARDED_BY(mu): by source path
}

type symWalk struct {
	at   time.Time
	told map[uint32]bool // threads already answered ESTALE
}

// add records that a rename moved src over a symlink whose target named
// it.
func (w *symWalks) add(src string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tombs == nil {
		w.tombs = map[string]*symWalk{}
	}
	for p, t := range w.tombs {
		if now.Sub(t.at) >= heldFor {
			delete(w.tombs, p)
		}
	}
	w.tombs[src] = &symWalk{at: now, told: map[uint32]bool{}}
}

// stale is asked when a LOOKUP of p finds nothing: it reports whether p
// is such a source name and this thread was not yet answered ESTALE for
// it.
func (w *symWalks) stale(ctx context.Context, p string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tombs[p]
	if t == nil {
		return false
	}
	if now.Sub(t.at) >= heldFor {
		delete(w.tombs, p)
		return false
	}
	c, ok := fuse.FromContext(ctx)
	if !ok || t.told[c.Pid] {
		return false
	}
	t.told[c.Pid] = true
	return true
}

// recent reports whether p is such a source name within heldFor: its
// ENOENT must not be cached by the kernel, or a walk through the old
// symlink would stop at the cached entry without asking (and without the
// ESTALE that sends it round again).
func (w *symWalks) recent(p string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tombs[p]
	return t != nil && now.Sub(t.at) < heldFor
}

// symlinkNamed reports whether the symlink target names the file src (by
// its last component: a relative or absolute target, through whatever
// path the mount is reached by). A false match costs a thread that looks
// src up within heldFor one more round trip.
func symlinkNamed(target, src string) bool {
	return target != "" && path.Base(target) == path.Base(src)
}
