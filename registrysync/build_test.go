package registrysync

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

const rawTemplate = "raw/raw_v%(visit)d_f%(filter)s_c%(ccd)02d.fits.gz"

// visitFilter is the filter of each of the test repository's visits.
var visitFilter = map[int]string{1: "g", 2: "r", 3: "i", 4: "g", 5: "z"}

// fillRepo puts 5 visits × 4 CCDs of raw files under prefix, plus names
// the template must not match.
func fillRepo(f *swiftfake.Fake, prefix string, content func(visit, ccd int) []byte) {
	for v := 1; v <= 5; v++ {
		for c := 0; c < 4; c++ {
			name := fmt.Sprintf("%sraw/raw_v%d_f%s_c%02d.fits.gz", prefix, v, visitFilter[v], c)
			f.PutRaw(name, content(v, c), "application/gzip", nil)
		}
	}
	for _, n := range []string{
		"_mapper", "repositoryCfg.yaml", "raw/", "raw/README", "raw/raw_v1_fg_c00.fits", // not .gz
		"raw/raw_vX_fg_c00.fits.gz", "raw/sub/raw_v1_fg_c00.fits.gz", "calexp/v1.fits",
	} {
		f.PutRaw(prefix+n, []byte("x"), "", nil)
	}
	f.PutRaw("elsewhere/raw/raw_v9_fg_c00.fits.gz", []byte("outside the prefix"), "", nil)
}

