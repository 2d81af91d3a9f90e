//go:build integration && linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A directory rename is journaled: the daemon is killed (SIGKILL, through
// the test hook SWIFTFS_TEST_CRASH_AFTER_RENAME_COPIES) after k of its n
// objects were moved, which leaves the tree split in Swift; the next mount
// finishes the rename before it serves anything, and the whole tree is
// under the new name, nothing under the old.
func TestDirRenameCrashFinishedByNextMount(t *testing.T) {
	container, client := newContainer(t)
	cacheDir := t.TempDir()
	const k = 6
	t.Setenv("SWIFTFS_TEST_CRASH_AFTER_RENAME_COPIES", fmt.Sprint(k))
	m := startMount(t, container, cacheDir)
	for _, d := range []string{"tree", "tree/sub", "tree/sub/deep"} {
		if err := os.Mkdir(m.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{} // path under the tree -> content
	for i := range 30 {
		rel := []string{"f", "sub/g", "sub/deep/h"}[i%3] + fmt.Sprintf("-%02d", i)
		want[rel] = fmt.Sprintf("file %d of the tree\n", i)
		putObject(t, client, "tree/"+rel, want[rel], "text/plain")
	}
	objects := len(listNames(t, client, "tree/"))
	t.Setenv("SWIFTFS_TEST_CRASH_AFTER_RENAME_COPIES", "")

	err := os.Rename(m.path("tree"), m.path("moved"))
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the daemon was not killed by the test hook (rename: %v)\n%s", err, m.log.String())
	}
	syscall.Unmount(m.dir, syscall.MNT_DETACH)
	m.cmd = nil
	t.Logf("rename during the crash: %v", err)
	old, moved := listNames(t, client, "tree/"), listNames(t, client, "moved/")
	t.Logf("after the crash: %d objects under tree/, %d under moved/ (of %d)", len(old), len(moved), objects)
	if len(old) == 0 || len(moved) == 0 {
		t.Fatalf("the crash did not come half-way: %d under tree/, %d under moved/", len(old), len(moved))
	}
	journals, _ := filepath.Glob(filepath.Join(cacheDir, "*", "renames", "*.json"))
	if len(journals) != 1 {
		t.Fatalf("%d rename journals in the cache directory, want 1", len(journals))
	}

	m = startMount(t, container, cacheDir)
	if !strings.Contains(m.log.String(), "finishing a directory rename interrupted by a crash") {
		t.Errorf("the daemon log does not say the rename was finished:\n%s", grepLog(m.log.String(), "rename"))
	}
	if names := listNames(t, client, "tree/"); len(names) > 0 {
		t.Errorf("still under the old name in Swift: %v", names)
	}
	moved = listNames(t, client, "moved/")
	if len(moved) != objects {
		t.Errorf("%d objects under moved/ in Swift, want %d: %v", len(moved), objects, moved)
	}
	for rel, content := range want {
		if got, _ := getObject(t, client, "moved/"+rel); string(got) != content {
			t.Errorf("moved/%s in Swift: %q, want %q", rel, got, content)
		}
		if got, err := os.ReadFile(m.path("moved/" + rel)); err != nil || string(got) != content {
			t.Errorf("moved/%s through the mount: %q, %v", rel, got, err)
		}
	}
	ents, err := os.ReadDir(m.path(""))
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, e := range ents {
		top = append(top, e.Name())
	}
	if !slices.Equal(top, []string{"moved"}) {
		t.Errorf("the mount's root holds %v, want [moved]", top)
	}
	for _, d := range []string{"moved/sub", "moved/sub/deep"} {
		if st, err := os.Stat(m.path(d)); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if journals, _ := filepath.Glob(filepath.Join(cacheDir, "*", "renames", "*.json")); len(journals) != 0 {
		t.Errorf("journals left after the rename was finished: %v", journals)
	}
}
