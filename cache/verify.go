package cache

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// A download checks the object's bytes against the checksums Swift keeps
// of them, in units: each segment of a Static Large Object against the
// MD5 its manifest gives (the manifest itself checked against the
// object's ETag), a plain object as a whole against its ETag. A unit's
// bytes are served only once the unit matched, unless Options.LazyVerify:
// then they are served as they arrive and a unit that fails its check
// after some of its bytes were read fails the entry for good (ErrCorrupted,
// EIO on every later read of that copy). A unit that fails before any of
// its bytes were served is fetched again, up to downloadAttempts times.
// Bytes no checksum covers (a DLO, a segment that is a range of another
// object or a nested SLO) are served as they arrive.

// checkUnit is a range of the object with a checksum of its own. Spans
// (ranged.go) never cross a unit's bounds.
type checkUnit struct {
	start, end int64
	md5        string // lower-case hex; "" when nothing covers these bytes
	// The rest is GUARDED_BY(Entry.mu).
	verified bool // the bytes on disk matched md5
	checking bool // a stream is hashing them
	served   bool // some were read before the check (LazyVerify)
	tries    int  // failed checks
}

// finalError is a download failure that a new attempt would not mend:
// a unit that failed its check downloadAttempts times, or bytes that
// failed it after they were served.
type finalError struct{ error }

func (f finalError) Unwrap() error { return f.error }

func isFinal(err error) bool {
	var f finalError
	return errors.As(err, &f)
}

// planUnits returns the check units of remote's content: the segments of
// an SLO (one more GET, for the manifest), the whole object when its ETag
// is an MD5, else nil (nothing to check against).
func (c *Cache) planUnits(ctx context.Context, remote swiftclient.ObjectInfo) ([]*checkUnit, error) {
	if !remote.LargeObject {
		if md5Hex.MatchString(remote.ETag) && remote.Size > 0 {
			return []*checkUnit{{start: 0, end: remote.Size, md5: remote.ETag}}, nil
		}
		return nil, nil
	}
	m, err := c.client.Manifest(ctx, remote.Name)
	if err != nil {
		return nil, err
	}
	if m.Segments == nil {
		return nil, nil // a DLO: no checksum of its bytes
	}
	if m.Size != remote.Size || (remote.ETag != "" && m.ETag != remote.ETag) {
		// Another version, or a manifest altered on its way.
		info, serr := c.client.Stat(ctx, remote.Name)
		if serr != nil {
			return nil, serr
		}
		if !sameVersion(remote, info) {
			info.Name = remote.Name
			return nil, &changedError{info: info}
		}
		return nil, &swiftclient.Error{Kind: swiftclient.ErrCorrupted, Op: "get", Name: remote.Name, TransID: m.TransID,
			Err: fmt.Errorf("SLO manifest (%d bytes, ETag %s) does not match the object (%d bytes, ETag %s)",
				m.Size, m.ETag, remote.Size, remote.ETag)}
	}
	units := make([]*checkUnit, 0, len(m.Segments))
	var off int64
	for _, s := range m.Segments {
		if s.Size == 0 {
			continue
		}
		units = append(units, &checkUnit{start: off, end: off + s.Size, md5: s.MD5})
		off += s.Size
	}
	return units, nil
}

// unitAtLocked returns the unit holding byte off (nil when there are no
// units). LOCKS_REQUIRED(Entry.mu)
func (e *Entry) unitAtLocked(off int64) *checkUnit {
	i := sort.Search(len(e.units), func(i int) bool { return e.units[i].end > off })
	if i == len(e.units) || e.units[i].start > off {
		return nil
	}
	return e.units[i]
}

