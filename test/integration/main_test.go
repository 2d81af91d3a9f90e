//go:build integration && linux

// Package integration runs swiftfs as a separate process, mounted through
// the kernel, against a Swift: a real one (Debian's Swift started by
// test/integration/saio/swift.sh, credentials from ST_* or OS_*), or, when
// SWIFTFS_TEST_BACKEND=swifttest, the in-process ncw/swift swifttest server
// (the composite tier). CI runs the real-Swift tier with v1 and Keystone v3.
package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swifttestproxy"
)

var (
	binary  string // the swiftfs binary built for this run
	backend string // "real" or "swifttest"
	env     []string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "swiftfs-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "swiftfs")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	// The daemon is built with the race detector, unless
	// SWIFTFS_TEST_RACE=0 (make it-writeback's 6 GiB test: the detector
	// makes reads through the mount 2-3x slower; the small SLO tests keep it).
	args := []string{"build", "-race", "-o", binary, "./cmd/swiftfs"}
	if os.Getenv("SWIFTFS_TEST_RACE") == "0" {
		args = slices.Delete(args, 1, 2)
	}
	build := exec.Command("go", args...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building swiftfs:", err)
		return 1
	}
	backend = os.Getenv("SWIFTFS_TEST_BACKEND")
	switch backend {
	case "swifttest":
		// Behind the proxy that answers ranged GETs as Swift does (parallel
		// downloads of objects above 64 MiB need them).
		srv, err := swifttestproxy.Start(swifttestproxy.Options{ConcurrentBodies: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "swifttest:", err)
			return 1
		}
		defer srv.Close()
		env = []string{"ST_AUTH=" + srv.AuthURL, "ST_USER=" + swifttestproxy.User, "ST_KEY=" + swifttestproxy.Key}
	case "", "real":
		backend = "real"
		if os.Getenv("ST_AUTH") == "" && os.Getenv("OS_AUTH_URL") == "" && os.Getenv("OS_STORAGE_URL") == "" {
			fmt.Fprintln(os.Stderr, "integration: no Swift credentials in the environment (ST_AUTH or OS_AUTH_URL).\n"+
				"Start a local Swift with test/integration/saio/swift.sh start and eval \"$(test/integration/saio/swift.sh env)\",\n"+
				"or set SWIFTFS_TEST_BACKEND=swifttest for the in-process server.")
			return 1
		}
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "ST_") || strings.HasPrefix(kv, "OS_") {
				env = append(env, kv)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "SWIFTFS_TEST_BACKEND must be real or swifttest")
		return 1
	}
	return m.Run()
}

func getenvFrom(kvs []string) func(string) string {
	return func(k string) string {
		for _, kv := range kvs {
			if strings.HasPrefix(kv, k+"=") {
				return kv[len(k)+1:]
			}
		}
		return ""
	}
}

// newContainer makes a fresh container for one test and returns a client
// of it (for checks in Swift behind the mount's back).
func newContainer(t *testing.T) (string, swiftclient.Client) {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "it-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + hex.EncodeToString(b)
	if len(name) > 200 {
		name = name[:200]
	}
	ctx := context.Background()
	if err := swiftclient.CreateContainer(ctx, swiftclient.Options{Container: name, Getenv: getenvFrom(env)}); err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
	c, err := swiftclient.New(ctx, swiftclient.Options{Container: name, Getenv: getenvFrom(env)})
	if err != nil {
		t.Fatalf("client for %s: %v", name, err)
	}
	return name, c
}

// mount is one running swiftfs process.
type mount struct {
	t        *testing.T
	dir      string
	cacheDir string
	cmd      *exec.Cmd
	log      *strings.Builder
	done     chan error
}

// startMount runs `swiftfs mount` in the foreground as a child process and
// waits until the kernel shows the mount.
func startMount(t *testing.T, target, cacheDir string, flags ...string) *mount {
	t.Helper()
	return startMountEnv(t, env, target, cacheDir, flags...)
}

