//go:build integration && linux

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

func mustWrite(t *testing.T, p string, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func TestWriteReadRemount(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "")
	data := strings.Repeat("swiftfs ", 100000)
	mustWrite(t, m.path("a.txt"), data, 0o640)
	st, err := os.Stat(m.path("a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(len(data)) || st.Mode().Perm() != 0o640 {
		t.Errorf("stat: got size %d mode %v, want %d 0640", st.Size(), st.Mode(), len(data))
	}
	if got := mustRead(t, m.path("a.txt")); got != data {
		t.Errorf("read back differs")
	}
	m.sync()
	b, info := getObject(t, c, "a.txt")
	if string(b) != data {
		t.Errorf("object content differs (len %d)", len(b))
	}
	if !strings.Contains(info.ContentType, "swiftfs_mode=640") || info.Meta["mtime"] == "" {
		t.Errorf("attributes not stored: content type %q, meta %v", info.ContentType, info.Meta)
	}
	m.stop()
	m2 := startMount(t, name, "")
	if got := mustRead(t, m2.path("a.txt")); got != data {
		t.Errorf("after remount with an empty cache: content differs")
	}
	st2, _ := os.Stat(m2.path("a.txt"))
	if st2.Mode().Perm() != 0o640 || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("after remount: mode %v mtime %v, want 0640 %v", st2.Mode(), st2.ModTime(), st.ModTime())
	}
}

