package registrysync

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// MetaTable is the table in which Build records how a registry was made
// (key/value rows: template, table, prefix, fits_keywords, built_at,
// built_by), so that Check can compare it with the container later.
const MetaTable = "swiftfs_meta"

// DefaultRegistryName is the registry's object name under the prefix, as
// the Butler looks for it.
const DefaultRegistryName = "registry.sqlite3"

// BuildOptions configure Build.
type BuildOptions struct {
	// Prefix is the repository root in the container: "" or "dir/".
	Prefix string
	// Template is the path template of the files to register, relative to
	// Prefix, e.g. "raw/raw_v%(visit)d_f%(filter)s.fits.gz". Required.
	Template string
	// Table is the table of one row per file (default "raw"). When the
	// template has a "visit" key, a "<Table>_visit" table holds one row
	// per visit with the columns that do not vary within a visit.
	Table string
	// Output is the registry's name relative to Prefix (default
	// DefaultRegistryName).
	Output string
	// FITSKeywords are header keywords stored as extra columns, read from
	// each file's primary header (or, for files whose primary HDU has no
	// data, the first extension's).
	FITSKeywords []string
	// Overwrite replaces an existing registry object; without it Build
	// fails rather than replace a registry that may hold rows it cannot
	// rebuild (e.g. from an ingest).
	Overwrite bool
	// TempDir holds the registry while it is built (default os.TempDir()).
	TempDir string
	// Concurrency is the number of FITS headers read at once (default 8).
	Concurrency int
	Logger      *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// BuildResult describes what Build did.
type BuildResult struct {
	Object     string   // the registry's object name in the container
	ETag       string   // its MD5
	Size       int64    // its size
	Listed     int      // objects listed under the prefix
	Rows       int      // rows in the file table
	Visits     int      // rows in the visit table (-1: no visit table)
	VisitCols  []string // the visit table's columns
	Unmatched  int      // objects that do not match the template
	Duplicates []string // objects skipped because an earlier one has the same keys
	// HeaderFailures lists objects whose FITS header could not be read;
	// their keyword columns are NULL.
	HeaderFailures []string
}

// file is one matched object.
type file struct {
	name   string
	values []any // template keys, then FITS keywords
}

// Build lists the objects under opts.Prefix, registers those that match
// opts.Template in a new SQLite registry, checks it (PRAGMA quick_check)
// and uploads it as opts.Prefix + opts.Output with its MD5.
func Build(ctx context.Context, c swiftclient.Client, opts BuildOptions) (BuildResult, error) {
	if opts.Table == "" {
		opts.Table = "raw"
	}
	if opts.Output == "" {
		opts.Output = DefaultRegistryName
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	res := BuildResult{Object: opts.Prefix + opts.Output, Visits: -1}
	tmpl, err := ParseTemplate(opts.Template)
	if err != nil {
		return res, err
	}
	if !keyRE.MatchString(opts.Table) || strings.HasPrefix(strings.ToLower(opts.Table), "sqlite_") || strings.EqualFold(opts.Table, MetaTable) {
		return res, fmt.Errorf("table name %q is not allowed", opts.Table)
	}
	cols, err := columnNames(tmpl, opts.FITSKeywords)
	if err != nil {
		return res, err
	}

	files, err := matchObjects(ctx, c, opts.Prefix, tmpl, func(rel string) bool { return rel == opts.Output }, &res)
	if err != nil {
		return res, err
	}
	if len(files) == 0 {
		return res, fmt.Errorf("no object under %q matches the template %q (%d listed)", opts.Prefix, opts.Template, res.Listed)
	}
	if len(opts.FITSKeywords) > 0 {
		if err := readHeaders(ctx, c, files, opts, len(tmpl.Keys()), &res); err != nil {
			return res, err
		}
	}
	types := make([]ColumnType, len(cols))
	for i, k := range tmpl.Keys() {
		types[i] = k.Type
	}
	for j := range opts.FITSKeywords {
		i := len(tmpl.Keys()) + j
		types[i] = inferType(files, i)
	}

	tmpDir := opts.TempDir
	if tmpDir == "" {
		tmpDir = os.TempDir()
	}
	tmp, err := os.CreateTemp(tmpDir, "swiftfs-registry-*.sqlite3")
	if err != nil {
		return res, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	defer os.Remove(tmp.Name() + "-journal")
	meta := [][2]string{
		{"template", opts.Template},
		{"table", opts.Table},
		{"prefix", opts.Prefix},
		{"fits_keywords", strings.Join(opts.FITSKeywords, ",")},
		{"built_at", opts.Now().UTC().Format(time.RFC3339)},
		{"built_by", "swiftfs registry build"},
	}
	if err := writeRegistry(ctx, tmp.Name(), opts.Table, cols, types, len(tmpl.Keys()), files, meta, &res); err != nil {
		return res, fmt.Errorf("writing the registry: %w", err)
	}
	if err := quickCheck(ctx, tmp.Name()); err != nil {
		return res, fmt.Errorf("the new registry fails its check: %w", err)
	}
	info, err := upload(ctx, c, tmp.Name(), res.Object, opts.Overwrite, opts.Now())
	if err != nil {
		return res, err
	}
	res.ETag, res.Size = info.ETag, info.Size
	return res, nil
}

// columnNames returns the registry columns: the template keys, then the
// FITS keywords, refusing names SQLite would take for the same column
// (names are case-insensitive) or that clash with "id".
func columnNames(t *Template, fits []string) ([]string, error) {
	var cols []string
	seen := map[string]string{"id": "the row id"}
	add := func(name, what string) error {
		if name == "" || strings.ContainsAny(name, "\"\x00") {
			return fmt.Errorf("%s %q cannot be a column name", what, name)
		}
		l := strings.ToLower(name)
		if prev, ok := seen[l]; ok {
			return fmt.Errorf("%s %q would be the same column as %s (SQLite column names ignore case)", what, name, prev)
		}
		seen[l] = fmt.Sprintf("%s %q", what, name)
		cols = append(cols, name)
		return nil
	}
	for _, k := range t.Keys() {
		if err := add(k.Key, "template key"); err != nil {
			return nil, err
		}
	}
	for _, k := range fits {
		if err := add(k, "FITS keyword"); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// listAll calls fn for every object under prefix, page by page.
func listAll(ctx context.Context, c swiftclient.Client, prefix string, fn func(swiftclient.ObjectInfo)) error {
	err := swiftclient.ListPages(ctx, c, swiftclient.ListOptions{Prefix: prefix}, func(entries []swiftclient.ObjectInfo) error {
		for _, e := range entries {
			if !e.Subdir {
				fn(e)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing %q: %w", prefix, err)
	}
	return nil
}

// matchObjects lists the prefix and keeps the objects that match t (one
// per key tuple: the first in name order), skipping names skip accepts.
func matchObjects(ctx context.Context, c swiftclient.Client, prefix string, t *Template, skip func(rel string) bool, res *BuildResult) ([]*file, error) {
	var files []*file
	byKey := map[string]string{}
	err := listAll(ctx, c, prefix, func(e swiftclient.ObjectInfo) {
		res.Listed++
		rel := strings.TrimPrefix(e.Name, prefix)
		if strings.HasSuffix(rel, "/") || skip(rel) {
			return
		}
		vals, ok := t.Match(rel)
		if !ok {
			res.Unmatched++
			return
		}
		k := tupleKey(vals)
		if _, dup := byKey[k]; dup {
			res.Duplicates = append(res.Duplicates, e.Name)
			return
		}
		byKey[k] = e.Name
		files = append(files, &file{name: e.Name, values: vals})
	})
	return files, err
}

// tupleKey renders key values as one comparable string.
func tupleKey(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		switch x := v.(type) {
		case int64:
			b.WriteString("i" + strconv.FormatInt(x, 10))
		case float64:
			b.WriteString("r" + strconv.FormatFloat(x, 'g', -1, 64))
		case string:
			b.WriteString("s" + strconv.Quote(x))
		case []byte:
			b.WriteString("s" + strconv.Quote(string(x)))
		case nil:
			b.WriteString("n")
		default:
			fmt.Fprintf(&b, "?%v", x)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// readHeaders fills the FITS keyword values of every file, reading
// headers concurrently. A file whose header cannot be read as FITS (or
// that vanished since the listing) keeps NULLs and is reported; any other
// failure stops the build.
func readHeaders(ctx context.Context, c swiftclient.Client, files []*file, opts BuildOptions, nkeys int, res *BuildResult) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *file)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
	)
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				kv, err := readFITSKeywords(ctx, c, f.name, opts.FITSKeywords)
				if err != nil && !errors.Is(err, errNotFITS) && !errors.Is(err, swiftclient.ErrNotFound) {
					cancel(fmt.Errorf("reading the FITS header of %q: %w", f.name, err))
					continue
				}
				vals := make([]any, len(opts.FITSKeywords))
				if err != nil {
					opts.Logger.Warn("FITS header not read; its keyword columns stay NULL", "object", f.name, "err", err)
					mu.Lock()
					failures = append(failures, f.name)
					mu.Unlock()
				} else {
					for i, k := range opts.FITSKeywords {
						vals[i] = kv[k]
					}
				}
				f.values = append(f.values[:nkeys], vals...)
			}
		}()
	}
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	slices.Sort(failures)
	res.HeaderFailures = failures
	return nil
}

// inferType picks the column type of values[i] over all files: INTEGER
// when every value is an integer or logical, REAL when numbers include
// reals, TEXT otherwise (and when there are no values).
func inferType(files []*file, i int) ColumnType {
	t := ColumnType("")
	for _, f := range files {
		switch f.values[i].(type) {
		case nil:
		case int64, bool:
			if t == "" {
				t = Integer
			}
		case float64:
			if t != Text {
				t = Real
			}
		default:
			t = Text
		}
	}
	if t == "" {
		return Text
	}
	return t
}

// writeRegistry creates the registry at p.
func writeRegistry(ctx context.Context, p, table string, cols []string, types []ColumnType, nkeys int, files []*file, meta [][2]string, res *BuildResult) error {
	db, err := sql.Open("sqlite3", p)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var defs, keyCols, qcols []string
	for i, c := range cols {
		defs = append(defs, quoteIdent(c)+" "+string(types[i]))
		qcols = append(qcols, quoteIdent(c))
		if i < nkeys {
			keyCols = append(keyCols, quoteIdent(c))
		}
	}
	stmts := []string{
		fmt.Sprintf("CREATE TABLE %s (id INTEGER PRIMARY KEY AUTOINCREMENT, %s, UNIQUE(%s))",
			quoteIdent(table), strings.Join(defs, ", "), strings.Join(keyCols, ", ")),
		fmt.Sprintf("CREATE TABLE %s (key TEXT PRIMARY KEY, value TEXT)", MetaTable),
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	ins, err := tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteIdent(table),
		strings.Join(qcols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")))
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, f := range files {
		if _, err := ins.ExecContext(ctx, f.values...); err != nil {
			return fmt.Errorf("inserting %q: %w", f.name, err)
		}
	}
	res.Rows = len(files)
	for _, kv := range meta {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+MetaTable+" (key, value) VALUES (?, ?)", kv[0], kv[1]); err != nil {
			return err
		}
	}
	if slices.Contains(cols[:nkeys], "visit") {
		if err := writeVisitTable(ctx, tx, table, cols, types, res); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// writeVisitTable creates <table>_visit with one row per visit and the
// columns that never vary within a visit (nor are NULL for some of its
// files only), as the LSST registries' raw_visit.
func writeVisitTable(ctx context.Context, tx *sql.Tx, table string, cols []string, types []ColumnType, res *BuildResult) error {
	q := quoteIdent(table)
	keep := []string{quoteIdent("visit")}
	defs := []string{quoteIdent("visit") + " INTEGER"}
	res.VisitCols = []string{"visit"}
	for i, c := range cols {
		if c == "visit" {
			continue
		}
		qc := quoteIdent(c)
		var one int
		err := tx.QueryRowContext(ctx, fmt.Sprintf(
			"SELECT 1 FROM %s GROUP BY visit HAVING COUNT(DISTINCT %s) > 1 OR (COUNT(%s) > 0 AND COUNT(%s) < COUNT(*)) LIMIT 1",
			q, qc, qc, qc)).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			keep = append(keep, qc)
			defs = append(defs, qc+" "+string(types[i]))
			res.VisitCols = append(res.VisitCols, c)
		case err != nil:
			return err
		}
	}
	vt := quoteIdent(table + "_visit")
	for _, s := range []string{
		fmt.Sprintf("CREATE TABLE %s (%s, UNIQUE(visit))", vt, strings.Join(defs, ", ")),
		fmt.Sprintf("INSERT INTO %s SELECT DISTINCT %s FROM %s ORDER BY visit", vt, strings.Join(keep, ", "), q),
	} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+vt).Scan(&res.Visits)
}

// upload puts the file at p as object name with its MD5, create-only
// unless overwrite.
func upload(ctx context.Context, c swiftclient.Client, p, name string, overwrite bool, now time.Time) (swiftclient.ObjectInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return swiftclient.ObjectInfo{}, err
	}
	defer f.Close()
	h := md5.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return swiftclient.ObjectInfo{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	info, err := c.Put(ctx, name, f, size, swiftclient.PutOptions{
		ContentType: "application/vnd.sqlite3",
		// The convention of rclone, ncw/swift and swiftfs: seconds.nanoseconds.
		Meta:        map[string]string{"mtime": fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())},
		MD5:         sum,
		IfNoneMatch: !overwrite,
	})
	if errors.Is(err, swiftclient.ErrPreconditionFailed) {
		return info, fmt.Errorf("%q already exists in the container; pass --force to replace it (rows it holds that the template cannot rebuild, e.g. from an ingest, are lost): %w", name, err)
	}
	if err != nil {
		return info, fmt.Errorf("uploading %q: %w", name, err)
	}
	if info.ETag != "" && !strings.EqualFold(info.ETag, sum) {
		return info, fmt.Errorf("uploading %q: Swift stored ETag %s, the file's MD5 is %s", name, info.ETag, sum)
	}
	if info.Size == 0 {
		info.Size = size
	}
	return info, nil
}

// CheckOptions configure Check.
type CheckOptions struct {
	Prefix string // "" or "dir/"
	Name   string // the registry relative to Prefix (default DefaultRegistryName)
	// Template and Table override those recorded by Build (needed for a
	// registry built by other tools).
	Template string
	Table    string
	TempDir  string // default os.TempDir()
	// MaxNames caps the names listed in CheckResult.Missing and .Orphans
	// (default 20; the counts are always complete).
	MaxNames int
}

// TableCount is a table's row count.
type TableCount struct {
	Name string
	Rows int64
}

// CheckResult is what Check found.
type CheckResult struct {
	Object     string
	Size       int64
	ETag       string
	QuickCheck string // "ok", or SQLite's first complaints
	Tables     []TableCount
	Template   string // "" when none was recorded or given
	Table      string
	Matching   int      // objects that match the template
	Missing    []string // some objects that match the template but have no row
	NumMissing int
	// Orphans are rows whose object is gone (their keys, as text).
	Orphans    []string
	NumOrphans int
}

// ErrCheckFailed is returned by Check when the registry is damaged or out
// of date with the container; the CheckResult says how.
var ErrCheckFailed = errors.New("registry check failed")

// Check downloads the registry, runs PRAGMA quick_check on it, counts the
// rows of every table and, when a template is known (recorded by Build or
// given), lists the objects that match it but have no row, and the rows
// whose object is gone. A damaged registry, missing rows or orphan rows
// give an error wrapping ErrCheckFailed along with the full result.
func Check(ctx context.Context, c swiftclient.Client, opts CheckOptions) (CheckResult, error) {
	if opts.Name == "" {
		opts.Name = DefaultRegistryName
	}
	if opts.MaxNames <= 0 {
		opts.MaxNames = 20
	}
	res := CheckResult{Object: opts.Prefix + opts.Name}
	tmpDir := opts.TempDir
	if tmpDir == "" {
		tmpDir = os.TempDir()
	}
	tmp, err := os.CreateTemp(tmpDir, "swiftfs-registry-check-*.sqlite3")
	if err != nil {
		return res, err
	}
	defer os.Remove(tmp.Name())
	rc, info, err := c.Get(ctx, res.Object, 0, -1)
	if err != nil {
		tmp.Close()
		return res, fmt.Errorf("downloading %q: %w", res.Object, err)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	rc.Close()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("downloading %q: %w", res.Object, err)
	}
	res.Size, res.ETag = n, info.ETag
	if sum := hex.EncodeToString(h.Sum(nil)); !info.LargeObject && info.ETag != "" && !strings.EqualFold(sum, info.ETag) {
		return res, fmt.Errorf("downloading %q: content MD5 %s differs from its ETag %s", res.Object, sum, info.ETag)
	}
	if n == 0 {
		res.QuickCheck = "ok"
		return res, fmt.Errorf("%q is empty (a database with no tables): %w", res.Object, ErrCheckFailed)
	}
	if err := quickCheck(ctx, tmp.Name()); err != nil {
		var ce *corruptError
		if errors.As(err, &ce) {
			res.QuickCheck = ce.msg
			return res, fmt.Errorf("%q: %v: %w", res.Object, err, ErrCheckFailed)
		}
		return res, err
	}
	res.QuickCheck = "ok"

	db, err := openReadOnly(tmp.Name())
	if err != nil {
		return res, err
	}
	defer db.Close()
	if res.Tables, err = countTables(ctx, db); err != nil {
		return res, err
	}
	recorded := readMeta(ctx, db)
	res.Template, res.Table = firstNonEmpty(opts.Template, recorded["template"]), firstNonEmpty(opts.Table, recorded["table"], "raw")
	if res.Template == "" {
		return res, nil
	}
	tmpl, err := ParseTemplate(res.Template)
	if err != nil {
		return res, err
	}
	rows, err := registryTuples(ctx, db, res.Table, tmpl)
	if err != nil {
		return res, err
	}
	var br BuildResult
	files, err := matchObjects(ctx, c, opts.Prefix, tmpl, func(rel string) bool { return rel == opts.Name }, &br)
	if err != nil {
		return res, err
	}
	res.Matching = len(files)
	for _, f := range files {
		k := tupleKey(f.values)
		if _, ok := rows[k]; ok {
			delete(rows, k)
			continue
		}
		res.NumMissing++
		if len(res.Missing) < opts.MaxNames {
			res.Missing = append(res.Missing, f.name)
		}
	}
	res.NumOrphans = len(rows)
	for _, desc := range rows {
		res.Orphans = append(res.Orphans, desc)
	}
	slices.Sort(res.Orphans)
	if len(res.Orphans) > opts.MaxNames {
		res.Orphans = res.Orphans[:opts.MaxNames]
	}
	if res.NumMissing > 0 || res.NumOrphans > 0 {
		return res, fmt.Errorf("%q is out of date: %d matching objects have no row, %d rows have no object: %w",
			res.Object, res.NumMissing, res.NumOrphans, ErrCheckFailed)
	}
	return res, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func countTables(ctx context.Context, db *sql.DB) ([]TableCount, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []TableCount
	for _, n := range names {
		tc := TableCount{Name: n}
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(n)).Scan(&tc.Rows); err != nil {
			return nil, err
		}
		out = append(out, tc)
	}
	return out, nil
}

// readMeta returns the swiftfs_meta rows (none when the table is absent).
func readMeta(ctx context.Context, db *sql.DB) map[string]string {
	out := map[string]string{}
	rows, err := db.QueryContext(ctx, "SELECT key, value FROM "+MetaTable)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if rows.Scan(&k, &v) == nil {
			out[k] = v
		}
	}
	return out
}

// registryTuples returns the key tuples of the table's rows (tupleKey →
// a readable description).
func registryTuples(ctx context.Context, db *sql.DB, table string, t *Template) (map[string]string, error) {
	var qcols, names []string
	for _, k := range t.Keys() {
		qcols = append(qcols, quoteIdent(k.Key))
		names = append(names, k.Key)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(qcols, ", "), quoteIdent(table)))
	if err != nil {
		return nil, fmt.Errorf("reading the keys %s of table %q: %w", strings.Join(names, ", "), table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	keys := t.Keys()
	for rows.Next() {
		vals := make([]any, len(keys))
		ptrs := make([]any, len(keys))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var desc []string
		for i, k := range keys {
			vals[i] = normalize(vals[i], k.Type)
			desc = append(desc, fmt.Sprintf("%s=%v", k.Key, vals[i]))
		}
		out[tupleKey(vals)] = strings.Join(desc, " ")
	}
	return out, rows.Err()
}

// normalize converts a value read from SQLite to the Go type Match gives
// for a key of type t, so that tuples compare equal.
func normalize(v any, t ColumnType) any {
	switch x := v.(type) {
	case []byte:
		v = string(x)
	}
	switch t {
	case Integer:
		switch x := v.(type) {
		case float64:
			if x == float64(int64(x)) {
				return int64(x)
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n
			}
		}
	case Real:
		switch x := v.(type) {
		case int64:
			return float64(x)
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f
			}
		}
	case Text:
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10)
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	}
	return v
}
