package registrysync

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/swiftfs/swiftfs/cache"
)

// DefaultPatterns are the base-name patterns of registry files when
// Options.Patterns is nil.
var DefaultPatterns = []string{"*.sqlite3", "*.sqlite", "*.db"}

// Options configure a Syncer.
type Options struct {
	// Patterns select registry files by base name (path.Match syntax, e.g.
	// "*.sqlite3"). nil means DefaultPatterns; an empty non-nil slice
	// turns registry handling off.
	Patterns []string
	// Logger receives one line per snapshot (default: discard).
	Logger *slog.Logger
	// TempDir holds snapshots while they are uploaded. Default: the
	// directory of the staged file, i.e. the cache's data directory, which
	// is on the same file system (the copy can be a reflink) and whose
	// strays the cache deletes at start-up after a crash.
	TempDir string
	// Busy, when set, reports that a transaction may be in flight on the
	// database with this object name (as passed to Prepare): its
	// "-journal" is hot or its "-wal" is not empty. The file system keeps
	// those side files locally and can tell; SideFileBusy decides from
	// their content. Prepare then postpones the upload with an error
	// wrapping cache.ErrNotReady. It is called twice per upload, so it
	// must be cheap, and it must not wait for the cache.
	Busy func(name string) bool
}

// Syncer decides which files are SQLite registries and prepares their
// uploads (see the package documentation). It is safe for concurrent use.
type Syncer struct {
	patterns []string
	log      *slog.Logger
	tempDir  string
	busy     func(string) bool
}