// checkedLocked reports whether the bytes [off, end), which are on disk,
// may be served: every unit they touch matched its checksum, has none,
// or, with LazyVerify, is served before its check (and marked so).
// LOCKS_REQUIRED(Entry.mu)
func (e *Entry) checkedLocked(off, end int64) bool {
	if e.complete || len(e.units) == 0 || end <= off {
		return true
	}
	i := sort.Search(len(e.units), func(i int) bool { return e.units[i].end > off })
	first := i
	for ; i < len(e.units) && e.units[i].start < end; i++ {
		u := e.units[i]
		if !u.verified && u.md5 != "" && !e.c.opts.LazyVerify {
			return false
		}
	}
	for i = first; i < len(e.units) && e.units[i].start < end; i++ {
		if u := e.units[i]; !u.verified {
			u.served = true
		}
	}
	return true
}

// demandRangeLocked returns the range a reader of [off, end) needs
// fetched: with checked units, the whole of the units it touches, which
// are served only once they are all in. ok is false when demanding would
// not help: the reader waits for the whole object's check.
// LOCKS_REQUIRED(Entry.mu)
func (e *Entry) demandRangeLocked(off, end int64) (int64, int64, bool) {
	if e.c.opts.LazyVerify || len(e.units) == 0 {
		return off, end, true
	}
	if u := e.unitAtLocked(off); u != nil && u.md5 != "" && !u.verified {
		off = u.start
	}
	if end > off {
		if u := e.unitAtLocked(end - 1); u != nil && u.md5 != "" && !u.verified {
			end = u.end
		}
	}
	if off == 0 && end >= e.size && len(e.units) == 1 {
		return off, end, false
	}
	return off, end, true
}

// checkUnitOf checks the unit holding span s once all its spans are on
// disk. A mismatch makes the unit's spans be fetched again, or fails the
// download for good (finalError) when the unit's bytes were served or it
// failed too often.
func (p *parallel) checkUnitOf(s *span) error {
	e := p.e
	e.mu.Lock()
	u := e.unitAtLocked(s.start)
	if u == nil || u.md5 == "" || u.verified || u.checking || !p.unitFetchedLocked(u) {
		e.mu.Unlock()
		return nil
	}
	u.checking = true
	e.mu.Unlock()

	got, err := SectionMD5(p.file, u.start, u.end-u.start)

	e.mu.Lock()
	defer e.mu.Unlock()
	u.checking = false
	if err != nil {
		return fmt.Errorf("cache: reading the download of %q back: %w", p.remote.Name, err)
	}
	if got == u.md5 {
		u.verified = true
		e.cond.Broadcast()
		return nil
	}
	u.tries++
	cerr := &swiftclient.Error{Kind: swiftclient.ErrCorrupted, Op: "get", Name: p.remote.Name,
		Err: fmt.Errorf("MD5 %s of bytes %d-%d differs from %s", got, u.start, u.end-1, u.md5)}
	if u.served {
		p.c.log.Error("download corrupted after some of its bytes were read (--verify=lazy): the copy fails",
			"object", p.remote.Name, "from", u.start, "bytes", u.end-u.start, "err", cerr)
		return finalError{cerr}
	}
	if u.tries >= downloadAttempts {
		return finalError{cerr}
	}
	p.c.log.Warn("download corrupted, retrying", "object", p.remote.Name, "from", u.start, "bytes", u.end-u.start,
		"attempt", u.tries, "err", cerr)
	i := sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].end > u.start })
	for ; i < len(e.chunks) && e.chunks[i].start < u.end; i++ {
		t := e.chunks[i]
		t.done, t.claimed = 0, false
		p.seq++
		t.prio = p.seq
	}
	for p.workers < p.c.opts.DownloadStreams {
		p.startWorkerLocked()
	}
	return nil
}

// unitFetchedLocked reports whether every span of u is on disk.
// LOCKS_REQUIRED(Entry.mu)
func (p *parallel) unitFetchedLocked(u *checkUnit) bool {
	e := p.e
	i := sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].end > u.start })
	for ; i < len(e.chunks) && e.chunks[i].start < u.end; i++ {
		if !e.chunks[i].complete() {
			return false
		}
	}
	return true
}
