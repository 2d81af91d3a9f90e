package fs

import (
	"context"
	"errors"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// While Swift is unreachable (swiftclient.Health: a request gave up after
// its retries on 5xx or transport failures) the mount keeps serving what
// it has (docs/SEMANTICS.md, "When Swift is unreachable"):
//
//   - a directory listed before keeps its last listing, however old, with
//     the local overlay on top (ensureListed); a refresh is tried in the
//     background, at most once per outageRelist per directory, and its
//     success both updates the listing and ends the outage;
//   - an open uses the namespace's fingerprint of the object instead of a
//     HEAD (remoteInfo), so that a cached copy opens;
//   - an open that would need a download fails at once with EIO
//     (uncachedOpen) rather than hand out a copy whose every read fails;
//   - creates, writes and renames of files not uploaded yet touch only the
//     cache and the overlay, and their uploads wait in the queue.
//
// What needs Swift (a directory never listed, a file not cached, mkdir,
// unlink or rename of an uploaded object, chmod of a clean file) fails
// with EIO once the client gave up: within the bound documented in
// docs/SEMANTICS.md.

const (
	// outageRelist is how often a directory's listing is tried again in
	// the background while Swift is unreachable.
	outageRelist = time.Second
	// backgroundListTimeout caps a background listing.
	backgroundListTimeout = 10 * time.Minute
)

// errUnreachableUncached refuses an open that needs a download while Swift
// is unreachable (EIO).
var errUnreachableUncached = errors.New("swift is unreachable and the file is not in the cache")

// errUnreachableList refuses what needs a fresh listing (rmdir, a rename
// over a directory: is it empty?) while only an old one can be had (EIO).
var errUnreachableList = errors.New("swift is unreachable: cannot list the directory afresh")

// isOutage reports whether err says Swift could not be reached (5xx,
// transport failures, timeouts), as opposed to an answer or an interrupt.
func isOutage(err error) bool {
	return errors.Is(err, swiftclient.ErrUnavailable) && !errors.Is(err, context.Canceled)
}

// refreshLaterLocked starts a background listing of dir unless one runs or
// was tried within outageRelist. LOCKS_REQUIRED(f.nsMu)
func (f *FS) refreshLaterLocked(dir string, ds *dirState) {
	now := f.now()
	if f.listing[dir] != nil || now.Sub(ds.relistAt) < outageRelist {
		return
	}
	ds.relistAt = now
	call := &listCall{done: make(chan struct{})}
	f.listing[dir] = call
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundListTimeout)
		defer cancel()
		if err := f.list(ctx, dir, call); err != nil {
			f.log.Debug("background listing failed; serving the last one", "dir", dir, "err", err)
		}
	}()
}

// uncachedOpen says whether an open got a copy that must still be
// downloaded while Swift is unreachable; fail it with
// errUnreachableUncached (EIO).
func (f *FS) uncachedOpen(remote *swiftclient.ObjectInfo, complete bool) bool {
	return remote != nil && !complete && f.health.Down()
}