// The Butler's write-temp-then-rename: one upload under the final name.
func TestTempRenameUploadsOnce(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "", "--write-back-delay", "2s")
	if err := os.MkdirAll(m.path("calexp/v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := m.path("calexp/v1/x.fitsab12cd34")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("payload")
	f.Close()
	if err := os.Rename(tmp, m.path("calexp/v1/x.fits")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.path("calexp/v1/x.fits"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.sync()
	names := listNames(t, c, "calexp/")
	want := []string{"calexp/", "calexp/v1/", "calexp/v1/x.fits"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("objects: got %v, want %v", names, want)
	}
	_, info := getObject(t, c, "calexp/v1/x.fits")
	if !strings.Contains(info.ContentType, "swiftfs_mode=644") {
		t.Errorf("chmod after rename not stored: %q", info.ContentType)
	}
	if !strings.Contains(m.log.String(), `msg=uploaded object=calexp/v1/x.fits`) || strings.Contains(m.log.String(), "x.fitsab12cd34 bytes") {
		t.Errorf("expected exactly one upload under the final name; log:\n%s", grepLog(m.log.String(), "uploaded"))
	}
}

func grepLog(log, s string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestOpenFlags(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "")
	p := m.path("f")
	mustWrite(t, p, "0123456789", 0o644)
	if _, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, os.ErrExist) {
		t.Errorf("O_EXCL on existing: got %v, want EEXIST", err)
	}
	// O_APPEND
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("ab")
	f.Close()
	if got := mustRead(t, p); got != "0123456789ab" {
		t.Errorf("append: got %q", got)
	}
	// O_RDWR random writes, backward seek, pread/pwrite
	f, err = os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XY"), 20)
	f.WriteAt([]byte("Z"), 1)
	f.Seek(0, 0)
	buf := make([]byte, 3)
	f.ReadAt(buf, 0)
	if string(buf) != "0Z2" {
		t.Errorf("pread after pwrite: got %q", buf)
	}
	if end, _ := f.Seek(0, 2); end != 22 {
		t.Errorf("SEEK_END: got %d, want 22", end)
	}
	f.Close()
	want := "0Z23456789ab" + strings.Repeat("\x00", 8) + "XY"
	if got := mustRead(t, p); got != want {
		t.Errorf("random writes: got %q, want %q", got, want)
	}
	// ftruncate
	f, _ = os.OpenFile(p, os.O_RDWR, 0)
	f.Truncate(4)
	f.Close()
	if got := mustRead(t, p); got != "0Z23" {
		t.Errorf("ftruncate: got %q", got)
	}
	// O_TRUNC
	f, _ = os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	f.WriteString("new")
	f.Close()
	m.sync()
	if b, _ := getObject(t, c, "f"); string(b) != "new" {
		t.Errorf("O_TRUNC in Swift: got %q", b)
	}
	// st_ino stable between stat and fstat; st_size exact after close
	f, _ = os.Open(p)
	var s1, s2 syscall.Stat_t
	syscall.Fstat(int(f.Fd()), &s1)
	syscall.Stat(p, &s2)
	f.Close()
	if s1.Ino != s2.Ino || s1.Size != 3 || s2.Nlink != 1 {
		t.Errorf("stat/fstat: ino %d vs %d, size %d, nlink %d", s1.Ino, s2.Ino, s1.Size, s2.Nlink)
	}
}

// Opening for write without writing uploads nothing.
func TestOpenForWriteWithoutWriting(t *testing.T) {
	name, c := newContainer(t)
	putObject(t, c, "keep", "remote", "text/plain")
	m := startMount(t, name, "")
	_, before := getObject(t, c, "keep")
	for _, fl := range []int{os.O_RDWR, os.O_WRONLY | os.O_APPEND, os.O_RDWR | os.O_CREATE} {
		f, err := os.OpenFile(m.path("keep"), fl, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	m.sync()
	time.Sleep(500 * time.Millisecond)
	_, after := getObject(t, c, "keep")
	if !after.LastModified.Equal(before.LastModified) || after.ContentType != "text/plain" {
		t.Errorf("object rewritten: %v/%q → %v/%q", before.LastModified, before.ContentType, after.LastModified, after.ContentType)
	}
}

func TestManyDescriptorsShareOneFile(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "")
	p := m.path("cfg.yaml")
	a, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(a.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	r, _ := os.Open(p)
	w, _ := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	w.WriteString("root: x\n")
	w.Close()
	b := make([]byte, 100)
	n, _ := r.ReadAt(b, 0)
	r.Close()
	a.Close()
	if string(b[:n]) != "root: x\n" {
		t.Errorf("second descriptor sees %q", b[:n])
	}
	m.sync()
	if got, _ := getObject(t, c, "cfg.yaml"); string(got) != "root: x\n" {
		t.Errorf("in Swift: %q", got)
	}
}

func TestDirectories(t *testing.T) {
	name, c := newContainer(t)
	putObject(t, c, "implicit/a/file", "x", "")
	m := startMount(t, name, "")
	if err := os.MkdirAll(m.path("empty/sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(m.path("empty/sub"))
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Fatalf("mkdir: %v %v", st, err)
	}
	if err := os.Remove(m.path("empty")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir non-empty: got %v, want ENOTEMPTY", err)
	}
	ents, _ := os.ReadDir(m.path("implicit"))
	if len(ents) != 1 || ents[0].Name() != "a" || !ents[0].IsDir() {
		t.Errorf("implicit dir: %v", ents)
	}
	// The last file of an implicit directory goes: the directory stays.
	if err := os.Remove(m.path("implicit/a/file")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(m.path("implicit/a")); err != nil || !st.IsDir() {
		t.Errorf("emptied implicit dir vanished: %v", err)
	}
	m.stop()
	m2 := startMount(t, name, "")
	for _, d := range []string{"empty/sub", "implicit/a"} {
		if st, err := os.Stat(m2.path(d)); err != nil || !st.IsDir() {
			t.Errorf("after remount %s: %v", d, err)
		}
	}
	if st, _ := os.Stat(m2.path("empty/sub")); st != nil && st.Mode().Perm() != 0o750 {
		t.Errorf("dir mode after remount: %v", st.Mode())
	}
	if err := os.Remove(m2.path("empty/sub")); err != nil {
		t.Errorf("rmdir: %v", err)
	}
	if _, err := os.Stat(m2.path("empty/sub")); !os.IsNotExist(err) {
		t.Errorf("after rmdir: %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "")
	os.Mkdir(m.path("b"), 0o755)
	os.Mkdir(m.path("a"), 0o755)
	mustWrite(t, m.path("b/_mapper"), "lsst.obs.test.TestMapper\n", 0o644)
	for target, link := range map[string]string{"../b": "a/_parent", "/nonexistent/abs": "dangling", m.path("b"): "absolute"} {
		if err := os.Symlink(target, m.path(link)); err != nil {
			t.Fatalf("symlink %s: %v", link, err)
		}
		if got, err := os.Readlink(m.path(link)); err != nil || got != target {
			t.Errorf("readlink %s: got %q %v, want %q", link, got, err, target)
		}
		if st, err := os.Lstat(m.path(link)); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("lstat %s: %v %v", link, st, err)
		}
	}
	if got := mustRead(t, m.path("a/_parent/_mapper")); got != "lsst.obs.test.TestMapper\n" {
		t.Errorf("through the link: %q", got)
	}
	if _, err := os.Stat(m.path("dangling")); !os.IsNotExist(err) {
		t.Errorf("dangling link stat: %v", err)
	}
	// symlink onto an existing name: EEXIST (the Butler's lock).
	if err := os.Symlink("x", m.path("a/_parent")); !errors.Is(err, os.ErrExist) {
		t.Errorf("symlink over existing: got %v, want EEXIST", err)
	}
	// FileForWriteOnceCompareSame: symlink(tmp, final), then rename(tmp, final).
	mustWrite(t, m.path("a/cfg.tmp123"), "content", 0o600)
	if err := os.Symlink("cfg.tmp123", m.path("a/cfg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m.path("a/cfg.tmp123"), m.path("a/cfg")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(m.path("a/cfg")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("after rename over symlink: %v %v", st, err)
	}
	ents, _ := os.ReadDir(m.path("a"))
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != "_parent,cfg" {
		t.Errorf("dir after lock idiom: %v", got)
	}
	m.sync()
	_, info := getObject(t, c, "a/_parent")
	if !strings.HasPrefix(info.ContentType, "application/link") {
		t.Errorf("symlink object content type %q", info.ContentType)
	}
	m.stop()
	m2 := startMount(t, name, "")
	if got, err := os.Readlink(m2.path("a/_parent")); err != nil || got != "../b" {
		t.Errorf("after remount readlink: %q %v", got, err)
	}
	if got := mustRead(t, m2.path("a/cfg")); got != "content" {
		t.Errorf("after remount a/cfg: %q", got)
	}
}

func TestRename(t *testing.T) {
	name, c := newContainer(t)
	putObject(t, c, "d/x", "X", "")
	putObject(t, c, "d/sub/y", "Y", "")
	putObject(t, c, "uploaded", "U", "")
	m := startMount(t, name, "")
	// uploaded file, across directories, over an existing file
	mustWrite(t, m.path("target"), "old", 0o644)
	if err := os.Rename(m.path("uploaded"), m.path("target")); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, m.path("target")); got != "U" {
		t.Errorf("renamed content: %q", got)
	}
	if err := os.Rename(m.path("target"), m.path("d/sub/t2")); err != nil {
		t.Fatal(err)
	}
	// directory rename
	if err := os.Rename(m.path("d"), m.path("e")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.path("d")); !os.IsNotExist(err) {
		t.Errorf("old dir still there: %v", err)
	}
	for p, want := range map[string]string{"e/x": "X", "e/sub/y": "Y", "e/sub/t2": "U"} {
		if got := mustRead(t, m.path(p)); got != want {
			t.Errorf("%s: got %q, want %q", p, got, want)
		}
	}
	m.sync()
	names := listNames(t, c, "")
	sort.Strings(names)
	if strings.Join(names, ",") != "e/sub/t2,e/sub/y,e/x" {
		t.Errorf("objects after renames: %v", names)
	}
}

func TestChmodUtimesPersist(t *testing.T) {
	if backend == "swifttest" {
		t.Skip("swifttest does not apply a POST's new content type to listings (real Swift does, and runs this test)")
	}
	name, _ := newContainer(t)
	m := startMount(t, name, "")
	mustWrite(t, m.path("f"), "x", 0o600)
	m.sync()
	mt := time.Date(2017, 3, 4, 5, 6, 7, 890000000, time.UTC)
	if err := os.Chtimes(m.path("f"), mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.path("f"), 0o664); err != nil {
		t.Fatal(err)
	}
	m.stop()
	m2 := startMount(t, name, "")
	st, err := os.Stat(m2.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o664 || !st.ModTime().Equal(mt) {
		t.Errorf("after remount: mode %v mtime %v, want 0664 %v", st.Mode(), st.ModTime(), mt)
	}
}

func TestLocksBetweenProcesses(t *testing.T) {
	name, _ := newContainer(t)
	m := startMount(t, name, "")
	p := m.path("lockfile")
	mustWrite(t, p, "", 0o644)
	a, _ := os.OpenFile(p, os.O_RDWR, 0)
	defer a.Close()
	if err := syscall.Flock(int(a.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("flock: %v", err)
	}
	// Another process must not get it.
	script := `import fcntl,sys
f=open(sys.argv[1],'r+')
try:
    fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB); print("flock-got")
except BlockingIOError: print("flock-busy")
try:
    fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB, 10, 0); print("lockf-got")
except (BlockingIOError, PermissionError): print("lockf-busy")`
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 10}
	if err := syscall.FcntlFlock(a.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatalf("fcntl lock: %v", err)
	}
	out, err := exec.Command("python3", "-c", script, p).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v %s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, ",") != "flock-busy,lockf-busy" {
		t.Errorf("other process: got %v, want flock-busy lockf-busy", got)
	}
}

func TestFsyncIsDurable(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "", "--write-back-delay", "1h")
	f, err := os.Create(m.path("db"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("durable")
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if b, _ := getObject(t, c, "db"); string(b) != "durable" {
		t.Errorf("after fsync, Swift has %q", b)
	}
	f.Close()
	d, _ := os.Open(m.dir)
	if err := d.Sync(); err != nil {
		t.Errorf("fsync of a directory: %v", err)
	}
	d.Close()
}

func TestOddObjectNames(t *testing.T) {
	name, c := newContainer(t)
	long := strings.Repeat("L", 300)
	for _, n := range []string{"a//b", "../up", "./dot", "dir/" + long, "clash", "clash/inner", "ok file %20 ü"} {
		putObject(t, c, n, "x", "")
	}
	m := startMount(t, name, "")
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(got)
	if strings.Join(got, "|") != "a|clash|dir|ok file %20 ü" {
		t.Errorf("root entries: %q", got)
	}
	if st, err := os.Stat(m.path("clash")); err != nil || !st.IsDir() {
		t.Errorf("clash should be a directory: %v", err)
	}
	if ents, _ := os.ReadDir(m.path("dir")); len(ents) != 0 {
		t.Errorf("over-long name shown: %v", ents)
	}
	if got := mustRead(t, m.path("ok file %20 ü")); got != "x" {
		t.Errorf("odd but valid name: %q", got)
	}
	// The cache directory holds no file named after an object.
	filepath.Walk(m.cacheDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "up") && !strings.HasSuffix(p, "lock") {
			t.Errorf("cache file named after an object: %s", p)
		}
		return nil
	})
}

func TestListingPagination(t *testing.T) {
	name, c := newContainer(t)
	// Past one page: 10,050 entries with the in-process server; against a
	// real Swift, where creating 10k objects takes minutes, 1,050 entries
	// in pages of 100.
	n, flags := 10050, []string{}
	if backend == "real" {
		n, flags = 1050, []string{"--list-page-size", "100"}
	}
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, fmt.Sprintf("big/%05d", i))
	}
	bulkCreate(t, name, c, names)
	m := startMount(t, name, "", flags...)
	ents, err := os.ReadDir(m.path("big"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Errorf("entries: got %d, want %d", len(ents), n)
	}
	// ls -l: stat of every entry comes from the listing, not a HEAD each.
	start := time.Now()
	out, err := exec.Command("ls", "-l", m.path("big")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(out), "\n"); lines != n+1 {
		t.Errorf("ls -l lines: %d", lines)
	}
	t.Logf("ls -l of %d entries: %v", n, time.Since(start))
	if heads := strings.Count(m.log.String(), "op=stat"); heads > 0 {
		t.Errorf("ls -l issued %d HEADs", heads)
	}
}

func TestCrashRecovery(t *testing.T) {
	name, c := newContainer(t)
	cacheDir := t.TempDir()
	m := startMount(t, name, cacheDir, "--write-back-delay", "1h")
	data := strings.Repeat("crash-safe ", 50000)
	mustWrite(t, m.path("pending.dat"), data, 0o644)
	os.MkdirAll(m.path("new/dir"), 0o755)
	mustWrite(t, m.path("new/dir/x"), "x", 0o644)
	m.kill9()
	if _, err := c.Stat(context.Background(), "pending.dat"); !errors.Is(err, swiftclient.ErrNotFound) {
		t.Fatalf("pending.dat should not be in Swift yet: %v", err)
	}
	m2 := startMount(t, name, cacheDir)
	if got := mustRead(t, m2.path("pending.dat")); got != data {
		t.Errorf("after kill -9 and remount: content differs: %d bytes, want %d\n%s", len(got), len(data), m2.log.String())
	}
	m2.sync()
	if b, _ := getObject(t, c, "pending.dat"); string(b) != data {
		t.Errorf("in Swift after recovery: %d bytes", len(b))
	}
	if b, _ := getObject(t, c, "new/dir/x"); string(b) != "x" {
		t.Errorf("new/dir/x after recovery: %q", b)
	}
}

func TestReadOnlyMount(t *testing.T) {
	name, c := newContainer(t)
	putObject(t, c, "r", "data", "")
	m := startMount(t, name, "", "--read-only")
	if got := mustRead(t, m.path("r")); got != "data" {
		t.Errorf("read: %q", got)
	}
	if err := os.WriteFile(m.path("w"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write on read-only mount: got %v, want EROFS", err)
	}
}

func TestRefusesBadCredentialsAndMissingContainer(t *testing.T) {
	name, _ := newContainer(t)
	cases := []struct {
		what   string
		target string
		env    []string
		want   string
	}{
		{"missing container", "no-such-container-xyz", nil, "does not exist"},
		{"wrong key", name, []string{"ST_KEY=wrong", "OS_PASSWORD=wrong"}, "auth"},
		{"unreachable", name, []string{"ST_AUTH=http://127.0.0.1:1/auth/v1.0", "OS_AUTH_URL=http://127.0.0.1:1/v3"}, "127.0.0.1:1"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		cmd := exec.Command(binary, "mount", "--cache-dir", t.TempDir(), tc.target, dir)
		e := append(filterEnv(os.Environ()), env...)
		for _, kv := range tc.env {
			k := kv[:strings.IndexByte(kv, '=')]
			if getenvFrom(env)(k) != "" {
				e = append(e, kv)
			}
		}
		cmd.Env = e
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%s: mount succeeded", tc.what)
			syscall.Unmount(dir, syscall.MNT_DETACH)
			continue
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: took %v to fail", tc.what, d)
		}
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if !strings.Contains(strings.ToLower(last), strings.ToLower(tc.want)) || !strings.HasPrefix(last, "swiftfs: error:") {
			t.Errorf("%s: last line %q should say %q", tc.what, last, tc.want)
		}
		for _, kv := range env {
			v := kv[strings.IndexByte(kv, '=')+1:]
			isSecret := strings.HasPrefix(kv, "ST_KEY=") || strings.HasPrefix(kv, "OS_PASSWORD=")
			// (swifttest's key equals its user name, which may be printed.)
			if isSecret && v != getenvFrom(env)("ST_USER") && strings.Contains(string(out), v) {
				t.Errorf("%s: the secret appears in the output", tc.what)
			}
		}
		if isMounted(dir) {
			t.Errorf("%s: left a mount", tc.what)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	}
}