// download fetches an object into a local file.
func download(t *testing.T, f *swiftfake.Fake, name string) string {
	t.Helper()
	data, ok := f.Data(name)
	if !ok {
		t.Fatalf("%s is not in Swift (objects: %q)", name, f.Names())
	}
	p := filepath.Join(t.TempDir(), "registry.sqlite3")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func query(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func TestBuild(t *testing.T) {
	fake := swiftfake.New()
	fake.ListMaxPage = 7 // several listing pages
	fillRepo(fake, "repo/", func(v, c int) []byte { return []byte("not read") })
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := Build(context.Background(), fake, BuildOptions{Prefix: "repo/", Template: rawTemplate,
		TempDir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Object != "repo/registry.sqlite3" || res.Rows != 20 || res.Visits != 5 || res.Unmatched != 7 || res.Listed != 28 {
		t.Errorf("result: got %+v; want 20 rows, 5 visits, 7 unmatched of 28 listed in repo/registry.sqlite3", res)
	}
	if fmt.Sprint(res.VisitCols) != "[visit filter]" {
		t.Errorf("visit table columns: got %q, want visit and filter (ccd varies within a visit)", res.VisitCols)
	}
	data, _ := fake.Data("repo/registry.sqlite3")
	info, err := fake.Stat(context.Background(), "repo/registry.sqlite3")
	if err != nil || info.ETag != res.ETag || info.Size != int64(len(data)) || info.ContentType != "application/vnd.sqlite3" || info.Meta["mtime"] != "1767323045.000000000" {
		t.Errorf("uploaded object: got %+v, %v; result %+v", info, err, res)
	}

	db, err := openReadOnly(download(t, fake, "repo/registry.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checks := []struct{ q, want string }{
		{"SELECT DISTINCT visit, filter FROM raw ORDER BY visit", "1,g 2,r 3,i 4,g 5,z"},
		{"SELECT DISTINCT visit FROM raw WHERE filter = ? ORDER BY visit", "1 4"},
		{"SELECT DISTINCT ccd FROM raw WHERE visit = 2 AND filter = 'r' ORDER BY ccd", "0 1 2 3"},
		{"SELECT COUNT(*), COUNT(DISTINCT id) FROM raw", "20,20"},
		{"SELECT typeof(visit), typeof(filter), typeof(ccd) FROM raw LIMIT 1", "integer,text,integer"},
		{"SELECT visit, filter FROM raw_visit ORDER BY visit", "1,g 2,r 3,i 4,g 5,z"},
		{"SELECT raw.visit FROM raw, raw_visit WHERE raw.visit = raw_visit.visit AND raw.ccd = 1 ORDER BY raw.visit", "1 2 3 4 5"},
		{"SELECT value FROM swiftfs_meta WHERE key = 'template'", rawTemplate},
		{"SELECT value FROM swiftfs_meta WHERE key = 'built_at'", "2026-01-02T03:04:05Z"},
		{"PRAGMA journal_mode", "delete"},
	}
	for _, c := range checks {
		var args []any
		if strings.Contains(c.q, "?") {
			args = append(args, "g")
		}
		if got := query(t, db, c.q, args...); got != c.want {
			t.Errorf("%s: got %q, want %q", c.q, got, c.want)
		}
	}

	// A second build does not replace the registry unless told to.
	_, err = Build(context.Background(), fake, BuildOptions{Prefix: "repo/", Template: rawTemplate, TempDir: t.TempDir()})
	if !errors.Is(err, swiftclient.ErrPreconditionFailed) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second build: got %v, want a refusal naming --force", err)
	}
	fake.PutRaw("repo/raw/raw_v6_fr_c00.fits.gz", []byte("new"), "", nil)
	res, err = Build(context.Background(), fake, BuildOptions{Prefix: "repo/", Template: rawTemplate, TempDir: t.TempDir(), Overwrite: true})
	if err != nil || res.Rows != 21 || res.Visits != 6 {
		t.Errorf("build with Overwrite: got %+v, %v; want 21 rows, 6 visits", res, err)
	}
}

func TestBuildOptionsErrors(t *testing.T) {
	fake := swiftfake.New()
	fillRepo(fake, "", func(v, c int) []byte { return nil })
	cases := []struct {
		opts BuildOptions
		want string
	}{
		{BuildOptions{Template: "raw/raw_v%d.fits"}, "has no key"},
		{BuildOptions{Template: "nothing/%(visit)d.fits"}, "no object under"},
		{BuildOptions{Template: "raw/raw_v%(id)d_f%(filter)s_c%(ccd)02d.fits.gz"}, "same column as the row id"},
		{BuildOptions{Template: rawTemplate, FITSKeywords: []string{"FILTER"}}, `FITS keyword "FILTER" would be the same column as template key "filter"`},
		{BuildOptions{Template: rawTemplate, Table: "raw; DROP TABLE x"}, "not allowed"},
		{BuildOptions{Template: rawTemplate, Table: "swiftfs_meta"}, "not allowed"},
	}
	for _, c := range cases {
		c.opts.TempDir = t.TempDir()
		_, err := Build(context.Background(), fake, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build(%+v): got %v, want an error containing %q", c.opts, err, c.want)
		}
	}
	if names := fake.Names(); strings.Contains(strings.Join(names, " "), "registry.sqlite3") {
		t.Errorf("a failed build uploaded something: %q", names)
	}

	fake.Fault = func(op, name string) error {
		if op == "list" {
			return &swiftclient.Error{Kind: swiftclient.ErrUnauthorized, Op: op, Status: 401}
		}
		return nil
	}
	if _, err := Build(context.Background(), fake, BuildOptions{Template: rawTemplate}); !errors.Is(err, swiftclient.ErrUnauthorized) {
		t.Errorf("Build with a failing listing: got %v, want ErrUnauthorized", err)
	}
}

// fitsHeader builds one header of 80-character cards, padded to a whole
// number of 2880-byte blocks.
func fitsHeader(cards ...string) []byte {
	var b bytes.Buffer
	for _, c := range append(cards, "END") {
		b.WriteString(fmt.Sprintf("%-80s", c))
	}
	for b.Len()%fitsBlock != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

func kv(key, value string) string { return fmt.Sprintf("%-8s= %20s", key, value) }

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestBuildFITSKeywords(t *testing.T) {
	fake := swiftfake.New()
	// Raw files: a primary header with the keywords, a 2880-byte image, and
	// a header long enough (3 blocks) that a first small ranged GET does not
	// hold it; gzip-compressed.
	fillRepo(fake, "", func(v, c int) []byte {
		cards := []string{kv("SIMPLE", "T"), kv("BITPIX", "16"), kv("NAXIS", "2"), kv("NAXIS1", "36"), kv("NAXIS2", "40")}
		for i := 0; i < 90; i++ {
			cards = append(cards, fmt.Sprintf("COMMENT padding card %d", i))
		}
		cards = append(cards,
			kv("EXPTIME", fmt.Sprintf("%d.5", v))+" / exposure time [s]",
			kv("DATE-OBS", fmt.Sprintf("'2016-01-0%dT00:00:00'", v)),
			kv("CCDNUM", fmt.Sprint(c)),
			kv("SATURATE", "T"),
			kv("OBJECT", "'it''s M31  '"),
			"HIERARCH ESO DET DIT = 0.25 / HIERARCH keyword",
		)
		if v == 5 {
			cards = append(cards, kv("AIRMASS", "1.25D0"))
		}
		data := make([]byte, 2880)
		if v == 1 && c == 0 {
			data = make([]byte, 512<<10) // incompressible: must not be fetched
			rand.Read(data)
		}
		return gz(append(fitsHeader(cards...), data...))
	})
	// A tile-compressed style file: keywords in the first extension,
	// not compressed.
	fake.PutRaw("raw/raw_v7_fr_c00.fits.gz", append(
		fitsHeader(kv("SIMPLE", "T"), kv("BITPIX", "8"), kv("NAXIS", "0"), kv("EXTEND", "T")),
		fitsHeader(kv("XTENSION", "'BINTABLE'"), kv("BITPIX", "8"), kv("NAXIS", "2"), kv("NAXIS1", "8"),
			kv("NAXIS2", "1"), kv("PCOUNT", "0"), kv("GCOUNT", "1"), kv("TFIELDS", "1"), kv("ZIMAGE", "T"),
			kv("EXPTIME", "30.0"), kv("DATE-OBS", "'2016-01-07T00:00:00'"), kv("CCDNUM", "0"))...), "", nil)
	// Not FITS at all, and a header without END: their columns stay NULL.
	fake.PutRaw("raw/raw_v8_fr_c00.fits.gz", gz([]byte("plain text, not FITS")), "", nil)
	fake.PutRaw("raw/raw_v9_fr_c00.fits.gz", fitsHeader(kv("SIMPLE", "T"))[:2880*1-80], "", nil)

	counter := &countingClient{Client: fake, bytes: map[string]int64{}}
	kw := []string{"EXPTIME", "DATE-OBS", "CCDNUM", "SATURATE", "OBJECT", "ESO DET DIT", "AIRMASS", "MISSING"}
	res, err := Build(context.Background(), counter, BuildOptions{Template: rawTemplate, FITSKeywords: kw, TempDir: t.TempDir(), Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 23 || fmt.Sprint(res.HeaderFailures) != "[raw/raw_v8_fr_c00.fits.gz raw/raw_v9_fr_c00.fits.gz]" {
		t.Errorf("result: got %+v; want 23 rows and header failures for visits 8 and 9", res)
	}
	// Headers are read with small ranged GETs: the 512 KiB file costs the
	// first chunks only.
	if n := counter.bytes["raw/raw_v1_fg_c00.fits.gz"]; n > 64<<10 {
		t.Errorf("%d bytes fetched to read a header of 8640 bytes", n)
	}
	if gets := fake.Count("get"); gets > 30 {
		t.Errorf("%d GETs for 23 headers", gets)
	}

	db, err := openReadOnly(download(t, fake, "registry.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checks := []struct{ q, want string }{
		{`SELECT visit, ccd, EXPTIME, "DATE-OBS", CCDNUM, SATURATE, OBJECT, "ESO DET DIT" FROM raw WHERE visit = 2 AND ccd = 3`,
			"2,3,2.5,2016-01-02T00:00:00,3,1,it's M31,0.25"},
		{`SELECT typeof(EXPTIME), typeof("DATE-OBS"), typeof(CCDNUM), typeof(SATURATE), typeof(MISSING) FROM raw WHERE visit = 1 AND ccd = 0`,
			"real,text,integer,integer,null"},
		{`SELECT AIRMASS FROM raw WHERE AIRMASS IS NOT NULL GROUP BY AIRMASS`, "1.25"},
		{`SELECT EXPTIME, "DATE-OBS" FROM raw WHERE visit = 7`, "30,2016-01-07T00:00:00"},
		{`SELECT COUNT(*) FROM raw WHERE visit IN (8, 9) AND EXPTIME IS NULL`, "2"},
		// Visit-level columns: those that never vary within a visit.
		{`SELECT group_concat(name) FROM pragma_table_info('raw_visit')`, "visit,filter,EXPTIME,DATE-OBS,SATURATE,OBJECT,ESO DET DIT,AIRMASS,MISSING"},
		{`SELECT visit, EXPTIME FROM raw_visit WHERE visit <= 2 ORDER BY visit`, "1,1.5 2,2.5"},
		{"SELECT value FROM swiftfs_meta WHERE key = 'fits_keywords'", strings.Join(kw, ",")},
	}
	for _, c := range checks {
		if got := query(t, db, c.q); got != c.want {
			t.Errorf("%s: got %q, want %q", c.q, got, c.want)
		}
	}
}

// countingClient counts the bytes read by GETs, per object.
type countingClient struct {
	swiftclient.Client
	mu    sync.Mutex
	bytes map[string]int64
}

func (c *countingClient) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, swiftclient.ObjectInfo, error) {
	rc, info, err := c.Client.Get(ctx, name, off, length)
	if err != nil {
		return rc, info, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	c.mu.Lock()
	c.bytes[name] += int64(len(b))
	c.mu.Unlock()
	return io.NopCloser(bytes.NewReader(b)), info, err
}

func TestBuildFITSReadFailure(t *testing.T) {
	fake := swiftfake.New()
	fillRepo(fake, "", func(v, c int) []byte { return gz(fitsHeader(kv("SIMPLE", "T"))) })
	fake.Fault = func(op, name string) error {
		if op == "get" && strings.Contains(name, "_v3_") {
			return &swiftclient.Error{Kind: swiftclient.ErrForbidden, Op: op, Name: name, Status: 403}
		}
		return nil
	}
	_, err := Build(context.Background(), fake, BuildOptions{Template: rawTemplate, FITSKeywords: []string{"EXPTIME"}, TempDir: t.TempDir()})
	if !errors.Is(err, swiftclient.ErrForbidden) || !strings.Contains(err.Error(), "_v3_") {
		t.Errorf("got %v; want the GET failure, naming the object", err)
	}
	if _, ok := fake.Data("registry.sqlite3"); ok {
		t.Errorf("a registry was uploaded after a failed header read")
	}
}

func TestCheck(t *testing.T) {
	fake := swiftfake.New()
	fillRepo(fake, "repo/", func(v, c int) []byte { return nil })
	ctx := context.Background()
	if _, err := Build(ctx, fake, BuildOptions{Prefix: "repo/", Template: rawTemplate, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	res, err := Check(ctx, fake, CheckOptions{Prefix: "repo/", TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.QuickCheck != "ok" || res.Template != rawTemplate || res.Table != "raw" || res.Matching != 20 || res.NumMissing != 0 || res.NumOrphans != 0 ||
		fmt.Sprint(res.Tables) != "[{raw 20} {raw_visit 5} {swiftfs_meta 6}]" {
		t.Errorf("check of a fresh registry: got %+v", res)
	}

	// New raw files, and one gone: out of date.
	fake.PutRaw("repo/raw/raw_v6_fr_c00.fits.gz", nil, "", nil)
	fake.PutRaw("repo/raw/raw_v6_fr_c01.fits.gz", nil, "", nil)
	fake.Delete(ctx, "repo/raw/raw_v1_fg_c03.fits.gz", swiftclient.DeleteOptions{})
	res, err = Check(ctx, fake, CheckOptions{Prefix: "repo/", TempDir: t.TempDir(), MaxNames: 1})
	if !errors.Is(err, ErrCheckFailed) || res.NumMissing != 2 || fmt.Sprint(res.Missing) != "[repo/raw/raw_v6_fr_c00.fits.gz]" ||
		res.NumOrphans != 1 || fmt.Sprint(res.Orphans) != "[visit=1 filter=g ccd=3]" {
		t.Errorf("check of an out-of-date registry: got %+v, %v", res, err)
	}

	// A registry without swiftfs_meta (built by another tool): counts only,
	// unless a template is given.
	p := filepath.Join(t.TempDir(), "other.sqlite3")
	db, err := sql.Open("sqlite3", p)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, "CREATE TABLE raw (id INTEGER PRIMARY KEY, visit INT, filter TEXT, ccd INT)")
	exec(t, db, "INSERT INTO raw (visit, filter, ccd) VALUES (6, 'r', 0), (6, 'r', 1)")
	db.Close()
	b, _ := os.ReadFile(p)
	fake.PutRaw("repo/other.sqlite3", b, "", nil)
	res, err = Check(ctx, fake, CheckOptions{Prefix: "repo/", Name: "other.sqlite3", TempDir: t.TempDir()})
	if err != nil || res.Template != "" || fmt.Sprint(res.Tables) != "[{raw 2}]" {
		t.Errorf("check without a recorded template: got %+v, %v", res, err)
	}
	res, err = Check(ctx, fake, CheckOptions{Prefix: "repo/", Name: "other.sqlite3", Template: rawTemplate, TempDir: t.TempDir()})
	if !errors.Is(err, ErrCheckFailed) || res.Matching != 21 || res.NumMissing != 19 || res.NumOrphans != 0 {
		t.Errorf("check with a template given: got %+v, %v", res, err)
	}

	// Damaged and missing registries.
	b[len(b)-4096+8] ^= 0xff
	b[len(b)-4096+9] ^= 0xff
	fake.PutRaw("repo/registry.sqlite3", b, "", nil)
	res, err = Check(ctx, fake, CheckOptions{Prefix: "repo/", TempDir: t.TempDir()})
	if !errors.Is(err, ErrCheckFailed) || res.QuickCheck == "ok" {
		t.Errorf("check of a damaged registry: got %+v, %v", res, err)
	}
	_, err = Check(ctx, fake, CheckOptions{Prefix: "nowhere/", TempDir: t.TempDir()})
	if !errors.Is(err, swiftclient.ErrNotFound) {
		t.Errorf("check of a missing registry: got %v, want ErrNotFound", err)
	}
}
