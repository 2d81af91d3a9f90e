package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// ConflictError reports an upload diverted to a conflict copy because
// another client changed, deleted or created the object since this copy's
// version (Options.CheckConflict).
type ConflictError struct {
	Name string // the object another client changed (its version is kept)
	Copy string // where our content went
	// Base is the version (ETag) this copy came from, "" when this mount
	// saw no object; Theirs is what Swift held ("" when none, or not
	// known: a create-only upload refused with 412).
	Base, Theirs string
	// theirs is the object in Swift, when known.
	theirs *swiftclient.ObjectInfo
}

func (e *ConflictError) Error() string {
	what := "changed in Swift by another client since it was read here"
	if e.Base == "" {
		what = "created in Swift by another client meanwhile"
	}
	return fmt.Sprintf("%q was %s: their version is kept, ours was uploaded as %q", e.Name, what, e.Copy)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// errTheirs: the object a create-only upload found is not our content.
var errTheirs = errors.New("cache: another client created the object")

// checkConflict decides how an upload of e under name must guard against
// another writer. A copy of no object in Swift (created here, or renamed
// onto a name the listing did not have) is uploaded create-only
// ("If-None-Match: *"): no request is added, and a 412 means another
// writer created the name first. A copy of a version is compared with the
// object in Swift first (HEAD, ETag; the compare half of a compare-and-swap
// Swift does not offer): when another client changed or deleted it, the
// upload goes to a conflict copy instead.
func (w *writeback) checkConflict(ctx context.Context, e *Entry, name string) (createOnly bool, ce *ConflictError, err error) {
	e.mu.Lock()
	base, overOwn := e.remoteETag, e.overOwn
	e.mu.Unlock()
	if overOwn {
		return false, nil, nil
	}
	if base == "" {
		return true, nil, nil
	}
	same, st, err := swiftclient.IsVersion(ctx, w.c.client, name, base)
	if err != nil || same {
		return false, nil, err
	}
	ce = w.conflict(name, base, st.ETag)
	if st.Name != "" {
		ce.theirs = &st
	}
	return false, ce, nil
}

// maxCopyNames bounds the names tried for one conflict copy.
const maxCopyNames = 100

// sendCopy uploads s as the conflict copy ce names, create-only: another
// mount on the same host may divert its upload of the same name in the
// same second, so a taken name gets a suffix ("-2", "-3", ...). It returns
// ce as the error when the copy is written.
func (w *writeback) sendCopy(ctx context.Context, e *Entry, s snapshot, ce *ConflictError, f *os.File, size int64, meta map[string]string) (putResult, error) {
	first := ce.Copy
	for i := 2; ; i++ {
		res, err := w.send(ctx, e, s, ce.Copy, f, size, meta, true)
		switch {
		case err == nil:
			return res, ce
		case !errors.Is(err, swiftclient.ErrPreconditionFailed) || i > maxCopyNames:
			return res, err
		}
		ce.Copy = fmt.Sprintf("%s-%d", first, i)
	}
}

// conflict names the conflict copy of name: "<name>.conflict-<host>-<UTC
// time>".
func (w *writeback) conflict(name, base, theirs string) *ConflictError {
	host, _ := os.Hostname()
	alt := fmt.Sprintf("%s.conflict-%s-%s", name, host, w.c.opts.Now().UTC().Format("20060102T150405Z"))
	return &ConflictError{Name: name, Copy: alt, Base: base, Theirs: theirs}
}

// created looks at the object a create-only upload of s was refused for
// (412). When it is our content, it was written by an earlier attempt of
// ours whose answer was lost (a create-only PUT is not retried after an
// ambiguous failure, so the next upload finds its own object): the upload
// succeeded. errTheirs when it is another writer's; the 412 itself when
// the object is gone again (the next attempt creates it).
func (w *writeback) created(ctx context.Context, s snapshot, f *os.File, size int64) (putResult, swiftclient.ObjectInfo, error) {
	st, err := w.c.client.Stat(ctx, s.name)
	switch {
	case errors.Is(err, swiftclient.ErrNotFound):
		return putResult{}, st, fmt.Errorf("cache: %q was created by another client and is gone again; retrying: %w", s.name, swiftclient.ErrUnavailable)
	case err != nil:
		return putResult{}, st, err
	case st.LargeObject || st.Size != size:
		return putResult{}, st, errTheirs
	}
	sum, err := fileMD5(f, size)
	if err != nil {
		return putResult{}, st, fmt.Errorf("cache: reading %q: %w", s.name, err)
	}
	if sum != st.ETag {
		return putResult{}, st, errTheirs
	}
	return putResult{info: st}, st, nil
}

// Conflict is one upload diverted to a conflict copy, for `swiftfs status`.
type Conflict struct {
	Name string    // the object whose other version was kept
	Copy string    // where this mount's content went
	Time time.Time // when the copy was uploaded
}

// maxConflicts bounds the conflicts a mount remembers for its status.
const maxConflicts = 1000

// conflictLog remembers the conflicts of this run. Its lock is a leaf.
type conflictLog struct {
	mu       sync.Mutex
	all      []Conflict // GUARDED_BY(mu): the latest maxConflicts
	reported int        // GUARDED_BY(mu): how many of all a SyncAll reported
	total    int64      // GUARDED_BY(mu): every conflict of this run
}

func (l *conflictLog) add(c Conflict) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, c)
	l.total++
	if n := len(l.all) - maxConflicts; n > 0 {
		l.all = slices.Delete(l.all, 0, n)
		l.reported = max(l.reported-n, 0)
	}
}

func (l *conflictLog) count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func (l *conflictLog) list() []Conflict {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// take returns the conflicts no SyncAll reported yet, as one error
// matching ErrConflict (nil when there are none), and marks them reported.
func (l *conflictLog) take() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	news := l.all[l.reported:]
	l.reported = len(l.all)
	if len(news) == 0 {
		return nil
	}
	var b strings.Builder
	for i, c := range news {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q -> %q", c.Name, c.Copy)
	}
	return fmt.Errorf("%w: %d upload(s) diverted to conflict copies (another client's version kept under the name, ours in the copy): %s",
		ErrConflict, len(news), b.String())
}
