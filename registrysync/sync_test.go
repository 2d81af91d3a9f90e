package registrysync

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

func TestApplies(t *testing.T) {
	cases := []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "registry.sqlite3", true},
		{nil, "repo/registry.sqlite3", true},
		{nil, "a/b/calib.sqlite", true},
		{nil, "defects.db", true},
		{nil, "registry.sqlite3-journal", false},
		{nil, "registry.sqlite3-wal", false},
		{nil, "registry.sqlite3.conflict-host-20260101T000000Z", false},
		// Ingest's tempfile.mkstemp(prefix="registry.sqlite3", dir=repo).
		{nil, "repo/registry.sqlite3enrjcl1u", true},
		{nil, "repo/registry.sqlite3k2x_9qzb", true},
		{nil, "repo/registry.sqlite3enrjcl1u-journal", false},
		{nil, "repo/registry.dbenrjcl", false},           // 6 characters
		{nil, "repo/registry.sqlite3ENRJCL1U", false},    // not mkstemp's alphabet
		{nil, "repo/notes.txtenrjcl1u", false},           // the stem is no registry
		{nil, "registry.sqlite3enrjcl1uabcdefgh", false}, // only one suffix
		{nil, "raw/raw_v1_fg.fits.gz", false},
		{nil, "REGISTRY.SQLITE3", false}, // patterns are case-sensitive, like the shell's
		{nil, "dir.db/", false},          // a directory marker
		{nil, "", false},
		{[]string{"*.registry"}, "x/y.registry", true},
		{[]string{"*.registry"}, "registry.sqlite3", false},
		{[]string{"registry.sqlite3"}, "deep/registry.sqlite3", true}, // base name only
		{[]string{}, "registry.sqlite3", false},                       // explicitly off
	}
	for _, c := range cases {
		s := New(Options{Patterns: c.patterns})
		if got := s.Applies(c.name); got != c.want {
			t.Errorf("Applies(%q) with patterns %q: got %v, want %v", c.name, c.patterns, got, c.want)
		}
	}
}

func TestSideFileOf(t *testing.T) {
	cases := []struct{ name, want string }{
		{"repo/registry.sqlite3-journal", "repo/registry.sqlite3"},
		{"repo/registry.sqlite3-wal", "repo/registry.sqlite3"},
		{"registry.sqlite3-shm", "registry.sqlite3"},
		{"repo/registry.sqlite3k2x_9qzb-journal", "repo/registry.sqlite3k2x_9qzb"}, // ingest's temporary copy
		{"repo/registry.sqlite3", ""},
		{"notes.txt-journal", ""},
		{"registry.sqlite3-journal-journal", ""},
	}
	s := New(Options{})
	for _, c := range cases {
		db, ok := s.SideFileOf(c.name)
		if db != c.want || ok != (c.want != "") {
			t.Errorf("SideFileOf(%q): got %q, %v; want %q", c.name, db, ok, c.want)
		}
	}
}