// startMountEnv is startMount with the Swift credentials kvs (ST_*, OS_*)
// instead of the run's.
func startMountEnv(t *testing.T, kvs []string, target, cacheDir string, flags ...string) *mount {
	t.Helper()
	dir := t.TempDir()
	if cacheDir == "" {
		cacheDir = t.TempDir()
	}
	args := append([]string{"mount", "--cache-dir", cacheDir, "--log-level", "debug", "--write-back-delay", "200ms", "--metadata-ttl", "2s"}, flags...)
	if os.Getenv("SWIFTFS_TEST_DEBUG_FUSE") == "1" {
		args = append(args, "--debug-fuse") // every FUSE request in the log
	}
	args = append(args, target, dir)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	cmd.Env = append(filterEnv(cmd.Env), kvs...)
	var log strings.Builder
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &mount{t: t, dir: dir, cacheDir: cacheDir, cmd: cmd, log: &log, done: make(chan error, 1)}
	logDone := make(chan struct{})
	go func() {
		for l := range lines {
			log.WriteString(l + "\n")
		}
		close(logDone)
	}()
	go func() { err := cmd.Wait(); pw.Close(); <-logDone; m.done <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(dir) {
		select {
		case err := <-m.done:
			m.done <- err
			t.Fatalf("swiftfs exited before mounting: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("not mounted after 30 s\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { m.stop() })
	return m
}

func filterEnv(in []string) []string {
	var out []string
	for _, kv := range in {
		if strings.HasPrefix(kv, "ST_") || strings.HasPrefix(kv, "OS_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// stop sends SIGTERM (the daemon uploads pending files, then unmounts) and
// waits; the test fails if the daemon reported a data race or crashed.
func (m *mount) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	defer m.keepLog()
	select {
	case err := <-m.done:
		if err != nil {
			m.t.Errorf("swiftfs exited with %v\n%s", err, m.log.String())
		}
	case <-time.After(60 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
		m.t.Errorf("swiftfs did not stop within 60 s\n%s", m.log.String())
	}
	if strings.Contains(m.log.String(), "DATA RACE") {
		m.t.Errorf("data race in swiftfs:\n%s", m.log.String())
	}
	if isMounted(m.dir) {
		syscall.Unmount(m.dir, syscall.MNT_DETACH)
		m.t.Errorf("mount point %s still mounted after swiftfs exited", m.dir)
	}
	m.cmd = nil
}

// keepLog writes the daemon's log to $SWIFTFS_TEST_LOG_DIR (for whoever
// debugs a failure; nothing is kept when it is unset).
func (m *mount) keepLog() {
	dir := os.Getenv("SWIFTFS_TEST_LOG_DIR")
	if dir == "" {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(m.t.Name())
	p := filepath.Join(dir, fmt.Sprintf("%s.%d.log", name, time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(m.log.String()), 0o600); err != nil {
		m.t.Logf("daemon log not kept: %v", err)
	}
}

// kill9 ends the daemon without any clean-up (crash tests).
func (m *mount) kill9() {
	m.cmd.Process.Kill()
	<-m.done
	syscall.Unmount(m.dir, syscall.MNT_DETACH)
	m.cmd = nil
}

// sync runs `swiftfs sync` on the mount.
func (m *mount) sync() {
	m.t.Helper()
	out, err := exec.Command(binary, "sync", m.dir).CombinedOutput()
	if err != nil {
		m.t.Fatalf("swiftfs sync: %v\n%s\n%s", err, out, m.log.String())
	}
}

func (m *mount) path(p string) string { return filepath.Join(m.dir, p) }

func getObject(t *testing.T, c swiftclient.Client, name string) ([]byte, swiftclient.ObjectInfo) {
	t.Helper()
	rc, info, err := c.Get(context.Background(), name, 0, -1)
	if err != nil {
		t.Fatalf("get %q from Swift: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, info
}

func putObject(t *testing.T, c swiftclient.Client, name, data, ct string) {
	t.Helper()
	_, err := c.Put(context.Background(), name, strings.NewReader(data), int64(len(data)), swiftclient.PutOptions{ContentType: ct})
	if err != nil {
		t.Fatalf("put %q: %v", name, err)
	}
}

func listNames(t *testing.T, c swiftclient.Client, prefix string) []string {
	t.Helper()
	var names []string
	marker := ""
	for {
		p, err := c.List(context.Background(), swiftclient.ListOptions{Prefix: prefix, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			names = append(names, e.Name)
		}
		if !p.More {
			return names
		}
		marker = p.NextMarker
	}
}

func mkdirFresh(dir string) error { return os.Mkdir(dir, 0o755) }
