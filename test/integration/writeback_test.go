//go:build integration && linux

package integration

import (
	"bytes"
	"context"
	"crypto/md5"
	byteorder "encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// These tests exercise the write-back queue of package cache through a
// real mount and a real Swift: an outage of Swift during writes, token
// expiry during long uploads, and a 6 GiB file (SLO). The first two stop,
// start or reconfigure the Swift they run against, so they run only when
// SAIO_DIR names a Swift started by test/integration/saio/swift.sh (the
// same SAIO_* variables as for its start); the 6 GiB test runs only with
// SWIFTFS_TEST_LARGE=1. `make it-writeback` (part of `make test`) starts
// such a Swift and runs all three, with SWIFTFS_TEST_REQUIRE_WRITEBACK=1 so
// that they fail rather than skip. By hand:
//
//	export SAIO_DIR=/tmp/saio-wb SAIO_PORT=8096 SAIO_MEMCACHED_PORT=11296 \
//	    SAIO_OBJECT_PORT=6302 SAIO_CONTAINER_PORT=6303 SAIO_ACCOUNT_PORT=6304
//	SAIO_TOKEN_LIFE=5 test/integration/saio/swift.sh start
//	eval "$(test/integration/saio/swift.sh env)"
//	SAIO_TOKEN_LIFE=5 go test -tags integration -count=1 -p 1 -v \
//	    -run 'TestWriteback(SwiftOutage|TokenExpiry)$' ./test/integration/

// skipOrFail skips t, or fails it when SWIFTFS_TEST_REQUIRE_WRITEBACK=1
// (make it-writeback, hence CI: a skipped write-back test is a failure there).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SWIFTFS_TEST_REQUIRE_WRITEBACK") == "1" {
		t.Fatalf("SWIFTFS_TEST_REQUIRE_WRITEBACK=1, but the test cannot run: "+format, args...)
	}
	t.Skipf(format, args...)
}

// requireOwnSAIO skips unless the tests run against a Swift that
// saio/swift.sh manages through the SAIO_* variables in the environment.
func requireOwnSAIO(t *testing.T) {
	t.Helper()
	if backend != "real" {
		skipOrFail(t, "needs a real Swift (SWIFTFS_TEST_BACKEND=real)")
	}
	dir := os.Getenv("SAIO_DIR")
	if dir == "" {
		skipOrFail(t, "set SAIO_DIR (and SAIO_PORT etc.) to the Swift started by test/integration/saio/swift.sh: this test stops and starts it")
	}
	port := os.Getenv("SAIO_PORT")
	if port == "" {
		port = "8080"
	}
	if auth := getenvFrom(env)("ST_AUTH"); !strings.Contains(auth, ":"+port+"/") {
		skipOrFail(t, "ST_AUTH %q is not the Swift of SAIO_DIR=%s (port %s)", auth, dir, port)
	}
	if out, err := saioCommand("status"); err != nil {
		skipOrFail(t, "the Swift in %s is not running or not healthy: %v\n%s", dir, err, out)
	}
}

