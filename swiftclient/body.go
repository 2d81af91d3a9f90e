package swiftclient

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"
)

// errShortBody: the body ended before the size given to Put.
var errShortBody = errors.New("body is shorter than the size given")

// errStaleBody: a read by an abandoned attempt (net/http may still read a
// request body after RoundTrip returned; see http.RoundTripper).
var errStaleBody = errors.New("request body read by an abandoned attempt")

// bodyError marks a failure of the caller's body, which retrying cannot fix.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading the upload body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// putSource shares the caller's io.ReadSeeker between the attempts of one
// Put. Each attempt reads through its own putBody; starting a new attempt
// invalidates the previous one, so that a late read by net/http on behalf of
// an abandoned request cannot steal bytes from the current one.
type putSource struct {
	mu   sync.Mutex
	r    io.ReadSeeker
	ra   io.ReaderAt // r as an io.ReaderAt when it is one (e.g. *os.File)
	size int64
	pos  int64 // GUARDED_BY(mu): r's offset as far as we know; -1 unknown
	gen  int   // GUARDED_BY(mu): generation of the current attempt
}

func newPutSource(r io.ReadSeeker, size int64) *putSource {
	s := &putSource{r: r, size: size, pos: -1}
	s.ra, _ = r.(io.ReaderAt)
	return s
}

// attempt starts a new attempt reading from offset 0; with hashing the MD5
// of what is read is computed.
func (s *putSource) attempt(hashing bool) *putBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	b := &putBody{src: s, gen: s.gen}
	if hashing {
		b.h = md5.New()
	}
	return b
}

// putBody is the request body of one attempt: the first size bytes of the
// caller's body. It is an io.ReadSeeker, so ncw/swift can rewind it and
// resend the request after re-authenticating (swift.Connection.Call rewinds
// only bodies that are io.Seekers).
type putBody struct {
	src *putSource
	gen int
	off int64     // GUARDED_BY(src.mu)
	h   hash.Hash // GUARDED_BY(src.mu); nil when not hashing or after a seek elsewhere than 0
}

var _ io.ReadSeeker = (*putBody)(nil)

func (b *putBody) Read(p []byte) (int, error) {
	s := b.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.gen != s.gen {
		return 0, &bodyError{errStaleBody}
	}
	if b.off >= s.size {
		return 0, io.EOF
	}
	if rest := s.size - b.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	var (
		n   int
		err error
	)
	if s.ra != nil {
		n, err = s.ra.ReadAt(p, b.off)
		if err == io.EOF && n == len(p) {
			err = nil
		}
	} else {
		if s.pos != b.off {
			if _, err := s.r.Seek(b.off, io.SeekStart); err != nil {
				s.pos = -1
				return 0, &bodyError{err}
			}
			s.pos = b.off
		}
		n, err = s.r.Read(p)
		s.pos += int64(n)
	}
	b.off += int64(n)
	if b.h != nil {
		b.h.Write(p[:n])
	}
	switch {
	case err == io.EOF && b.off < s.size:
		return n, &bodyError{errShortBody}
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		return n, &bodyError{err}
	}
	return n, nil
}

// Seek supports what ncw/swift and net/http need: rewinding and asking for
// the position.
func (b *putBody) Seek(offset int64, whence int) (int64, error) {
	s := b.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.gen != s.gen {
		return 0, &bodyError{errStaleBody}
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("putBody.Seek: bad whence")
	}
	if offset < 0 || offset > s.size {
		return 0, errors.New("putBody.Seek: offset out of range")
	}
	if offset != b.off {
		if offset == 0 && b.h != nil {
			b.h.Reset()
		} else {
			b.h = nil
		}
	}
	b.off = offset
	return offset, nil
}

// sum returns the hex MD5 of the whole body, or "" when it was not computed
// or not all of it was read.
func (b *putBody) sum() string {
	s := b.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.h == nil || b.off != s.size {
		return ""
	}
	return hex.EncodeToString(b.h.Sum(nil))
}

// getBody is the reader Get returns: it classifies read errors like every
// other Client error and closes the response.
type getBody struct {
	r       io.Reader // limited to the requested range
	c       io.Closer
	name    string
	secrets []string
}

func (g *getBody) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = classify("get", g.name, err, nil, g.secrets)
	}
	return n, err
}

func (g *getBody) Close() error { return g.c.Close() }
