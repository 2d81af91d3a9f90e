package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// A parallel download cuts the object into spans, each fetched in order by
// one stream with one ranged GET (resumed when the body breaks off).
// DownloadStreams workers take unclaimed spans, the most recently demanded
// first, then in order of offset. A read that needs bytes no stream will
// reach soon demands them: the span holding them is cut at the read's
// (4 KiB aligned) offset and the part from there on, up to demandLen
// bytes, is fetched at once by a demand stream of its own; the rest of the
// cut span jumps the workers' queue, so that a reader going on reading
// finds its bytes coming. A span a stream already fetches is cut the same
// way when its stream is more than demandNear bytes behind the read; the
// stream stops at the cut. Every byte is thus fetched once, and every
// ranged answer must come from the version being downloaded (same size
// and ETag, else the download restarts with the version found, as for the
// workers); the whole-object MD5 is checked on the file once every span
// is in.

// span is a range of the object fetched in order by one stream.
type span struct {
	start int64
	// end only decreases: a demand may cut the span while a stream
	// fetches it (never below start+done). GUARDED_BY(Entry.mu)
	end int64
	// done is the number of bytes from start on disk; written by the
	// stream that claimed the span. GUARDED_BY(Entry.mu)
	done int64
	// claimed: a stream fetches it. GUARDED_BY(Entry.mu)
	claimed bool
	// prio orders the workers' queue: the highest first (0 for spans no
	// read asked for), then the lowest offset. GUARDED_BY(Entry.mu)
	prio uint64
}

// complete reports whether the span is on disk. LOCKS_REQUIRED(Entry.mu)
func (s *span) complete() bool { return s.start+s.done >= s.end }

// parallel is one attempt of a parallel download.
type parallel struct {
	c      *Cache
	e      *Entry
	ctx    context.Context // cancelled when a stream failed
	cancel context.CancelFunc
	remote swiftclient.ObjectInfo
	dl     *dlBudget
	f      io.WriterAt
	file   io.ReaderAt // the same file, to check units

	// The rest is GUARDED_BY(e.mu).
	running int           // streams running (workers and demand streams)
	workers int           // workers running
	demands int           // demand streams running
	idle    chan struct{} // closed when running drops to 0
	seq     uint64        // last prio given
	err     error         // the first failure
}

// demandNear is how far behind a read a stream may be for the read to
// wait for it rather than fetch its bytes with a GET of its own: 1/32 of
// a chunk, between 4 KiB and 1 MiB (1 MiB with the default 32 MiB chunks).
func (c *Cache) demandNear() int64 { return min(max(c.opts.DownloadChunk/32, 4<<10), 1<<20) }

// demandNearClaimed is demandNear for bytes of a span a stream is already
// fetching: 1/4 of a chunk (8 MiB with the default 32 MiB chunks). A
// sequential reader runs up to the kernel's read-ahead (1 MiB or more)
// ahead of the stream it follows; cutting that stream for it cost one
// aborted GET and a small one per MiB read (a 6 GiB cold read made 617
// GETs instead of 192).
func (c *Cache) demandNearClaimed() int64 { return max(c.opts.DownloadChunk/4, c.demandNear()) }

// demandLen is the most a demand stream fetches: 1/8 of a chunk, between
// 64 KiB and 4 MiB (4 MiB with the default 32 MiB chunks). The rest of the
// span goes to the front of the workers' queue.
func (c *Cache) demandLen() int64 { return min(max(c.opts.DownloadChunk/8, 64<<10), 4<<20) }

// maxDemands is the number of demand streams that may run at once besides
// the workers: DownloadStreams.
func (c *Cache) maxDemands() int { return c.opts.DownloadStreams }

