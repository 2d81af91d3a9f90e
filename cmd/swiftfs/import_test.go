package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/importer"
)

func TestImportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import"}, 2, "import needs SRC_DIR and CONTAINER[:PREFIX]"},
		{[]string{"import", dir}, 2, "import needs SRC_DIR and CONTAINER[:PREFIX]"},
		{[]string{"import", "--progress", "fancy", dir, "c"}, 2, `must be auto, bar, lines or none`},
		{[]string{"import", "--segment-size", "10G", dir, "c"}, 2, "between 1M and 5G"},
		{[]string{"import", "--uploaders", "0", dir, "c"}, 2, "must be at least 1"},
		{[]string{"import", dir, "a/b"}, 2, `invalid container name "a/b"`},
		{[]string{"import", dir + "/missing", "c"}, 1, "no such file or directory"},
		{[]string{"import", "--help"}, 0, "Usage: swiftfs import"},
		{[]string{"sync", "--progress=fancy", dir}, 2, "must be auto, bar or lines"},
		{[]string{"sync", "--progress"}, 2, "usage: swiftfs sync [--progress] MOUNTPOINT"},
		{[]string{"sync", "--progress", dir}, 1, "no swiftfs mount at"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("run(%q): got code %d, output %q; want code %d containing %q", c.args, code, out.String()+errb.String(), c.code, c.want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "import", "lines", time.Hour)
	if p.bar != nil {
		t.Fatal("--progress lines drew a bar")
	}
	start := p.start
	cases := []struct {
		s    progressState
		at   time.Duration
		want string
	}{
		{progressState{filesTotal: 10, bytesTotal: 4 << 20, note: "scanning"}, time.Second,
			"import: 0/10 files, 0 B/4.0 MiB, 0 B/s (scanning)"},
		{progressState{filesDone: 5, filesTotal: 10, bytesDone: 2 << 20, bytesTotal: 4 << 20}, 2 * time.Second,
			"import: 5/10 files, 2.0 MiB/4.0 MiB, 1.0 MiB/s, ETA 2s"},
		{progressState{filesDone: 9, filesTotal: 10, bytesDone: 4 << 20, bytesTotal: 4 << 20, failed: 1}, 4 * time.Second,
			"import: 9/10 files, 4.0 MiB/4.0 MiB, 1.0 MiB/s, 1 failed"},
	}
	for _, c := range cases {
		if got := p.line(c.s, start.Add(c.at)); got != c.want {
			t.Errorf("line(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
	// update prints no line before the interval.
	p.update(cases[1].s)
	if b.Len() != 0 {
		t.Errorf("a line before the interval: %q", b.String())
	}
	if newProgress(&b, "import", "none", time.Second) != nil {
		t.Error("--progress none made a display")
	}
}

func TestDrainProgress(t *testing.T) {
	var d drainProgress
	dirty := func(n int, bytes int64) *cache.Stats {
		s := &cache.Stats{DirtyBytes: bytes}
		for range n {
			s.Dirty = append(s.Dirty, cache.FileState{})
		}
		return s
	}
	steps := []struct {
		st   *cache.Stats
		want progressState
	}{
		{dirty(4, 400), progressState{filesDone: 0, filesTotal: 4, bytesDone: 0, bytesTotal: 400}},
		{dirty(3, 250), progressState{filesDone: 1, filesTotal: 4, bytesDone: 150, bytesTotal: 400}},
		{dirty(5, 500), progressState{filesDone: 0, filesTotal: 5, bytesDone: 0, bytesTotal: 500}}, // more written meanwhile
		{dirty(0, 0), progressState{filesDone: 5, filesTotal: 5, bytesDone: 500, bytesTotal: 500}},
	}
	for i, s := range steps {
		if got := d.sample(s.st); got != s.want {
			t.Errorf("step %d: %+v, want %+v", i, got, s.want)
		}
	}
}

func TestImportSummary(t *testing.T) {
	r := importer.Result{Files: 3, Bytes: 3 << 20, Dirs: 2, Symlinks: 1, Skipped: 4, SkippedBytes: 1024, Updated: 1,
		Elapsed: 2 * time.Second, NotImported: []string{"r.db-wal"}}
	for i := range maxListed + 5 {
		r.Failed = append(r.Failed, importer.Failure{Path: fmt.Sprintf("f%d", i), Err: errors.New("boom")})
	}
	var b bytes.Buffer
	printImportSummary(&b, r)
	for _, want := range []string{
		"imported 3 files (3.0 MiB), 2 directories, 1 symlinks in 2s (1.5 MiB/s)\n",
		"skipped 4 unchanged (1.0 KiB), 1 with new attributes only (POST)\n",
		"not imported: 1 SQLite side files (a mount keeps them local)\n  r.db-wal\n",
		"FAILED: 25\n  f0: boom\n", "  f19: boom\n  ... and 5 more\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