func saioCommand(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join("saio", "swift.sh"), args...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func saio(t *testing.T, args ...string) {
	t.Helper()
	if out, err := saioCommand(args...); err != nil {
		t.Fatalf("swift.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fillStream writes size pseudo-random bytes (a stream determined by
// seed) to w in 1 MiB blocks and returns their MD5.
func fillStream(t *testing.T, w io.Writer, size int64, seed uint64) string {
	t.Helper()
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	r := rand.NewChaCha8(key)
	h := md5.New()
	buf := make([]byte, 1<<20)
	for done := int64(0); done < size; {
		b := buf[:min(int64(len(buf)), size-done)]
		r.Read(b)
		h.Write(b)
		if _, err := w.Write(b); err != nil {
			t.Fatalf("writing at %d: %v", done, err)
		}
		done += int64(len(b))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeStream creates path with size bytes of the stream of seed and
// returns their MD5.
func writeStream(t *testing.T, path string, size int64, seed uint64) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	sum := fillStream(t, f, size, seed)
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
	return sum
}

// md5Object returns the MD5 and length of an object's content in Swift.
func md5Object(t *testing.T, c swiftclient.Client, name string) (string, int64) {
	t.Helper()
	rc, _, err := c.Get(context.Background(), name, 0, -1)
	if err != nil {
		t.Fatalf("get %q: %v", name, err)
	}
	defer rc.Close()
	h := md5.New()
	n, err := io.CopyBuffer(h, rc, make([]byte, 4<<20))
	if err != nil {
		t.Fatalf("reading %q from Swift: %v", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func statusOf(t *testing.T, m *mount) string {
	t.Helper()
	out, err := exec.Command(binary, "status", m.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("swiftfs status: %v\n%s", err, out)
	}
	return string(out)
}

// Swift is stopped for 60 s, with the mount's default flags, while a
// writer creates 1 MiB files under temporary names and renames them, and
// readers re-read files already cached, list and stat: none of them sees
// an error, although the listings are older than --metadata-ttl for half
// of the outage (they are served however old while Swift is unreachable).
// Only what needs Swift fails: opening a file that is not cached gives EIO
// at once. `swiftfs status` says since when Swift is unreachable. Once it
// is back the queue drains by itself, the listings refresh, and after
// `swiftfs sync` every file is in Swift.
func TestWritebackSwiftOutage(t *testing.T) {
	requireOwnSAIO(t)
	const outage = 60 * time.Second
	container, client := newContainer(t)
	putObject(t, client, "in/uncached", "only in Swift: never opened through the mount", "text/plain")
	// The defaults, which startMount's test settings would override.
	m := startMount(t, container, "", "--metadata-ttl", "30s", "--write-back-delay", "3s")
	want := map[string]string{} // name -> MD5
	if err := os.Mkdir(m.path("out"), 0o755); err != nil {
		t.Fatal(err)
	}
	const nCached = 4
	cached := map[string]string{}
	for i := range nCached {
		name := fmt.Sprintf("out/cached-%d", i)
		cached[name] = writeStream(t, m.path(name), 1<<20, uint64(100+i))
		want[name] = cached[name]
	}
	m.sync()
	for name, sum := range cached { // the copies stay in the cache
		if got := md5File(t, m.path(name)); got != sum {
			t.Fatalf("%s: MD5 %s, want %s", name, got, sum)
		}
	}
	for _, d := range []string{"out", "in"} {
		if _, err := os.ReadDir(m.path(d)); err != nil {
			t.Fatal(err)
		}
	}
	held, err := os.OpenFile(m.path("out/held"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldContent := "opened before;"
	held.WriteString(heldContent)

	saio(t, "stop")
	down := time.Now()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			saioCommand("start")
		}
	})
	var (
		errMu  sync.Mutex
		errs   []string
		writes = map[string]string{}
		reads  int
	)
	report := func(format string, args ...any) {
		errMu.Lock()
		errs = append(errs, fmt.Sprintf("%s after %v: ", time.Now().Format(time.TimeOnly), time.Since(down).Round(time.Millisecond))+fmt.Sprintf(format, args...))
		errMu.Unlock()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the writer: create, write, close, rename
		defer wg.Done()
		for i := 0; time.Since(down) < outage; i++ {
			tmp, final := fmt.Sprintf("out/.tmp-%02d", i), fmt.Sprintf("out/during-%02d", i)
			f, err := os.OpenFile(m.path(tmp), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				report("create %s: %v", tmp, err)
				time.Sleep(time.Second)
				continue
			}
			sum := fillStream(t, f, 1<<20, uint64(i))
			if err := f.Close(); err != nil {
				report("close %s: %v", tmp, err)
			}
			if err := os.Rename(m.path(tmp), m.path(final)); err != nil {
				report("rename %s: %v", tmp, err)
			} else {
				errMu.Lock()
				writes[final] = sum
				errMu.Unlock()
			}
			line := fmt.Sprintf("%d;", i)
			if _, err := held.WriteString(line); err != nil {
				report("write to a descriptor held across the outage: %v", err)
			}
			heldContent += line
			time.Sleep(time.Second)
		}
	}()
	for r := range 2 {
		wg.Add(1)
		go func() { // the readers: cached copies, listings, stat
			defer wg.Done()
			for i := 0; time.Since(down) < outage; i++ {
				name := fmt.Sprintf("out/cached-%d", (i+r)%nCached)
				b, err := os.ReadFile(m.path(name))
				if err != nil {
					report("read %s: %v", name, err)
				} else if got := md5hex(b); got != cached[name] {
					report("read %s: MD5 %s, want %s", name, got, cached[name])
				}
				if _, err := os.ReadDir(m.path("out")); err != nil {
					report("readdir out: %v", err)
				}
				if _, err := os.Stat(m.path(name)); err != nil {
					report("stat %s: %v", name, err)
				}
				errMu.Lock()
				reads++
				errMu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	// Past --metadata-ttl, a file that is not cached cannot be opened:
	// EIO, soon (docs/SEMANTICS.md gives the bound), never a hang.
	time.Sleep(35 * time.Second)
	t0 := time.Now()
	_, err = os.ReadFile(m.path("in/uncached"))
	t.Logf("uncached open %v into the outage: %v after %v", time.Since(down).Round(time.Second), err, time.Since(t0).Round(time.Millisecond))
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("reading a file that is not cached while Swift is down: %v, want EIO", err)
	}
	st := statusOf(t, m)
	t.Logf("status during the outage:\n%s", st)
	if !regexp.MustCompile(`swift: unreachable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(.+\)`).MatchString(st) {
		t.Errorf("swiftfs status does not say since when Swift is unreachable:\n%s", st)
	}
	if !strings.Contains(st, "failed") {
		t.Errorf("swiftfs status shows no failed upload during the outage:\n%s", st)
	}
	wg.Wait()
	if err := held.Close(); err != nil {
		t.Fatalf("close during the outage: %v", err)
	}
	for _, e := range errs {
		t.Errorf("during the outage: %s", e)
	}
	maps.Copy(want, writes)
	want["out/held"] = md5hex([]byte(heldContent))

	saio(t, "start")
	restarted = true
	t.Logf("Swift down for %v; %d files written and renamed, %d rounds of reads", time.Since(down).Round(time.Second), len(writes), reads)
	// The queue drains by itself once Swift answers (the first answer
	// comes to a refresh of the listing this ReadDir serves), and the
	// listings refresh: an object written by another client shows.
	back := time.Now()
	putObject(t, client, "out/after", "written by another client after the outage", "text/plain")
	deadline := back.Add(90 * time.Second)
	for {
		missing := 0
		names := listNames(t, client, "out/")
		for name := range want {
			if !slices.Contains(names, name) {
				missing++
			}
		}
		ents, _ := os.ReadDir(m.path("out"))
		shown := slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "after" })
		if missing == 0 && shown {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after 90 s %d of %d files still not uploaded by themselves, listing refreshed %v:\n%s",
				missing, len(want), shown, statusOf(t, m))
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("queue drained and listing refreshed by themselves within %v", time.Since(back).Round(time.Second))
	m.sync()
	for name, sum := range want {
		if got, _ := md5Object(t, client, name); got != sum {
			t.Errorf("%s in Swift: MD5 %s, want %s", name, got, sum)
		}
	}
	if names := listNames(t, client, "out/.tmp-"); len(names) > 0 {
		t.Errorf("temporary names reached Swift: %v", names)
	}
	if st := statusOf(t, m); !strings.Contains(st, "0 dirty") || !strings.Contains(st, "swift: reachable") {
		t.Errorf("status after sync:\n%s", st)
	}
	log := m.log.String()
	if strings.Contains(log, "lost") {
		t.Errorf("daemon log mentions lost data:\n%s", grepLog(log, "lost"))
	}
	downs, ups := strings.Count(log, "swift unreachable:"), strings.Count(log, "swift reachable again")
	if downs == 0 || downs != ups {
		t.Errorf("daemon log: %d 'swift unreachable' and %d 'swift reachable again' lines, want one of each per outage:\n%s",
			downs, ups, grepLog(log, "swift"))
	}
	for _, l := range strings.Split(grepLog(log, "operation failed"), "\n") {
		if l != "" && !strings.Contains(l, "in/uncached") {
			t.Errorf("daemon log: %s", l)
		}
	}
}

// md5File returns the MD5 of a file's content.
func md5File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return md5hex(b)
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// A token that expires before or during a long upload is renewed
// transparently: the client re-authenticates on 401 and resends the body
// from the (seekable) cache file. Run with a Swift started with
// SAIO_TOKEN_LIFE=5.
func TestWritebackTokenExpiry(t *testing.T) {
	requireOwnSAIO(t)
	life, _ := strconv.Atoi(os.Getenv("SAIO_TOKEN_LIFE"))
	if life <= 0 || life > 30 {
		skipOrFail(t, "start the test Swift with a short token life: SAIO_TOKEN_LIFE=5 test/integration/saio/swift.sh start, and export SAIO_TOKEN_LIFE=5")
	}
	tests := []struct {
		name  string
		size  int64
		flags []string
		slo   bool
	}{
		{"whole object", 300 << 20, []string{"--slo-threshold", "1G"}, false},
		{"SLO", 300 << 20, []string{"--segment-size", "32M"}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			container, client := newContainer(t)
			flags := append([]string{"--write-back-delay", "1h"}, tt.flags...)
			m := startMount(t, container, "", flags...)
			start := time.Now()
			sum := writeStream(t, m.path("big"), tt.size, uint64(100+i))
			t.Logf("wrote %d MiB in %v", tt.size>>20, time.Since(start).Round(time.Millisecond))
			// The daemon's token expires while the file waits.
			time.Sleep(time.Duration(life+1) * time.Second)
			start = time.Now()
			m.sync()
			took := time.Since(start)
			t.Logf("upload took %v (token life %d s)", took.Round(time.Millisecond), life)
			info, err := client.Stat(context.Background(), "big")
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != tt.size || info.SLO != tt.slo {
				t.Errorf("in Swift: size %d, SLO %v, want %d, %v", info.Size, info.SLO, tt.size, tt.slo)
			}
			if !tt.slo && info.ETag != sum {
				t.Errorf("ETag %s, want the MD5 %s", info.ETag, sum)
			}
			if got, n := md5Object(t, client, "big"); got != sum || n != tt.size {
				t.Errorf("content in Swift: MD5 %s (%d bytes), want %s (%d)", got, n, sum, tt.size)
			}
			n401 := count401(t, container)
			t.Logf("requests answered 401 (expired token) in the proxy log: %d", n401)
			if n401 == 0 {
				t.Errorf("no request of container %s was refused with 401: the token did not expire during the test", container)
			}
			if strings.Contains(m.log.String(), "level=ERROR") {
				t.Errorf("errors in the daemon log:\n%s", grepLog(m.log.String(), "level=ERROR"))
			}
		})
	}
}

// count401 counts requests for container that the proxy refused with 401.
func count401(t *testing.T, container string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(os.Getenv("SAIO_DIR"), "log", "proxy-server.log"))
	if err != nil {
		t.Fatalf("proxy log: %v", err)
	}
	re := regexp.MustCompile(`/v1/AUTH_[^/ ]+/` + regexp.QuoteMeta(container) + `\S* HTTP/1\.\d 401 `)
	return len(re.FindAll(b, -1))
}

// A 6 GiB file written through the mount is uploaded as an SLO (24
// segments of 256 MiB, two at a time), read back from the cache at a few
// unaligned ranges (across block, segment and 4 GiB boundaries) and then,
// every byte, cold from Swift through a second mount with an empty cache,
// renamed by copying its manifest only, and unlinked with its segments.
//
// The content is generated cheaply and compared rather than hashed (see
// bigBlock): the test's own CPU stays small next to the daemon's and
// Swift's on the 2-core CI machine. make it-writeback runs it with a daemon
// built without the race detector (SWIFTFS_TEST_RACE=0; the SLO uploads of
// TestWritebackTokenExpiry run with it): 2.5-4.3 minutes on a 2-core VM
// (with -race, reads through the mount are 2-3 times slower). Needs ~13 GB
// of disk (the object in Swift and one cache at a time); what it wrote is
// deleted from Swift when it passes.
func TestWritebackLargeFile(t *testing.T) {
	if os.Getenv("SWIFTFS_TEST_LARGE") != "1" {
		skipOrFail(t, "set SWIFTFS_TEST_LARGE=1 to write, read back and rename a 6 GiB file (needs ~13 GB of disk, a few minutes)")
	}
	const (
		size    = 6 << 30
		segSize = 256 << 20
	)
	var fsst syscall.Statfs_t
	if err := syscall.Statfs(os.TempDir(), &fsst); err == nil {
		if free := int64(fsst.Bavail) * fsst.Bsize; free < 13<<30 {
			skipOrFail(t, "needs ~13 GB free on %s (and Swift's disk), has %.1f GB", os.TempDir(), float64(free)/(1<<30))
		}
	}
	phases := []string{}
	phase := func(what string, start time.Time) {
		d := time.Since(start).Round(100 * time.Millisecond)
		t.Logf("%s: %v", what, d)
		phases = append(phases, fmt.Sprintf("%s %v", what, d))
	}
	defer func() { t.Logf("phases: %s", strings.Join(phases, ", ")) }()

	container, client := newContainer(t)
	cacheDir := t.TempDir()
	m := startMount(t, container, cacheDir, "--write-back-delay", "1h", "--cache-size", "20G",
		"--segment-size", "256M", "--uploaders", "2")
	start := time.Now()
	writeBig(t, m.path("big.dat"), size)
	phase("write 6 GiB through the mount", start)

	start = time.Now()
	syncRetry(t, m, 5)
	phase("upload (SLO)", start)
	info, err := client.Stat(context.Background(), "big.dat")
	if err != nil {
		t.Fatal(err)
	}
	if !info.SLO || info.Size != size {
		t.Fatalf("in Swift: SLO %v, size %d, want true, %d", info.SLO, info.Size, int64(size))
	}
	sloETag := info.ETag
	segments := listNames(t, client, ".swiftfs-segments/")
	if len(segments) != size/segSize {
		t.Errorf("segments: %d, want %d: %q", len(segments), size/segSize, segments)
	}
	listed := listAllInfo(t, client, "big.dat")
	if listed.Size != size {
		t.Errorf("listing reports %d bytes, want %d", listed.Size, int64(size))
	}

	start = time.Now()
	checkBigRanges(t, m.path("big.dat"), size,
		[]int64{0, segSize - 4097, 2<<30 - 1, 4<<30 - 3<<19 - 5, 5*segSize + 12345, size - 3<<20 + 7})
	phase("ranges from the cache", start)

	// Cold: a second mount with an empty cache downloads from Swift. The
	// first cache goes first (6 GiB less on the disk).
	m.stop()
	os.RemoveAll(cacheDir)
	m2 := startMount(t, container, "", "--cache-size", "20G")
	if fi, err := os.Stat(m2.path("big.dat")); err != nil || fi.Size() != size {
		t.Errorf("stat after remount: %v, %v; want %d bytes", fi, err, int64(size))
	}
	start = time.Now()
	checkBig(t, m2.path("big.dat"), size)
	phase("read back from Swift (cold cache)", start)

	start = time.Now()
	if err := os.Rename(m2.path("big.dat"), m2.path("renamed.dat")); err != nil {
		t.Fatal(err)
	}
	phase("rename", start)
	m2.sync()
	if after := listNames(t, client, ".swiftfs-segments/"); !slices.Equal(after, segments) {
		t.Errorf("segments after the rename: %q, want the same %q (manifest copied only)", after, segments)
	}
	if _, err := client.Stat(context.Background(), "big.dat"); err == nil {
		t.Error("big.dat still in Swift after the rename")
	}
	info, err = client.Stat(context.Background(), "renamed.dat")
	if err != nil || !info.SLO || info.Size != size {
		t.Errorf("renamed.dat: %+v, %v", info, err)
	}
	out, err := exec.Command("ls", "-l", m2.dir).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ls -l:\n%s", out)
	if !strings.Contains(string(out), strconv.FormatInt(size, 10)+" ") || !strings.Contains(string(out), "renamed.dat") {
		t.Errorf("ls -l does not show renamed.dat with %d bytes:\n%s", int64(size), out)
	}
	// The manifest copy refers to the same segments: same SLO ETag (the
	// MD5 of the segments' ETags), same content (read above).
	if info.ETag != sloETag {
		t.Errorf("renamed.dat: ETag %s, want the original's %s", info.ETag, sloETag)
	}
	checkBigRanges(t, m2.path("renamed.dat"), size, []int64{4<<30 - 5})
	if t.Failed() {
		t.Logf("container %s left in Swift for inspection", container)
		return
	}

	// unlink deletes the manifest and its segments (and frees the disk of
	// the test Swift).
	start = time.Now()
	if err := os.Remove(m2.path("renamed.dat")); err != nil {
		t.Fatal(err)
	}
	phase("unlink", start)
	// (A container update that timed out on a busy Swift reaches the
	// listing with the object-updater, within SAIO_OBJECT_UPDATER_INTERVAL.)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		left := listNames(t, client, "")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("left in Swift 30 s after the unlink: %q", left)
			break
		}
	}
}

// The large test's content, in blocks of bigBlockSize bytes.
const bigBlockSize = 1 << 20

var bigBase = sync.OnceValue(func() []byte {
	b := make([]byte, bigBlockSize)
	rand.NewChaCha8([32]byte{6}).Read(b)
	return b
})

// bigBlock fills b (bigBlockSize bytes) with block i of the large test's
// content: one pseudo-random block, the same for every i, with the first 8
// bytes of every 4 KiB page replaced by the page's offset in the file. No
// two pages are alike, so a page written, uploaded or read at a wrong
// offset shows, and a block costs a copy: ChaCha8 and MD5 of 6 GiB took
// ~30 s of CPU, as much as the daemon's part of the write.
func bigBlock(b []byte, i int64) {
	copy(b, bigBase())
	for p := 0; p+8 <= len(b); p += 4096 {
		byteorder.LittleEndian.PutUint64(b[p:], uint64(i*bigBlockSize+int64(p)))
	}
}

// bigAt returns the large test's content at [off, off+n).
func bigAt(off, n int64) []byte {
	out := make([]byte, 0, n)
	blk := make([]byte, bigBlockSize)
	for end := off + n; off < end; {
		i := off / bigBlockSize
		bigBlock(blk, i)
		lo, hi := off-i*bigBlockSize, min(bigBlockSize, end-i*bigBlockSize)
		out = append(out, blk[lo:hi]...)
		off += hi - lo
	}
	return out
}

// writeBig creates path with the first size bytes of the large test's
// content, in writes of one block (the mount's max_write).
func writeBig(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, bigBlockSize)
	for off := int64(0); off < size; off += bigBlockSize {
		bigBlock(b, off/bigBlockSize)
		if _, err := f.Write(b[:min(bigBlockSize, size-off)]); err != nil {
			f.Close()
			t.Fatalf("writing %s at %d: %v", path, off, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}

// checkBig reads path to its end and compares it with the first size
// bytes of the large test's content, reporting the first blocks that differ.
func checkBig(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, want := make([]byte, bigBlockSize), make([]byte, bigBlockSize)
	var off int64
	bad := 0
	for {
		n, err := io.ReadFull(f, got)
		if n > 0 {
			bigBlock(want, off/bigBlockSize)
			w := want[:max(0, min(int64(n), size-off))]
			if !bytes.Equal(got[:n], w) {
				if bad++; bad <= 5 {
					t.Errorf("%s: the block at %d differs from byte %d on (%d bytes read, %d expected)",
						path, off, off+int64(firstDiff(got[:n], w)), n, len(w))
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("reading %s at %d: %v", path, off, err)
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d blocks of %d bytes differ", path, bad, bigBlockSize)
	}
	if off != size {
		t.Errorf("%s: %d bytes, want %d", path, off, size)
	}
}

// checkBigRanges compares 3 MiB + 17 bytes (less at the end) at each offset
// of path with the large test's content there, with pread.
func checkBigRanges(t *testing.T, path string, size int64, offsets []int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range offsets {
		n := min(3<<20+17, size-off)
		got := make([]byte, n)
		if _, err := f.ReadAt(got, off); err != nil {
			t.Errorf("pread %s at %d, %d bytes: %v", path, off, n, err)
			continue
		}
		if want := bigAt(off, n); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes at %d differ from byte %d on", path, n, off, off+int64(firstDiff(got, want)))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// syncRetry runs swiftfs sync until it succeeds, at most tries times: a
// small test Swift under load may time out a 1 GiB segment (the object
// server's node_timeout), and the next sync resumes the upload.
func syncRetry(t *testing.T, m *mount, tries int) {
	t.Helper()
	for i := 1; ; i++ {
		out, err := exec.Command(binary, "sync", m.dir).CombinedOutput()
		if err == nil {
			return
		}
		if i == tries {
			t.Fatalf("swiftfs sync failed %d times; last: %v\n%s", tries, err, out)
		}
		t.Logf("swiftfs sync failed (attempt %d, retrying): %v\n%s", i, err, out)
		time.Sleep(5 * time.Second)
	}
}

// listAllInfo returns the listing entry of one object.
func listAllInfo(t *testing.T, c swiftclient.Client, name string) swiftclient.ObjectInfo {
	t.Helper()
	p, err := c.List(context.Background(), swiftclient.ListOptions{Prefix: name, Limit: 1})
	if err != nil || len(p.Entries) == 0 || p.Entries[0].Name != name {
		t.Fatalf("listing %q: %v %+v", name, err, p.Entries)
	}
	return p.Entries[0]
}