// downloadParallel fetches the object with parallel ranged GETs, serving
// bytes once their unit matched its checksum (or, with LazyVerify, as they
// arrive; verify.go), and fetching at once those a waiting read needs
// (Entry.demandLocked). It returns when every span is on disk and every
// unit matched, or with the first error.
func (c *Cache) downloadParallel(ctx context.Context, e *Entry, remote swiftclient.ObjectInfo, dl *dlBudget, units []*checkUnit) error {
	chunk := c.opts.DownloadChunk
	var spans []*span
	bounds := []*checkUnit{{start: 0, end: remote.Size}}
	if units != nil {
		bounds = units // spans within units
	}
	for _, u := range bounds {
		for s := u.start; s < u.end; s += chunk {
			spans = append(spans, &span{start: s, end: min(s+chunk, u.end)})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := &parallel{c: c, e: e, ctx: ctx, cancel: cancel, remote: remote, dl: dl, idle: make(chan struct{})}
	e.mu.Lock()
	e.avail = 0
	e.chunks = spans
	e.units = units
	e.pdl = p
	p.f, p.file = e.f, e.f
	for range min(c.opts.DownloadStreams, len(spans)) {
		p.startWorkerLocked()
	}
	e.cond.Broadcast() // readers waiting may demand now
	e.mu.Unlock()

	<-p.idle
	e.mu.Lock()
	e.pdl = nil
	err := p.err
	if err == nil {
		err = ctx.Err() // Close: the workers ended early
	}
	if err == nil {
		for _, s := range e.chunks {
			if !s.complete() {
				err = fmt.Errorf("cache: internal error: bytes %d-%d of %q not downloaded", s.start+s.done, s.end, remote.Name)
				break
			}
		}
	}
	if err == nil {
		for _, u := range e.units {
			if u.md5 != "" && !u.verified {
				err = fmt.Errorf("cache: internal error: bytes %d-%d of %q not checked", u.start, u.end, remote.Name)
				break
			}
		}
	}
	e.mu.Unlock()
	if err != nil {
		// Nothing more is served from this attempt: its bytes may be of
		// another version (the next attempt fetches that one) or wrong.
		e.resetProgress()
	}
	return err
}

// startWorkerLocked starts a worker. LOCKS_REQUIRED(e.mu)
func (p *parallel) startWorkerLocked() {
	p.running++
	p.workers++
	go p.worker()
}

// worker fetches unclaimed spans until there are none, or the attempt
// failed.
func (p *parallel) worker() {
	e := p.e
	for {
		e.mu.Lock()
		s := p.nextLocked()
		if s != nil {
			s.claimed = true
		}
		e.mu.Unlock()
		if s == nil {
			break
		}
		if err := p.fetch(s, 0); err != nil {
			p.fail(err)
			break
		}
	}
	p.exit(false)
}

// nextLocked returns the unclaimed span to fetch next: the most recently
// demanded, else the first. LOCKS_REQUIRED(e.mu)
func (p *parallel) nextLocked() *span {
	if p.ctx.Err() != nil {
		return nil
	}
	var best *span
	for _, s := range p.e.chunks {
		if s.claimed || s.complete() {
			continue
		}
		if best == nil || s.prio > best.prio {
			best = s
		}
	}
	return best
}

// exit ends a stream.
func (p *parallel) exit(demand bool) {
	e := p.e
	e.mu.Lock()
	p.running--
	if demand {
		p.demands--
	} else {
		p.workers--
	}
	if p.running == 0 {
		close(p.idle)
	}
	e.cond.Broadcast() // a reader may demand again
	e.mu.Unlock()
}

// fail records the attempt's first error and stops its streams.
func (p *parallel) fail(err error) {
	e := p.e
	e.mu.Lock()
	if p.err == nil || errors.Is(p.err, context.Canceled) {
		p.err = err
	}
	e.mu.Unlock()
	p.cancel()
}

// fetch downloads s from its progress to its end (which a demand may move
// closer meanwhile), resuming when a body breaks off. Progress is
// published after every demandNear bytes (1 MiB by default), the first
// time after at most first bytes (when > 0), so that a demanding reader
// gets its bytes as soon as they are on disk.
func (p *parallel) fetch(s *span, first int64) error {
	e := p.e
	name := p.remote.Name
	var lastErr error
	for attempt := 0; attempt < downloadAttempts; attempt++ {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		e.mu.Lock()
		off, end := s.start+s.done, s.end
		e.mu.Unlock()
		if off >= end {
			return nil
		}
		rc, info, err := p.c.client.Get(p.ctx, name, off, end-off)
		if err != nil {
			lastErr = err
			if !swiftclient.IsTransient(err) {
				return err
			}
			continue
		}
		if !sameVersion(p.remote, info) {
			rc.Close()
			info.Name = name
			return &changedError{info: info}
		}
		err = p.copySpan(rc, s, &first)
		rc.Close()
		if err == nil {
			return p.checkUnitOf(s)
		}
		if cerr := p.ctx.Err(); cerr != nil {
			return cerr
		}
		lastErr = &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: "get", Name: name, Err: err}
	}
	return lastErr
}

// copySpan copies a ranged GET's body into the file at s's progress,
// publishing it after each block, until s is complete (nil) or the body
// ends or fails. Blocks are no longer than demandNear, so that a stream
// whose span was cut (at least demandNear past its progress, 4 KiB
// aligned) reads less than 4 KiB past the cut.
func (p *parallel) copySpan(r io.Reader, s *span, first *int64) error {
	e := p.e
	var buf []byte
	for {
		e.mu.Lock()
		pos, end := s.start+s.done, s.end
		e.mu.Unlock()
		if pos >= end {
			return nil
		}
		n := min(end-pos, p.c.demandNear())
		if *first > 0 {
			n = min(n, *first)
			*first = 0
		}
		if int64(len(buf)) < n {
			buf = make([]byte, n)
		}
		m, err := io.ReadFull(r, buf[:n])
		if m > 0 {
			if _, werr := p.f.WriteAt(buf[:m], pos); werr != nil {
				return werr
			}
			e.mu.Lock()
			// A cut leaves the block in flight whole (demandLocked).
			add := min(int64(m), s.end-pos)
			s.done += add
			e.cond.Broadcast()
			e.mu.Unlock()
			p.dl.wrote(add)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			e.mu.Lock()
			got, want := s.done, s.end-s.start
			e.mu.Unlock()
			if got >= want {
				return nil
			}
			return fmt.Errorf("short range read: %d of %d bytes", got, want)
		}
		if err != nil {
			return err
		}
	}
}

// demandLocked makes sure that [off, end), which a reader waits for, is
// being fetched by a stream that is at most demandNear bytes behind it,
// cutting spans and starting demand streams as needed (see the comment at
// the top of this file). It does nothing when no parallel download runs.
// LOCKS_REQUIRED(mu)
func (e *Entry) demandLocked(off, end int64) {
	p := e.pdl
	if p == nil || p.running == 0 || p.ctx.Err() != nil {
		return
	}
	c := e.c
	near := c.demandNear()
	dlen := c.demandLen()
	if !c.opts.LazyVerify && len(e.units) > 0 {
		// The reader waits for whole units (demandRangeLocked): the
		// demand streams share them, each a quarter of a 32 MiB segment
		// at once, rather than leave the rest to busy workers.
		dlen = max(dlen, ((end-off)/int64(c.maxDemands())+4<<10-1)&^(4<<10-1))
	}
	i := sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].end > off })
	for ; i < len(e.chunks) && e.chunks[i].start < end; i++ {
		s := e.chunks[i]
		pos := s.start + s.done
		need := max(off, pos) // the first byte of [off, end) s lacks
		if need >= min(end, s.end) {
			continue // s holds its part already
		}
		if s.claimed && need-pos < c.demandNearClaimed() {
			continue // its stream is nearly there
		}
		busy := p.demands >= c.maxDemands()
		if s.claimed && busy {
			continue // cut off, its bytes would wait for a free worker
		}
		t := s
		if s.claimed || need-s.start >= near {
			// cut > pos: need-pos >= near >= 4 KiB (or, unclaimed,
			// pos == s.start and need-s.start >= near). A claimed span
			// is cut past the block its stream may be writing (at most
			// near bytes from pos), so that no stream writes bytes of
			// another span (which may have been checked already).
			cut := need &^ (4<<10 - 1)
			if s.claimed {
				cut = max(cut, (pos+near+4<<10-1)&^(4<<10-1))
			}
			if cut <= pos || cut >= s.end {
				continue
			}
			t = e.splitLocked(i, cut)
			i++
		}
		// t is unclaimed, starts at most near before need, and nothing
		// fetched it yet.
		if busy {
			// Every demand stream is busy: t goes to the front of the
			// workers' queue.
			p.seq++
			t.prio = p.seq
			p.ensureWorkerLocked()
			continue
		}
		if t.end-t.start > dlen {
			rest := e.splitLocked(i, t.start+dlen)
			p.seq++
			rest.prio = p.seq
			p.ensureWorkerLocked()
		}
		t.claimed = true
		first := min(end, t.end) - t.start
		p.running++
		p.demands++
		c.log.Debug("read ahead of the download: fetching its range now", "object", p.remote.Name,
			"from", t.start, "bytes", t.end-t.start)
		go func() {
			if err := p.fetch(t, first); err != nil {
				p.fail(err)
			}
			p.exit(true)
		}()
	}
}

// splitLocked cuts e.chunks[i] at off (strictly inside it, and past its
// progress) and returns the new span [off, old end), unclaimed, with the
// same priority. LOCKS_REQUIRED(mu)
func (e *Entry) splitLocked(i int, off int64) *span {
	s := e.chunks[i]
	t := &span{start: off, end: s.end, prio: s.prio}
	s.end = off
	e.chunks = slices.Insert(e.chunks, i+1, t)
	return t
}

// ensureWorkerLocked starts a worker for a span put in the queue after
// workers may have run out of work and ended. LOCKS_REQUIRED(e.mu)
func (p *parallel) ensureWorkerLocked() {
	if p.workers < p.c.opts.DownloadStreams {
		p.startWorkerLocked()
	}
}
