//go:build integration && linux

package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashScript: "base" makes a registry of 100 rows; "open" starts a big
// transaction whose pages spill into the database file (a hot journal),
// says so, and waits to be killed; "check" prints the row count and
// SQLite's integrity check.
const crashScript = `
import sqlite3, sys, time
path, step = sys.argv[1:3]
if step == "base":
    con = sqlite3.connect(path)
    con.execute("create table t (k integer primary key, v blob)")
    con.executemany("insert into t (v) values (?)", [(b"x" * 100,) for _ in range(100)])
    con.commit()
    con.close()
    print("base written", flush=True)
elif step == "open":
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("pragma cache_size = 10")
    con.execute("begin")
    con.executemany("insert into t (v) values (?)", [(b"y" * 3000,) for _ in range(2000)])
    print("transaction open", flush=True)
    time.sleep(600)
elif step == "check":
    con = sqlite3.connect(path)
    n = con.execute("select count(*) from t").fetchone()[0]
    ok = con.execute("pragma integrity_check").fetchone()[0]
    con.close()
    print("rows %d integrity %s" % (n, ok), flush=True)
`

// TestSQLiteHotJournalAfterCrash: the daemon is killed (-9) in the middle
// of an SQLite transaction whose pages already went into the database
// file. The journal (a local-only file) must survive the restart, so that
// SQLite rolls the transaction back, and nothing half-written reaches
// Swift.
func TestSQLiteHotJournalAfterCrash(t *testing.T) {
	if _, err := os.Stat(butlerPython); err != nil {
		t.Skipf("needs %s with its sqlite3 module: %v", butlerPython, err)
	}
	name, c := newContainer(t)
	cacheDir := t.TempDir()
	m := startMount(t, name, cacheDir)
	if err := os.Mkdir(m.path("reg"), 0o755); err != nil {
		t.Fatal(err)
	}
	db := "reg/registry.sqlite3"
	py := func(path, step string) string {
		t.Helper()
		out, err := exec.Command(butlerPython, "-c", crashScript, path, step).CombinedOutput()
		if err != nil {
			t.Fatalf("python %s: %v\n%s", step, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	py(m.path(db), "base")
	m.sync()

	writer := exec.Command(butlerPython, "-c", crashScript, m.path(db), "open")
	stdout, _ := writer.StdoutPipe()
	writer.Stderr = os.Stderr
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer writer.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Scan()
		line <- sc.Text()
	}()
	select {
	case l := <-line:
		if l != "transaction open" {
			t.Fatalf("writer said %q", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("writer did not open its transaction\n%s", m.log.String())
	}
	var journal int64
	if st, err := os.Stat(m.path(db + "-journal")); err == nil {
		journal = st.Size()
	}
	if journal == 0 {
		t.Fatalf("no hot journal next to the database during the transaction")
	}
	m.kill9()
	writer.Process.Kill()
	writer.Wait()

	m2 := startMount(t, name, cacheDir)
	if st, err := os.Stat(m2.path(db + "-journal")); err != nil || st.Size() != journal {
		t.Errorf("after kill -9 and remount the journal should still be there with %d bytes: %v %v\n%s", journal, st, err, m2.log.String())
	}
	if got := py(m2.path(db), "check"); got != "rows 100 integrity ok" {
		t.Errorf("through the mount after the crash: %s, want the 100 rows from before the transaction\n%s", got, m2.log.String())
	}
	if _, err := os.Stat(m2.path(db + "-journal")); !os.IsNotExist(err) {
		t.Errorf("SQLite should have rolled back and removed the journal: %v", err)
	}
	m2.sync()
	data, _ := getObject(t, c, db)
	f := filepath.Join(t.TempDir(), "registry.sqlite3")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := py(f, "check"); got != "rows 100 integrity ok" {
		t.Errorf("in Swift after recovery: %s\n%s", got, m2.log.String())
	}
	for _, n := range listNames(t, c, "reg/") {
		if strings.HasSuffix(n, "-journal") {
			t.Errorf("journal uploaded: %s", n)
		}
	}
}
