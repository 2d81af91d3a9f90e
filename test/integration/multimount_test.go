//go:build integration && linux

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// defaultTTL is --metadata-ttl's default; SEMANTICS.md promises another
// mount's change is visible after at most that plus 1 s.
const defaultTTL = 30 * time.Second

// startMounts runs n swiftfs processes, each with its own cache
// directory, on one container, with the default flags (startMount's
// short test delays undone).
func startMounts(t *testing.T, container string, n int) []*mount {
	t.Helper()
	ms := make([]*mount, n)
	for i := range ms {
		ms[i] = startMount(t, container, "", "--write-back-delay", "3s", "--metadata-ttl", defaultTTL.String())
	}
	return ms
}

// conflictCopies lists the conflict copies of object in Swift.
func conflictCopies(t *testing.T, names []string, object string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, object+".conflict-") {
			out = append(out, n)
		}
	}
	return out
}

// TestMultiMount: three mounts of one container, default flags. Whatever
// two writers do to one name, nothing is lost: one version keeps the name,
// every other is in a conflict copy, and the writer whose version lost is
// told (EIO at fsync, `swiftfs sync` fails naming the copy, `swiftfs
// status` lists it, one WARN line).
func TestMultiMount(t *testing.T) {
	if backend == "swifttest" {
		t.Skip("waits --metadata-ttl (31 s): run on the real Swift only (it-v1); the swifttest proxy's If-None-Match is covered by swiftclient's conformance suite")
	}
	name, c := newContainer(t)
	// Everything the mounts start from is in Swift before they list it.
	putObject(t, c, "append/log.txt", "base\n", "")
	putObject(t, c, "over/data.txt", "v0\n", "")
	putObject(t, c, "new/.keep", "", "")
	putObject(t, c, "lock/.keep", "", "")
	putObject(t, c, "vis/.keep", "", "")
	ms := startMounts(t, name, 3)
	labels := []string{"A", "B", "C"}

	// Visibility: every mount lists vis/ now; A creates a file there; after
	// --metadata-ttl plus 1 s every mount sees it (checked at the end, the
	// other subtests run meanwhile).
	for _, m := range ms {
		if _, err := os.ReadDir(m.path("vis")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(ms[0].path("vis/new.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A creates a registry too, which B sees after --metadata-ttl.
	_, pyErr := os.Stat(butlerPython)
	py := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(butlerPython, append([]string{"-c", conflictScript}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("python %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if pyErr == nil {
		py(ms[0].dir, "", binary, "setup") // syncs A
	} else {
		ms[0].sync()
	}
	visibleAt := time.Now().Add(defaultTTL + time.Second)

	t.Run("appends", func(t *testing.T) {
		// The observed loss: each mount appends its line to one log, then
		// `swiftfs sync` on each.
		for i, m := range ms {
			f, err := os.OpenFile(m.path("append/log.txt"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Fprintf(f, "line from %s\n", labels[i]); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("close on %s: %v", labels[i], err)
			}
		}
		var failed []int
		for i, m := range ms {
			out, err := exec.Command(binary, "sync", m.dir).CombinedOutput()
			if err != nil {
				failed = append(failed, i)
				if !strings.Contains(string(out), "append/log.txt.conflict-") {
					t.Errorf("swiftfs sync on %s failed without naming the conflict copy:\n%s", labels[i], out)
				}
				st, err := exec.Command(binary, "status", m.dir).CombinedOutput()
				if err != nil || !strings.Contains(string(st), "append/log.txt.conflict-") {
					t.Errorf("swiftfs status on %s does not list the conflict copy (%v):\n%s", labels[i], err, st)
				}
				if n := strings.Count(m.log.String(), "level=WARN msg=\"upload diverted to a conflict copy"); n != 1 {
					t.Errorf("mount %s logged %d conflict WARN lines, want 1", labels[i], n)
				}
			}
		}
		if len(failed) != 2 {
			t.Errorf("%d of 3 syncs failed, want 2 (every upload after the first one is a conflict)", len(failed))
		}
		names := listNames(t, c, "append/")
		copies := conflictCopies(t, names, "append/log.txt")
		if len(copies) != 2 {
			t.Fatalf("conflict copies %q, want 2", copies)
		}
		var all []string
		for _, o := range append([]string{"append/log.txt"}, copies...) {
			data, _ := getObject(t, c, o)
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != 2 || lines[0] != "base" {
				t.Errorf("%s holds %q, want base and one mount's line", o, data)
			}
			all = append(all, lines[1:]...)
		}
		slices.Sort(all)
		if want := []string{"line from A", "line from B", "line from C"}; !slices.Equal(all, want) {
			t.Errorf("lines in Swift %q, want %q: one was lost", all, want)
		}
		// A second sync has nothing more to report.
		for i, m := range ms {
			if out, err := exec.Command(binary, "sync", m.dir).CombinedOutput(); err != nil {
				t.Errorf("second swiftfs sync on %s: %v\n%s", labels[i], err, out)
			}
		}
	})

	t.Run("overwrites", func(t *testing.T) {
		// Each mount read v0 and rewrites the file whole; fsync uploads in
		// order: A's version wins, B's and C's fsync fail with EIO.
		files := make([]*os.File, len(ms))
		for i, m := range ms {
			if _, err := os.ReadFile(m.path("over/data.txt")); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(m.path("over/data.txt"), os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fmt.Fprintf(f, "v1 from %s\n", labels[i])
			files[i] = f
		}
		for i, f := range files {
			err := f.Sync()
			if want := i > 0; (err != nil) != want || (err != nil && !errors.Is(err, syscall.EIO)) {
				t.Errorf("fsync on %s: %v, want EIO %v", labels[i], err, want)
			}
		}
		if data, _ := getObject(t, c, "over/data.txt"); string(data) != "v1 from A\n" {
			t.Errorf("over/data.txt holds %q, want A's version", data)
		}
		copies := conflictCopies(t, listNames(t, c, "over/"), "over/data.txt")
		var got []string
		for _, o := range copies {
			data, _ := getObject(t, c, o)
			got = append(got, string(data))
		}
		slices.Sort(got)
		if want := []string{"v1 from B\n", "v1 from C\n"}; !slices.Equal(got, want) {
			t.Errorf("conflict copies %q hold %q, want %q\nC's log:\n%s", copies, got, want, ms[2].log.String())
		}
	})

	t.Run("same_new_name", func(t *testing.T) {
		// A name none of the mounts saw in Swift, created on two: the
		// second upload (If-None-Match: *) finds the first.
		var fs []*os.File
		for i, m := range ms[:2] {
			f, err := os.Create(m.path("new/made.txt"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fmt.Fprintf(f, "made by %s\n", labels[i])
			fs = append(fs, f)
		}
		if err := fs[0].Sync(); err != nil {
			t.Fatalf("fsync on A: %v", err)
		}
		if err := fs[1].Sync(); !errors.Is(err, syscall.EIO) {
			t.Errorf("fsync on B: %v, want EIO (A created the name first)", err)
		}
		if data, _ := getObject(t, c, "new/made.txt"); string(data) != "made by A\n" {
			t.Errorf("new/made.txt holds %q, want A's", data)
		}
		copies := conflictCopies(t, listNames(t, c, "new/"), "new/made.txt")
		if len(copies) != 1 {
			t.Fatalf("conflict copies %q, want 1", copies)
		}
		if data, _ := getObject(t, c, copies[0]); string(data) != "made by B\n" {
			t.Errorf("%s holds %q, want B's", copies[0], data)
		}
		fs[1].Close()
		// B now reads A's version under the name.
		if data, err := os.ReadFile(ms[1].path("new/made.txt")); err != nil || string(data) != "made by A\n" {
			t.Errorf("B reads new/made.txt as %q (%v), want A's version", data, err)
		}
	})

	t.Run("symlink_lock", func(t *testing.T) {
		// The Butler's lock: symlink() succeeds on one mount; the others,
		// whose listings (taken before) do not show the name, get EEXIST
		// from Swift (If-None-Match: *). Swift checks it when a PUT
		// begins, so creates whose PUTs overlap can both succeed
		// (docs/SEMANTICS.md): the mounts take the lock in turn here.
		for _, m := range ms {
			if _, err := os.ReadDir(m.path("lock")); err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range ms {
			err := os.Symlink("owner-"+labels[i], m.path("lock/held"))
			if want := i > 0; (err != nil) != want || (err != nil && !errors.Is(err, os.ErrExist)) {
				t.Errorf("symlink on %s: %v, want EEXIST %v", labels[i], err, want)
			}
		}
		if data, _ := getObject(t, c, "lock/held"); string(data) != "owner-A" {
			t.Errorf("the lock in Swift holds %q, want A's", data)
		}
	})

	t.Run("registry", func(t *testing.T) {
		if pyErr != nil {
			t.Skipf("needs %s with its sqlite3 module: %v", butlerPython, pyErr)
		}
		// B, whose listing of the root is older than the registry, sees
		// it after --metadata-ttl; then B holds the version it read open
		// while A commits on top, and commits on top of the old one.
		dir := t.TempDir()
		waitVisible(t, ms[1], "reg/registry.sqlite3")
		t.Log(py(ms[0].dir, ms[1].dir, binary, "update"))
		out, err := exec.Command(binary, "sync", ms[1].dir).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "registry.sqlite3.conflict-") {
			t.Errorf("swiftfs sync of B should fail naming the registry's conflict copy; got %v:\n%s", err, out)
		}
		rows := func(object string) string {
			data, _ := getObject(t, c, object)
			f := filepath.Join(dir, "db")
			os.WriteFile(f, data, 0o600)
			return py(f, "", "", "rows")
		}
		if got := rows("reg/registry.sqlite3"); got != "[1, 2]" {
			t.Errorf("reg/registry.sqlite3 has rows %s, want A's [1, 2]", got)
		}
		copies := conflictCopies(t, listNames(t, c, "reg/"), "reg/registry.sqlite3")
		if len(copies) != 1 {
			t.Fatalf("conflict copies %q, want 1", copies)
		}
		if got := rows(copies[0]); got != "[1, 3]" {
			t.Errorf("%s has rows %s, want B's [1, 3]", copies[0], got)
		}
	})

	t.Run("visible_after_ttl", func(t *testing.T) {
		time.Sleep(time.Until(visibleAt))
		for i, m := range ms[1:] {
			data, err := os.ReadFile(m.path("vis/new.txt"))
			if err != nil || string(data) != "hello\n" {
				t.Errorf("mount %s reads vis/new.txt %q (%v) after --metadata-ttl plus 1 s, want A's file", labels[i+1], data, err)
			}
			ents, err := os.ReadDir(m.path("vis"))
			if err != nil || !slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "new.txt" }) {
				t.Errorf("mount %s does not list vis/new.txt after --metadata-ttl plus 1 s (%v)", labels[i+1], err)
			}
		}
	})
}

// waitVisible waits until m sees p (another mount's new file appears
// within --metadata-ttl plus 1 s).
func waitVisible(t *testing.T, m *mount, p string) {
	t.Helper()
	deadline := time.Now().Add(defaultTTL + time.Second)
	for {
		if _, err := os.Stat(m.path(p)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not visible on %s after --metadata-ttl plus 1 s", p, m.dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