// New returns a Syncer. Patterns are assumed valid (see ParsePatterns);
// an invalid one matches nothing.
func New(opts Options) *Syncer {
	s := &Syncer{patterns: opts.Patterns, log: opts.Logger, tempDir: opts.TempDir, busy: opts.Busy}
	if s.patterns == nil {
		s.patterns = DefaultPatterns
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// ParsePatterns splits a comma-separated list of base-name patterns
// ("*.sqlite3,*.db") and checks each. The empty string gives an empty,
// non-nil list (registry handling off).
func ParsePatterns(s string) ([]string, error) {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			return nil, fmt.Errorf("pattern %q: patterns match base names and cannot contain \"/\"", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Applies reports whether the object name (or path) is a registry: its
// base name matches one of the patterns, or is such a name followed by the
// 8 random characters of a Python tempfile.mkstemp(prefix=name) name: the
// temporary copy that ingest writes and then renames over the registry
// ("registry.sqlite3" → "registry.sqlite3k2x_9qzb"). SQLite's side files
// ("-journal", "-wal", "-shm") and directory markers (names ending in "/")
// never are.
func (s *Syncer) Applies(name string) bool {
	if name == "" || strings.HasSuffix(name, "/") {
		return false
	}
	base := path.Base(name)
	for _, suf := range []string{"-journal", "-wal", "-shm"} {
		if strings.HasSuffix(base, suf) {
			return false
		}
	}
	if s.matches(base) {
		return true
	}
	if n := len(base) - mkstempRandom; n > 0 && isMkstempSuffix(base[n:]) {
		return s.matches(base[:n])
	}
	return false
}

// SideFileOf reports whether name is an SQLite side file ("-journal",
// "-wal" or "-shm") of a registry, and returns that registry's name. The
// file system can keep exactly these files local (the mkstemp copies that
// Applies accepts included) and build Options.Busy from them.
func (s *Syncer) SideFileOf(name string) (db string, ok bool) {
	for _, suf := range []string{"-journal", "-wal", "-shm"} {
		if db, found := strings.CutSuffix(name, suf); found && s.Applies(db) {
			return db, true
		}
	}
	return "", false
}

func (s *Syncer) matches(base string) bool {
	for _, p := range s.patterns {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	return false
}

// mkstempRandom is the length of the random part of Python's temporary
// file names (tempfile._RandomNameSequence: 8 of "a-z0-9_").
const mkstempRandom = 8

func isMkstempSuffix(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SQLite database header layout (https://www.sqlite.org/fileformat2.html).
const (
	headerSize       = 100
	offPageSize      = 16 // 2 bytes, big-endian; 1 means 65536
	offWriteVersion  = 18 // 1: rollback journal, 2: WAL
	offChangeCounter = 24
	offPageCount     = 28 // the in-header database size, in pages
	offValidFor      = 92 // the change counter value for which offPageCount is valid
)

var sqliteMagic = []byte("SQLite format 3\x00")

// dbHeader is what Prepare reads from a database header.
type dbHeader struct {
	pageSize  int64
	wal       bool
	counter   uint32
	pages     int64 // 0 when the in-header size is not valid
	validSize bool
}

// parseHeader decodes the first 100 bytes of a database. ok is false when
// they do not start with the SQLite magic string (not a database at all);
// err is set when they do but the header is impossible (corrupt).
func parseHeader(b []byte) (h dbHeader, ok bool, err error) {
	if len(b) < headerSize || !bytes.Equal(b[:len(sqliteMagic)], sqliteMagic) {
		return h, false, nil
	}
	ps := int64(binary.BigEndian.Uint16(b[offPageSize:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return h, true, fmt.Errorf("invalid page size %d in the database header", ps)
	}
	h.pageSize = ps
	h.wal = b[offWriteVersion] == 2
	h.counter = binary.BigEndian.Uint32(b[offChangeCounter:])
	n := int64(binary.BigEndian.Uint32(b[offPageCount:]))
	if n > 0 && binary.BigEndian.Uint32(b[offValidFor:]) == h.counter {
		h.pages, h.validSize = n, true
	}
	return h, true, nil
}

// Prepare is the cache's PrepareUpload hook (cache.Options.PrepareUpload).
// For a name that is not a registry it returns the zero Prepared at once
// (upload unchanged). For a registry it returns a verified snapshot of the
// staged file src: a private copy, taken while the database did not
// change, that PRAGMA quick_check accepts. Errors:
//
//   - wrapping cache.ErrNotReady: a transaction may be in flight (Busy, a
//     header that does not match the file size, or a change during the
//     copy); the cache retries later.
//   - *cache.ValidationError: the database is corrupt (bad header or
//     quick_check failure); it must not be uploaded.
//   - anything else: the snapshot could not be made (I/O, cancellation).
//
// An empty file (a database nobody wrote yet) and a file that is not an
// SQLite database at all (no magic string) are uploaded unchanged.
func (s *Syncer) Prepare(ctx context.Context, name string, src *os.File, size int64) (cache.Prepared, error) {
	if !s.Applies(name) {
		return cache.Prepared{}, nil
	}
	if size == 0 {
		return cache.Prepared{}, nil
	}
	if s.busy != nil && s.busy(name) {
		return cache.Prepared{}, notReady(name, "a transaction is in progress (its journal or WAL is not empty)")
	}
	before, err := readState(src, size)
	if err != nil {
		return cache.Prepared{}, fmt.Errorf("registrysync: %s: %w", name, err)
	}
	h, isDB, herr := parseHeader(before.header)
	switch {
	case !isDB:
		s.log.Warn("file named like a registry is not an SQLite database; uploading it unchanged", "object", name, "bytes", size)
		return cache.Prepared{}, nil
	case herr != nil:
		return cache.Prepared{}, &cache.ValidationError{Name: name, Err: herr}
	case h.validSize && h.pages*h.pageSize != size:
		return cache.Prepared{}, notReady(name, fmt.Sprintf("the file has %d bytes but its header records %d pages of %d bytes: a transaction is being written",
			size, h.pages, h.pageSize))
	case size%h.pageSize != 0:
		return cache.Prepared{}, notReady(name, fmt.Sprintf("the file size %d is not a multiple of the page size %d: a transaction is being written", size, h.pageSize))
	}

	start := time.Now()
	tmp, err := s.copyStaged(src, size)
	if err != nil {
		return cache.Prepared{}, fmt.Errorf("registrysync: snapshot of %s: %w", name, err)
	}
	cleanup := func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	after, err := readState(src, size)
	if err == nil && !after.same(before) {
		err = notReady(name, "the database changed while it was copied")
	}
	if err == nil && s.busy != nil && s.busy(name) {
		err = notReady(name, "a transaction started while the database was copied")
	}
	if err == nil {
		err = quickCheck(ctx, tmp.Name())
		var ce *corruptError
		if errors.As(err, &ce) {
			err = &cache.ValidationError{Name: name, Err: err}
		}
	}
	if err != nil {
		cleanup()
		return cache.Prepared{}, err
	}
	s.log.Debug("registry snapshot checked", "object", name, "bytes", size, "wal", h.wal, "took", time.Since(start).Round(time.Millisecond))
	return cache.Prepared{File: tmp, Size: size, Cleanup: cleanup}, nil
}

func notReady(name, why string) error {
	return fmt.Errorf("registrysync: %s: %s: %w", name, why, cache.ErrNotReady)
}

// fileState is what must not change while a snapshot is copied.
type fileState struct {
	size   int64
	mtime  time.Time
	header []byte
}

func (a fileState) same(b fileState) bool {
	return a.size == b.size && a.mtime.Equal(b.mtime) && bytes.Equal(a.header, b.header)
}

func readState(f *os.File, size int64) (fileState, error) {
	st, err := f.Stat()
	if err != nil {
		return fileState{}, err
	}
	n := min(size, headerSize)
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return fileState{}, err
	}
	return fileState{size: st.Size(), mtime: st.ModTime(), header: b}, nil
}

// copyStaged copies the first size bytes of src into a new temporary
// file, through a descriptor of its own (src's offset is shared with the
// cache).
func (s *Syncer) copyStaged(src *os.File, size int64) (*os.File, error) {
	dir := s.tempDir
	if dir == "" {
		dir = filepath.Dir(src.Name())
	}
	in, err := os.Open(src.Name())
	if err != nil {
		return nil, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".swiftfs-registry-snapshot-*")
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(tmp, io.LimitReader(in, size))
	if err == nil && n != size {
		err = fmt.Errorf("staged file shrank to %d bytes while it was copied", n)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return tmp, nil
}

// corruptError is a database that SQLite refuses or finds damaged.
type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }

// openReadOnly opens a database file that nothing else writes, read-only
// and immutable: SQLite takes no locks and looks for no journal, WAL or
// shared-memory file next to it (none belongs there: a snapshot's side
// files, if any, live elsewhere and were checked before).
func openReadOnly(p string) (*sql.DB, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&immutable=1"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// quickCheck runs PRAGMA quick_check on the database file at p. A damaged
// database is reported as a *corruptError.
func quickCheck(ctx context.Context, p string) error {
	db, err := openReadOnly(p)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return classify(err, "PRAGMA quick_check")
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return err
		}
		if len(msgs) < 5 {
			msgs = append(msgs, m)
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "PRAGMA quick_check")
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return &corruptError{"PRAGMA quick_check: " + strings.Join(msgs, "; ")}
}

// classify turns SQLite's "this is not a database" and "corrupt" results
// into a *corruptError; other errors (I/O, interrupted) stay as they are.
func classify(err error, what string) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB) {
		return &corruptError{fmt.Sprintf("%s: %v", what, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// SideFileBusy tells from the content of an SQLite side file whether a
// transaction may be in flight on its database; name is the side file's
// name (it ends in "-journal", "-wal" or "-shm"). A rollback journal is hot
// when its header is not all zeros (SQLite deletes, truncates or zeroes it
// at commit, depending on journal_mode); a WAL with any content may hold
// committed pages the database file does not have yet; the "-shm" file
// never says anything. The file system (which keeps these files locally)
// can build Options.Busy from it.
func SideFileBusy(name string, r io.ReaderAt, size int64) bool {
	switch {
	case strings.HasSuffix(name, "-journal"):
		if size <= 0 {
			return false
		}
		b := make([]byte, min(size, 28))
		n, err := r.ReadAt(b, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return true // unreadable: assume the worst
		}
		return !allZero(b[:n])
	case strings.HasSuffix(name, "-wal"):
		return size > 0
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
