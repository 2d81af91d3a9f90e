//go:build integration && linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// conflictScript drives two mounts of one container with Python's sqlite3
// (the Butler's registry access). Each step prints one line.
const conflictScript = `
import os, sqlite3, subprocess, sys
a, b, swiftfs, step = sys.argv[1:5]

def sync(m):
    subprocess.run([swiftfs, "sync", m], check=True, stdout=subprocess.DEVNULL)

def make(path, v):
    con = sqlite3.connect(path)
    con.execute("create table t (v integer)")
    con.execute("insert into t values (?)", (v,))
    con.commit()
    con.close()

def add(path, v):
    con = sqlite3.connect(path)
    con.execute("insert into t values (?)", (v,))
    con.commit()
    con.close()

if step == "setup":
    for d in ("reg", "reg2"):
        os.makedirs(os.path.join(a, d))
        make(os.path.join(a, d, "registry.sqlite3"), 1)
    sync(a)
    print("A wrote version 1 of both")
elif step == "update":
    # B holds the registry open (its copy is version 1) while A commits
    # version 2; then B commits on top of version 1.
    cb = sqlite3.connect(os.path.join(b, "reg/registry.sqlite3"))
    print("B read", sorted(r[0] for r in cb.execute("select v from t")))
    add(os.path.join(a, "reg/registry.sqlite3"), 2)
    sync(a)
    try:
        cb.execute("insert into t values (3)")
        cb.commit()
        print("B commit: ok")
    except sqlite3.Error as e:
        print("B commit: error:", e)
    cb.close()
elif step == "rename":
    # B knows version 1, A commits version 2, B renames an uploaded
    # rebuild over the name (pipe_tasks ingest's idiom).
    print("B sees", os.stat(os.path.join(b, "reg2/registry.sqlite3")).st_size > 0)
    add(os.path.join(a, "reg2/registry.sqlite3"), 2)
    sync(a)
    tmp = os.path.join(b, "reg2/registry.sqlite3.rebuild")
    make(tmp, 9)
    sync(b)
    try:
        os.rename(tmp, os.path.join(b, "reg2/registry.sqlite3"))
        print("B rename: ok")
    except OSError as e:
        print("B rename: error:", e.errno == 5)
    print("B rebuild kept", os.path.exists(tmp))
elif step == "rows":
    con = sqlite3.connect(a)
    print(sorted(r[0] for r in con.execute("select v from t")))
`

// TestRegistryConflictTwoMounts: two mounts write one registry; neither
// silently loses the other's version (docs/SEMANTICS.md, Consistency).
func TestRegistryConflictTwoMounts(t *testing.T) {
	if _, err := os.Stat(butlerPython); err != nil {
		t.Skipf("needs %s with its sqlite3 module: %v", butlerPython, err)
	}
	name, c := newContainer(t)
	ma := startMount(t, name, "")
	var mb *mount
	py := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(butlerPython, append([]string{"-c", conflictScript}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			blog := ""
			if mb != nil {
				blog = mb.log.String()
			}
			t.Fatalf("python %v: %v\n%s\nmount A log:\n%s\nmount B log:\n%s", args, err, out, ma.log.String(), blog)
		}
		return strings.TrimSpace(string(out))
	}
	py(ma.dir, "", binary, "setup")
	// B trusts its listings for a minute: it keeps believing in the
	// version it saw, as a busy node would between two listings.
	mb = startMount(t, name, "", "--metadata-ttl", "60s")
	rows := func(object string) string {
		t.Helper()
		data, _ := getObject(t, c, object)
		f := filepath.Join(t.TempDir(), "db")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return py(f, "", "", "rows")
	}
	conflicts := func(prefix string) []string {
		var out []string
		for _, n := range listNames(t, c, prefix) {
			if strings.Contains(n, ".conflict-") {
				out = append(out, n)
			}
		}
		return out
	}

	t.Run("update", func(t *testing.T) {
		out := py(ma.dir, mb.dir, binary, "update")
		t.Logf("%s", out)
		// SQLite fsyncs the database while its journal still exists, so
		// the upload (and the conflict) comes after the commit: swiftfs
		// sync reports it.
		sync, err := exec.Command(binary, "sync", mb.dir).CombinedOutput()
		t.Logf("swiftfs sync B: %v\n%s", err, sync)
		if err == nil || !strings.Contains(string(sync), "conflict") {
			t.Errorf("swiftfs sync of mount B should fail and name the conflict copy; got %v:\n%s", err, sync)
		}
		if got := rows("reg/registry.sqlite3"); got != "[1, 2]" {
			t.Errorf("Swift's registry.sqlite3 has rows %s, want A's [1, 2]", got)
		}
		cs := conflicts("reg/")
		if len(cs) != 1 {
			t.Fatalf("want one conflict copy of B's version, have %q\nmount B log:\n%s", cs, mb.log.String())
		}
		if got := rows(cs[0]); got != "[1, 3]" {
			t.Errorf("conflict copy %s has rows %s, want B's [1, 3]", cs[0], got)
		}
		if !strings.Contains(mb.log.String(), "conflict copy") {
			t.Error("mount B's log does not say it diverted the upload to a conflict copy")
		}
	})

	t.Run("rename_over", func(t *testing.T) {
		out := py(ma.dir, mb.dir, binary, "rename")
		t.Logf("%s", out)
		if !strings.Contains(out, "B rename: error: True") {
			t.Errorf("B's rename over a registry A changed should fail with EIO:\n%s", out)
		}
		if !strings.Contains(out, "B rebuild kept True") {
			t.Errorf("B's rebuild should keep its name after the refused rename:\n%s", out)
		}
		if got := rows("reg2/registry.sqlite3"); got != "[1, 2]" {
			t.Errorf("Swift's reg2/registry.sqlite3 has rows %s, want A's [1, 2]", got)
		}
		if got := rows("reg2/registry.sqlite3.rebuild"); got != "[9]" {
			t.Errorf("B's rebuild in Swift has rows %s, want [9]", got)
		}
	})
}
