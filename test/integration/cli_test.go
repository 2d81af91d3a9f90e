//go:build integration && linux

package integration

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM: pending files are uploaded before the daemon exits.
func TestSigtermDrainsPendingUploads(t *testing.T) {
	name, c := newContainer(t)
	m := startMount(t, name, "", "--write-back-delay", "1h")
	mustWrite(t, m.path("late.txt"), "uploaded at exit", 0o644)
	m.stop()
	if b, _ := getObject(t, c, "late.txt"); string(b) != "uploaded at exit" {
		t.Errorf("after SIGTERM, Swift has %q", b)
	}
}

// --daemon returns once mounted; status and sync talk to the daemon;
// umount ends it after the upload.
func TestDaemonStatusSync(t *testing.T) {
	name, c := newContainer(t)
	dir := t.TempDir()
	cmd := exec.Command(binary, "mount", "--daemon", "--cache-dir", t.TempDir(), "--write-back-delay", "1h", name, dir)
	cmd.Env = append(filterEnv(os.Environ()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount --daemon: %v\n%s", err, out)
	}
	if !isMounted(dir) {
		t.Fatalf("--daemon returned but %s is not mounted: %s", dir, out)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	mustWrite(t, dir+"/a", "daemon", 0o644)
	st, err := exec.Command(binary, "status", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(st), "1 dirty") || !strings.Contains(string(st), " a") {
		t.Errorf("status: %v\n%s", err, st)
	}
	sy, err := exec.Command(binary, "sync", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(sy), "in Swift") {
		t.Errorf("sync: %v\n%s", err, sy)
	}
	if b, _ := getObject(t, c, "a"); string(b) != "daemon" {
		t.Errorf("after sync, Swift has %q", b)
	}
	st, _ = exec.Command(binary, "status", dir).CombinedOutput()
	if !strings.Contains(string(st), "0 dirty") {
		t.Errorf("status after sync:\n%s", st)
	}
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatalf("umount: %v", err)
	}
	// The daemon goes away with its control socket.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := exec.Command(binary, "status", dir).CombinedOutput(); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon still answering 20 s after umount")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