func TestParsePatterns(t *testing.T) {
	cases := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"*.sqlite3,*.sqlite,*.db", []string{"*.sqlite3", "*.sqlite", "*.db"}, ""},
		{" *.db , ,registry.sqlite3 ", []string{"*.db", "registry.sqlite3"}, ""},
		{"", []string{}, ""},
		{"[a", nil, "syntax error"},
		{"repo/*.db", nil, "cannot contain"},
	}
	for _, c := range cases {
		got, err := ParsePatterns(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParsePatterns(%q): got error %v, want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) || got == nil {
			t.Errorf("ParsePatterns(%q): got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// makeDB creates a rollback-journal database with n rows in table raw.
func makeDB(t *testing.T, path string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec(t, db, "CREATE TABLE raw (id INTEGER PRIMARY KEY, visit INTEGER, filter TEXT, pad TEXT)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, tx, 0, n)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func insertRows(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := db.Exec("INSERT INTO raw (visit, filter, pad) VALUES (?, ?, ?)", i, "g", strings.Repeat("x", 200)); err != nil {
			t.Fatal(err)
		}
	}
}

func exec(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// countRows counts the rows of raw in the database file at p.
func countRows(t *testing.T, p string) int {
	t.Helper()
	db, err := openReadOnly(p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM raw").Scan(&n); err != nil {
		t.Fatalf("counting rows of %s: %v", p, err)
	}
	return n
}

func openFile(t *testing.T, p string) (*os.File, int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// flip inverts 4 bytes at off.
func flip(t *testing.T, p string, off int64) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := off; i < off+4; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tempFiles lists the snapshot files left in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".swiftfs-registry-snapshot-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPrepareFiles runs Prepare on staged files of different content.
func TestPrepareFiles(t *testing.T) {
	const pageSize = 4096
	type outcome int
	const (
		unchanged outcome = iota // Prepared{}: upload the staged file as it is
		snapshot                 // a verified copy, byte for byte
		notReady                 // postponed (cache.ErrNotReady)
		corrupt                  // refused (*cache.ValidationError)
	)
	cases := []struct {
		what  string
		name  string
		setup func(t *testing.T, p string)
		want  outcome
	}{
		{"not a registry name", "raw/raw_v1_fg.fits", func(t *testing.T, p string) { makeDB(t, p, 10) }, unchanged},
		{"empty file (a new database)", "registry.sqlite3", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, unchanged},
		{"not SQLite (e.g. another program's .db)", "thumbs.db", func(t *testing.T, p string) {
			os.WriteFile(p, bytes.Repeat([]byte("not a database "), 100), 0o600)
		}, unchanged},
		{"committed database", "repo/registry.sqlite3", func(t *testing.T, p string) { makeDB(t, p, 100) }, snapshot},
		{"cell pointers of a page damaged", "registry.sqlite3", func(t *testing.T, p string) {
			makeDB(t, p, 100)
			st, _ := os.Stat(p)
			flip(t, p, st.Size()-pageSize+8) // last page: its cell pointer array
		}, corrupt},
		{"page header damaged (SQLite refuses the file)", "registry.sqlite3", func(t *testing.T, p string) {
			makeDB(t, p, 100)
			st, _ := os.Stat(p)
			flip(t, p, st.Size()-pageSize+3)
		}, corrupt},
		{"impossible page size", "registry.sqlite3", func(t *testing.T, p string) {
			makeDB(t, p, 10)
			b, _ := os.ReadFile(p)
			b[16], b[17] = 0x03, 0x00 // 768: not a power of two
			os.WriteFile(p, b, 0o600)
		}, corrupt},
		{"cut short (header counts more pages)", "registry.sqlite3", func(t *testing.T, p string) {
			makeDB(t, p, 100)
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-pageSize)
		}, notReady},
		{"not a whole number of pages", "registry.sqlite3", func(t *testing.T, p string) {
			makeDB(t, p, 100)
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-100)
		}, notReady},
	}
	for _, c := range cases {
		dir := t.TempDir()
		p := filepath.Join(dir, "staged")
		c.setup(t, p)
		orig, _ := os.ReadFile(p)
		f, size := openFile(t, p)
		tmpDir := t.TempDir()
		s := New(Options{TempDir: tmpDir})
		got, err := s.Prepare(context.Background(), c.name, f, size)
		var ve *cache.ValidationError
		switch c.want {
		case unchanged:
			if err != nil || got.File != nil || got.Cleanup != nil {
				t.Errorf("%s: got %+v, %v; want the file unchanged", c.what, got, err)
			}
		case snapshot:
			if err != nil || got.File == nil {
				t.Errorf("%s: got %+v, %v; want a snapshot", c.what, got, err)
				continue
			}
			snap, _ := os.ReadFile(got.File.Name())
			if got.Size != size || !bytes.Equal(snap, orig) {
				t.Errorf("%s: snapshot has %d bytes (size %d), want the %d bytes of the staged file", c.what, len(snap), got.Size, size)
			}
			if n := countRows(t, got.File.Name()); n != 100 {
				t.Errorf("%s: snapshot has %d rows, want 100", c.what, n)
			}
			got.Cleanup()
		case notReady:
			if !errors.Is(err, cache.ErrNotReady) {
				t.Errorf("%s: got %+v, %v; want an error wrapping cache.ErrNotReady", c.what, got, err)
			}
		case corrupt:
			if !errors.As(err, &ve) || errors.Is(err, cache.ErrNotReady) || got.File != nil {
				t.Errorf("%s: got %+v, %v; want a *cache.ValidationError", c.what, got, err)
			}
		}
		if left := tempFiles(t, tmpDir); len(left) != 0 {
			t.Errorf("%s: temporary files left: %q", c.what, left)
		}
	}
}

// TestPrepareDefaultTempDir checks that snapshots go next to the staged
// file when no TempDir is given.
func TestPrepareDefaultTempDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "17")
	makeDB(t, p, 5)
	f, size := openFile(t, p)
	got, err := New(Options{}).Prepare(context.Background(), "registry.sqlite3", f, size)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got.File.Name()) != dir {
		t.Errorf("snapshot at %s, want it in %s", got.File.Name(), dir)
	}
	got.Cleanup()
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("Cleanup left %q", left)
	}
}

