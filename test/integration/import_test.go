//go:build integration && linux

package integration

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// statEntry is everything of an entry a mount must show as the source
// has it.
type statEntry struct {
	Mode     uint32 // st_mode: type and permission bits
	UID, GID uint32
	Mtime    time.Time
	Size     int64  // files and symlinks
	Content  string // file MD5, symlink target, directory entry names
}

func (e statEntry) String() string {
	return fmt.Sprintf("mode %o uid %d gid %d mtime %s size %d %q", e.Mode, e.UID, e.GID,
		e.Mtime.Format(time.RFC3339Nano), e.Size, e.Content)
}

// statTree lstats everything under root, the root included (".").
func statTree(t *testing.T, root string) map[string]statEntry {
	t.Helper()
	tree := map[string]statEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		e := statEntry{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			des, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			var names []string
			for _, de := range des {
				names = append(names, de.Name())
			}
			sort.Strings(names)
			e.Content = strings.Join(names, ",")
		case syscall.S_IFLNK:
			e.Size = st.Size
			if e.Content, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFREG:
			e.Size = st.Size
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := md5.Sum(b)
			e.Content = hex.EncodeToString(sum[:])
		}
		tree[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return tree
}

// importSource makes a tree with what an import must keep: modes with
// setuid/setgid/sticky, other owners (when root), nanosecond mtimes,
// relative, absolute and dangling symlinks, empty and nested directories,
// and a file of three segments at --segment-size 1M (--slo-threshold 1M).
func importSource(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	big := make([]byte, 2<<20+12345)
	for i := range big {
		big[i] = byte(i*7 + i/4096)
	}
	files := []struct {
		rel  string
		data string
		mode os.FileMode
	}{
		{"README", "hello\n", 0o644},
		{"raw/v1/img_001.fits", strings.Repeat("F", 2880), 0o444},
		{"raw/v1/run.sh", "#!/bin/sh\necho hi\n", 0o755 | os.ModeSetuid},
		{"raw/big.bin", string(big), 0o600},
		{"raw/empty.txt", "", 0o640},
		{"odd name with spaces & %.txt", "odd", 0o604},
	}
	for i, f := range files {
		p := filepath.Join(src, f.rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, 1000+i, 2000+i); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range []struct {
		rel  string
		mode os.FileMode
	}{{"empty", 0o700}, {"shared", 0o777 | os.ModeSticky}, {"group", 0o750 | os.ModeSetgid}, {"deep/er/est", 0o711}} {
		p := filepath.Join(src, d.rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	for target, link := range map[string]string{"raw/v1/img_001.fits": "latest", "/etc/hostname": "abs", "no/such/file": "raw/dangling"} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(filepath.Join(src, "latest"), 4321, 8765); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(src, "group"), 3000, 3001); err != nil {
			t.Fatal(err)
		}
	}
	// mtimes last (creating an entry changes its directory's mtime;
	// setting times does not), with nanoseconds.
	tree := statTree(t, src)
	rels := make([]string, 0, len(tree))
	for rel := range tree {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for i, rel := range rels {
		ts := unix.NsecToTimespec(time.Unix(1500000000+int64(i)*86400, int64(i)*111111111%1e9).UnixNano())
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, rel), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func runImport(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"import", "--progress", "lines", "--progress-interval", "1s"}, args...)...)
	cmd.Env = append(filterEnv(os.Environ()), env...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("swiftfs import: %v", err)
	}
	return o.String(), e.String(), code
}

func listTimes(t *testing.T, c swiftclient.Client) map[string]time.Time {
	t.Helper()
	m := map[string]time.Time{}
	err := swiftclient.ListPages(context.Background(), c, swiftclient.ListOptions{}, func(p []swiftclient.ObjectInfo) error {
		for _, o := range p {
			m[o.Name] = o.LastModified
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// swiftfs import of a tree, then a mount of it: every entry shows with the
// source's type, mode, owner, mtime, size and content. A second import
// writes nothing; a source with a FIFO fails with its path listed, after
// importing the rest.
func TestImportMountShowsSource(t *testing.T) {
	if backend == "swifttest" {
		t.Skip("swifttest has no Static Large Objects and does not apply a POST's new content type to listings (real Swift does, and runs this test)")
	}
	name, c := newContainer(t)
	src := importSource(t)
	want := statTree(t, src)

	out, errOut, code := runImport(t, "--segment-size", "1M", "--slo-threshold", "1M", src, name+":pre/fix")
	if code != 0 {
		t.Fatalf("import exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "imported 6 files") || !strings.Contains(out, "failed: 0") {
		t.Errorf("summary:\n%s", out)
	}
	if segs := listNames(t, c, ".swiftfs-segments/"); len(segs) != 3 {
		t.Errorf("segments of the 2 MiB file at --segment-size 1M: %q", segs)
	}
	if info, err := c.Stat(context.Background(), "pre/fix/raw/big.bin"); err != nil || !info.SLO {
		t.Errorf("raw/big.bin: SLO %v, %v", info.SLO, err)
	}

	m := startMount(t, name+":pre/fix", "", "--read-only")
	got := statTree(t, m.dir)
	compareStats(t, want, got)
	m.stop()

	// Again: all skipped, no object written.
	before := listTimes(t, c)
	out, errOut, code = runImport(t, "--segment-size", "1M", "--slo-threshold", "1M", src, name+":pre/fix")
	if code != 0 || !strings.Contains(out, "imported 0 files (0 B), 0 directories, 0 symlinks") ||
		!strings.Contains(out, fmt.Sprintf("skipped %d unchanged", len(want))) {
		t.Errorf("second import exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if after := listTimes(t, c); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the second import changed objects:\nbefore %v\nafter  %v", before, after)
	}

	// A FIFO cannot be stored: exit status 1, its path in the summary;
	// a new file next to it and a chmod are imported all the same.
	if err := syscall.Mkfifo(filepath.Join(src, "raw/pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(src, "raw/new.txt"), "new", 0o644)
	if err := os.Chmod(filepath.Join(src, "README"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runImport(t, "--segment-size", "1M", "--slo-threshold", "1M", src, name+":pre/fix")
	if code != 1 || !strings.Contains(out, "FAILED: 1") || !strings.Contains(out, "raw/pipe: FIFO") ||
		!strings.Contains(out, "1 with new attributes only") || !strings.Contains(errOut, "import incomplete") {
		t.Errorf("import with a FIFO exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if b, _ := getObject(t, c, "pre/fix/raw/new.txt"); string(b) != "new" {
		t.Errorf("raw/new.txt in Swift: %q", b)
	}
	// The mount shows the rest as the source has it (the FIFO aside).
	want = statTree(t, src)
	delete(want, "raw/pipe")
	raw := want["raw"]
	raw.Content = strings.Replace(raw.Content, ",pipe", "", 1)
	want["raw"] = raw
	m = startMount(t, name+":pre/fix", "", "--read-only")
	compareStats(t, want, statTree(t, m.dir))
}

func compareStats(t *testing.T, want, got map[string]statEntry) {
	t.Helper()
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing on the mount (source: %v)", p, w))
			continue
		}
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s:\n  source %v\n  mount  %v", p, w, g))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: on the mount only: %v", p, g))
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

// swiftfs sync --progress drains the queue like sync and reports on
// stderr; the objects are in Swift when it returns.
func TestSyncProgress(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "", "--write-back-delay", "1h")
	for i := range 3 {
		mustWrite(t, m.path(fmt.Sprintf("f%d", i)), strings.Repeat("x", 100000*(i+1)), 0o644)
	}
	cmd := exec.Command(binary, "sync", "--progress=lines", "--progress-interval", "1ms", m.dir)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil || !strings.Contains(o.String(), "in Swift") {
		t.Fatalf("sync --progress: %v\nstdout:\n%s\nstderr:\n%s", err, o.String(), e.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(e.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "sync: ") {
			t.Errorf("stderr line not a progress line: %q", l)
		}
	}
	for i := range 3 {
		if b, _ := getObject(t, c, fmt.Sprintf("f%d", i)); len(b) != 100000*(i+1) {
			t.Errorf("f%d: %d bytes in Swift after sync", i, len(b))
		}
	}
}