// openTx opens a second connection to the database at p, as the writer, in
// an open write transaction that inserted (or updated) rows. cacheSize
// limits SQLite's page cache, so that a large transaction spills pages
// into the database file before commit.
func openTx(t *testing.T, p string, cacheSize int, stmts ...string) *sql.Tx {
	t.Helper()
	db, err := sql.Open("sqlite3", p)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	exec(t, db, fmt.Sprintf("PRAGMA cache_size = %d", cacheSize))
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	for _, s := range stmts {
		exec(t, tx, s)
	}
	return tx
}

// journalBusy is Options.Busy for a database whose journal is next to it
// (in a mount, the file system keeps it in its own local directory).
func journalBusy(p string) func(string) bool {
	return func(string) bool {
		for _, side := range []string{"-journal", "-wal"} {
			f, err := os.Open(p + side)
			if err != nil {
				continue
			}
			st, _ := f.Stat()
			busy := SideFileBusy(side, f, st.Size())
			f.Close()
			if busy {
				return true
			}
		}
		return false
	}
}

const bulkInsert = "INSERT INTO raw (visit, filter, pad) SELECT visit + 1000, 'r', pad FROM raw"

// TestPrepareDuringTransaction is what the staged file looks like while a
// writer has a transaction open, and what Prepare makes of it.
func TestPrepareDuringTransaction(t *testing.T) {
	cases := []struct {
		what      string
		cacheSize int
		stmts     []string
		busyHook  bool
		wantErr   bool // want ErrNotReady; else a snapshot of the committed 1000 rows
	}{
		// SQLite changes nothing in the database file before commit while
		// the transaction fits in its page cache: the staged file is the
		// last committed state, consistent without its (hot) journal.
		{"small transaction, no Busy hook", 2000, []string{bulkInsert}, false, false},
		// The hot journal says a transaction is open: postpone anyway,
		// since nothing tells Prepare whether pages were spilled.
		{"small transaction, Busy hook", 2000, []string{bulkInsert}, true, true},
		// A transaction larger than the page cache writes pages into the
		// database file before commit. When the file grows, its header no
		// longer counts its pages: caught without the hook.
		{"spilled, growing transaction, no Busy hook", 10, []string{bulkInsert}, false, true},
		{"spilled, growing transaction, Busy hook", 10, []string{bulkInsert}, true, true},
		// An update that spills in place leaves a file of the same size
		// and header: only the journal tells (see TestSpillInPlace).
		{"spilled update in place, Busy hook", 10, []string{"UPDATE raw SET pad = upper(pad)"}, true, true},
	}
	for _, c := range cases {
		dir := t.TempDir()
		p := filepath.Join(dir, "registry.sqlite3")
		makeDB(t, p, 1000)
		tx := openTx(t, p, c.cacheSize, c.stmts...)
		opts := Options{TempDir: t.TempDir()}
		if c.busyHook {
			opts.Busy = journalBusy(p)
		}
		f, size := openFile(t, p)
		got, err := New(opts).Prepare(context.Background(), "registry.sqlite3", f, size)
		switch {
		case c.wantErr && !errors.Is(err, cache.ErrNotReady):
			t.Errorf("%s: got %+v, %v; want ErrNotReady", c.what, got, err)
		case !c.wantErr && err != nil:
			t.Errorf("%s: %v", c.what, err)
		case !c.wantErr:
			if n := countRows(t, got.File.Name()); n != 1000 {
				t.Errorf("%s: snapshot has %d rows, want the committed 1000", c.what, n)
			}
			got.Cleanup()
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		// Committed, the journal is gone: the upload goes ahead.
		st, _ := f.Stat()
		got, err = New(opts).Prepare(context.Background(), "registry.sqlite3", f, st.Size())
		if err != nil {
			t.Errorf("%s: after commit: %v", c.what, err)
			continue
		}
		want := 1000
		if strings.HasPrefix(c.stmts[0], "INSERT") {
			want = 2000
		}
		if n := countRows(t, got.File.Name()); n != want {
			t.Errorf("%s: after commit the snapshot has %d rows, want %d", c.what, n, want)
		}
		got.Cleanup()
	}
}

// TestSpillInPlace shows why Options.Busy must be wired: a transaction
// that spilled pages in place leaves a staged file that passes
// PRAGMA quick_check and the header checks, yet holds changes that were
// never committed.
func TestSpillInPlace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "registry.sqlite3")
	makeDB(t, p, 1000)
	before, _ := os.ReadFile(p)
	tx := openTx(t, p, 10, "UPDATE raw SET pad = upper(pad)")
	defer tx.Rollback()
	f, size := openFile(t, p)
	after, _ := os.ReadFile(p)
	if bytes.Equal(before, after) {
		t.Skip("this SQLite did not spill the update into the database file")
	}
	got, err := New(Options{TempDir: t.TempDir()}).Prepare(context.Background(), "registry.sqlite3", f, size)
	if err != nil {
		t.Skipf("the spilled state was caught without Busy (%v); nothing to show", err)
	}
	defer got.Cleanup()
	db, err := openReadOnly(got.File.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var upper int
	if err := db.QueryRow("SELECT COUNT(*) FROM raw WHERE pad = 'XXXX' || substr(pad, 5)").Scan(&upper); err != nil {
		t.Fatal(err)
	}
	if upper == 0 {
		t.Errorf("the snapshot holds no uncommitted row; the claim in the package doc (quick_check cannot see an open transaction) is unproven")
	}
}

func TestPrepareBusy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "registry.sqlite3")
	makeDB(t, p, 10)
	f, size := openFile(t, p)
	asked := ""
	tmpDir := t.TempDir()
	s := New(Options{TempDir: tmpDir, Busy: func(name string) bool { asked = name; return true }})
	got, err := s.Prepare(context.Background(), "repo/registry.sqlite3", f, size)
	if !errors.Is(err, cache.ErrNotReady) || got.File != nil {
		t.Errorf("got %+v, %v; want ErrNotReady", got, err)
	}
	if asked != "repo/registry.sqlite3" {
		t.Errorf("Busy asked about %q, want the object name", asked)
	}
	if left := tempFiles(t, tmpDir); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestSideFileBusy(t *testing.T) {
	hdr := []byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7}
	cases := []struct {
		name string
		data []byte
		want bool
	}{
		{"r.sqlite3-journal", nil, false},                                    // TRUNCATE mode after commit
		{"r.sqlite3-journal", make([]byte, 4096), false},                     // PERSIST mode after commit: header zeroed
		{"r.sqlite3-journal", append(hdr, make([]byte, 4088)...), true},      // hot
		{"r.sqlite3-journal", append(make([]byte, 20), 1, 0, 0, 0, 0), true}, // something in the header
		{"r.sqlite3-wal", nil, false},
		{"r.sqlite3-wal", make([]byte, 32), true},
		{"r.sqlite3-shm", make([]byte, 32768), false},
	}
	for _, c := range cases {
		if got := SideFileBusy(c.name, bytes.NewReader(c.data), int64(len(c.data))); got != c.want {
			t.Errorf("SideFileBusy(%q, %d bytes): got %v, want %v", c.name, len(c.data), got, c.want)
		}
	}
}

// TestCacheRefusesCorruptRegistry runs Prepare as the cache's hook: a
// damaged database stays dirty and nothing reaches Swift; a good one is
// uploaded byte for byte.
func TestCacheRefusesCorruptRegistry(t *testing.T) {
	src := filepath.Join(t.TempDir(), "db")
	makeDB(t, src, 100)
	good, _ := os.ReadFile(src)
	bad := bytes.Clone(good)
	for i := len(bad) - 4096 + 8; i < len(bad)-4096+12; i++ {
		bad[i] ^= 0xff
	}
	fake := swiftfake.New()
	s := New(Options{})
	c, err := cache.New(cache.Options{Dir: t.TempDir(), PrepareUpload: s.Prepare, CheckConflict: s.Applies,
		WriteBackDelay: time.Hour}, fake)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Second)
	ctx := context.Background()

	e, err := c.Open("repo/registry.sqlite3", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.WriteAt(bad, 0); err != nil {
		t.Fatal(err)
	}
	var ve *cache.ValidationError
	if err := e.Sync(ctx); !errors.As(err, &ve) {
		t.Errorf("Sync of a damaged registry: got %v, want a *cache.ValidationError", err)
	}
	if names := fake.Names(); len(names) != 0 {
		t.Errorf("objects in Swift after a refused upload: %q", names)
	}
	if !e.Dirty() {
		t.Errorf("the damaged registry is no longer dirty")
	}

	if _, err := e.WriteAt(good, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		t.Fatalf("Sync of the repaired registry: %v", err)
	}
	if got, _ := fake.Data("repo/registry.sqlite3"); !bytes.Equal(got, good) {
		t.Errorf("uploaded %d bytes, want the staged %d bytes unchanged", len(got), len(good))
	}
	c.Release(e)
}
