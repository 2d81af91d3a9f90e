//go:build integration && linux

package integration

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The site-service tests: the examples of docs/CONFIGURATION.md
// ("/etc/fstab and mount", "systemd") and the units of contrib/systemd,
// run as written with only the container, mount point, cache and
// credentials replaced. SWIFTFS_TEST_REQUIRE_SERVICE=1 (make it-v1) makes
// their skips failures.

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func skipServiceOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SWIFTFS_TEST_REQUIRE_SERVICE") == "1" {
		t.Fatalf(format+" (SWIFTFS_TEST_REQUIRE_SERVICE=1: not skipped)", args...)
	}
	t.Skipf(format, args...)
}

// docBlock returns the lines of the fenced block of a file in the repository
// whose first line is first (a comment naming the file it shows).
func docBlock(t *testing.T, rel, first string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") || lines[i+1] != first {
			continue
		}
		for j := i + 2; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				return lines[i+2 : j]
			}
		}
	}
	t.Fatalf("%s has no fenced block starting with %q", rel, first)
	return nil
}

// unitKeys reads the Key=Value lines of one section of a systemd unit.
func unitKeys(t *testing.T, rel, section string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "["):
			in = l == "["+section+"]"
		case in && l != "" && !strings.HasPrefix(l, "#"):
			k, v, _ := strings.Cut(l, "=")
			keys[k] = v
		}
	}
	return keys
}

// splitCredentials writes the test's Swift credentials as mount(8) gets
// them: a credentials file of the OS_*/ST_* variables but the secret, and
// a password file of the secret (both 0600).
func splitCredentials(t *testing.T, dir string) (credFile, passFile string) {
	t.Helper()
	var rc strings.Builder
	secret := ""
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ST_KEY", "OS_PASSWORD", "OS_APPLICATION_CREDENTIAL_SECRET":
			secret = v
		default:
			fmt.Fprintf(&rc, "%s='%s'\n", k, v)
		}
	}
	if secret == "" {
		t.Fatalf("no password or key among the test's credentials")
	}
	credFile, passFile = filepath.Join(dir, "swift.rc"), filepath.Join(dir, "swift.pass")
	for p, body := range map[string]string{credFile: rc.String(), passFile: secret + "\n"} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return credFile, passFile
}

var helperLinks = []string{"/sbin/mount.fuse.swiftfs", "/sbin/umount.fuse.swiftfs"}

// installHelpers links this run's swiftfs as mount(8)'s and umount(8)'s
// helpers (they look for helpers in /sbin only), and removes the links
// afterwards.
func installHelpers(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipServiceOrFail(t, "needs root: mount(8) runs its helpers from /sbin, and only root mounts what /etc/fstab does not mark 'user'")
	}
	for _, cmd := range []string{"mount", "umount"} {
		if _, err := exec.LookPath(cmd); err != nil {
			skipServiceOrFail(t, "no %s(8): %v", cmd, err)
		}
	}
	for _, link := range helperLinks {
		if target, err := os.Readlink(link); err == nil {
			if !strings.Contains(target, "/swiftfs-it-") {
				skipServiceOrFail(t, "%s is installed (-> %s): the test would have to replace it by its own build", link, target)
			}
			os.Remove(link) // an earlier run's, left behind
		} else if _, err := os.Lstat(link); err == nil {
			skipServiceOrFail(t, "%s is installed: the test would have to replace it by its own build", link)
		}
	}
	for _, link := range helperLinks {
		if err := os.Symlink(binary, link); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if target, _ := os.Readlink(link); target == binary {
				os.Remove(link)
			}
		})
	}
}

// runEmptyEnv runs a command with an empty environment (as at boot) from /.
func runEmptyEnv(name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var mountedMsg = regexp.MustCompile(`swiftfs: mounted at (\S+) \(pid (\d+), log (\S+)\)`)

// processGone reports whether pid has exited (gone, or a zombie).
func processGone(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// mountOptions are the per-mount and the super block options of dir in
// mountinfo.
func mountOptions(dir string) string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == dir {
			return f[5] + "," + f[len(f)-1]
		}
	}
	return ""
}

func mountType(dir string) string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == dir {
			for i, x := range f {
				if x == "-" && i+1 < len(f) {
					return f[i+1]
				}
			}
		}
	}
	return ""
}

// TestFstabMount mounts the fstab line of docs/CONFIGURATION.md and the
// mount unit contrib/systemd/data-repo.mount (as an fstab line: systemd
// runs mount(8) with its What, Where, Type and Options) with
// `mount -a -T FSTAB` in an empty environment, writes through both mounts,
// unmounts them with umount and checks the files in Swift. A password in
// the options is refused.
func TestFstabMount(t *testing.T) {
	installHelpers(t)
	container, client := newContainer(t)
	tmp := t.TempDir()
	credFile, passFile := splitCredentials(t, tmp)

	// The example's file names are replaced by the test's files.
	rewrite := func(source, options, dir, cacheDir string) string {
		_, prefix, _ := strings.Cut(source, ":")
		var opts []string
		for _, o := range strings.Split(options, ",") {
			switch k, _, _ := strings.Cut(o, "="); k {
			case "credentials_file":
				o = k + "=" + credFile
			case "password_file":
				o = k + "=" + passFile
			}
			opts = append(opts, o)
		}
		// Nothing is uploaded before umount (1 h delay): umount's helper
		// has to (the debug log shows when).
		opts = append(opts, "cache_dir="+cacheDir, "write_back_delay=1h", "log_level=debug")
		return fmt.Sprintf("%s:%s %s fuse.swiftfs %s 0 0", container, prefix, dir, strings.Join(opts, ","))
	}
	type entry struct{ name, dir, prefix, line string }
	var entries []entry

	var fstabLine []string
	for _, l := range docBlock(t, "docs/CONFIGURATION.md", "# /etc/fstab") {
		if l != "" && !strings.HasPrefix(l, "#") {
			fstabLine = strings.Fields(l)
		}
	}
	if len(fstabLine) != 6 || fstabLine[2] != "fuse.swiftfs" {
		t.Fatalf("the fstab example is not a fuse.swiftfs line of 6 fields: %q", fstabLine)
	}
	unit := unitKeys(t, "contrib/systemd/data-repo.mount", "Mount")
	if unit["Type"] != "fuse.swiftfs" {
		t.Fatalf("data-repo.mount: Type=%q", unit["Type"])
	}
	verifyUnit(t, tmp, "contrib/systemd/data-repo.mount", "data-repo.mount")
	for _, e := range []struct{ name, source, options string }{
		{"fstab", fstabLine[0], fstabLine[3]},
		{"unit", unit["What"], unit["Options"]},
	} {
		dir := filepath.Join(tmp, e.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, prefix, _ := strings.Cut(e.source, ":")
		entries = append(entries, entry{e.name, dir, prefix, rewrite(e.source, e.options, dir, filepath.Join(tmp, e.name+"-cache"))})
	}
	fstab := filepath.Join(tmp, "test.fstab")
	var body strings.Builder
	for _, e := range entries {
		body.WriteString(e.line + "\n")
	}
	if err := os.WriteFile(fstab, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range entries {
			if isMounted(e.dir) {
				syscall.Unmount(e.dir, syscall.MNT_DETACH)
			}
		}
	})

	out, err := runEmptyEnv("mount", "-a", "-T", fstab)
	if err != nil {
		t.Fatalf("mount -a -T %s: %v\n%s\nfstab:\n%s", fstab, err, out, body.String())
	}
	daemons := map[string]string{} // pid -> log
	dirLog := map[string]string{}  // mount point -> log
	for _, m := range mountedMsg.FindAllStringSubmatch(out, -1) {
		daemons[m[2]] = m[3]
		dirLog[m[1]] = m[3]
	}
	t.Cleanup(func() {
		for _, log := range daemons {
			os.Remove(log)
		}
	})
	daemonLogs := func() string {
		var b strings.Builder
		for pid, log := range daemons {
			l, _ := os.ReadFile(log)
			fmt.Fprintf(&b, "--- daemon %s (%s):\n%s", pid, log, l)
		}
		return b.String()
	}
	if len(daemons) != len(entries) {
		t.Fatalf("mount -a: want %d daemons, got output\n%s", len(entries), out)
	}
	// mount -a again: the lines are mounted (the source in /proc/mounts is
	// the line's), so nothing happens.
	if out, err := runEmptyEnv("mount", "-a", "-T", fstab); err != nil || mountedMsg.MatchString(out) {
		t.Errorf("a second mount -a: %v\n%s", err, out)
	}
	for _, e := range entries {
		if typ := mountType(e.dir); typ != "fuse.swiftfs" {
			t.Fatalf("%s: mounted as %q, want fuse.swiftfs\n%s", e.dir, typ, daemonLogs())
		}
		data := "written through the " + e.name + " mount\n"
		if err := os.WriteFile(filepath.Join(e.dir, e.name+".txt"), []byte(data), 0o644); err != nil {
			t.Fatalf("%s: %v\n%s", e.dir, err, daemonLogs())
		}
		if got, err := os.ReadFile(filepath.Join(e.dir, e.name+".txt")); err != nil || string(got) != data {
			t.Fatalf("%s: read back %q, %v", e.dir, got, err)
		}
	}
	script := filepath.Join(entries[0].dir, "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(script).Output(); err != nil || string(out) != "ran\n" {
		t.Fatalf("%s on a mount without noexec: %q, %v", script, out, err)
	}
	// umount returns once the files are in Swift: its helper syncs first.
	for _, e := range entries {
		if out, err := runEmptyEnv("umount", e.dir); err != nil {
			t.Fatalf("umount %s: %v\n%s", e.dir, err, out)
		}
		if isMounted(e.dir) {
			t.Errorf("%s still mounted after umount", e.dir)
		}
		name := e.prefix + "/" + e.name + ".txt"
		if got, _ := getObject(t, client, name); string(got) != "written through the "+e.name+" mount\n" {
			t.Errorf("%s in Swift when umount returned: %q", name, got)
		}
	}
	// After umount each daemon uploads what is pending and exits.
	deadline := time.Now().Add(60 * time.Second)
	for pid := range daemons {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("daemon %s still running 60 s after umount\n%s", pid, daemonLogs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	logs := daemonLogs()
	if strings.Contains(logs, "DATA RACE") || strings.Count(logs, "msg=stopped") != len(daemons) {
		t.Errorf("the daemons did not stop cleanly:\n%s", logs)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(dirLog[e.dir])
		log := string(b)
		up := strings.Index(log, "msg=uploaded object="+e.prefix+"/"+e.name+".txt ")
		if up < 0 || !strings.Contains(log[up:], `msg="unmounted; uploading pending files"`) {
			t.Errorf("%s.txt was not uploaded before the unmount:\n%s", e.name, log)
		}
	}

	// The command-line form, with ro and noexec: the script uploaded above
	// may not be executed, nothing may be written.
	dir := filepath.Join(tmp, "direct")
	os.Mkdir(dir, 0o755)
	source := container + ":" + entries[0].prefix
	out, err = runEmptyEnv("mount", "-t", "fuse.swiftfs", "-o",
		"ro,noexec,credentials_file="+credFile+",password_file="+passFile+",cache_dir="+filepath.Join(tmp, "direct-cache"), source, dir)
	m := mountedMsg.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("mount -t fuse.swiftfs -o ro,noexec: %v\n%s", err, out)
	}
	daemons[m[2]] = m[3]
	if opts := mountOptions(dir); !strings.Contains(","+opts+",", ",ro,") || !strings.Contains(","+opts+",", ",noexec,") {
		t.Errorf("mounted with options %q, want ro and noexec", opts)
	}
	if _, err := exec.Command(filepath.Join(dir, "run.sh")).Output(); !errors.Is(err, syscall.EACCES) {
		t.Errorf("executing run.sh on a noexec mount: %v, want EACCES", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new.txt"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("writing on an ro mount: %v, want EROFS", err)
	}
	if out, err := runEmptyEnv("umount", dir); err != nil {
		t.Fatalf("umount %s: %v\n%s", dir, err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); !processGone(m[2]); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon %s still running 60 s after umount\n%s", m[2], daemonLogs())
		}
	}

	// A secret in the options: refused by name, nothing mounted.
	dir = filepath.Join(tmp, "refused")
	os.Mkdir(dir, 0o755)
	out, err = runEmptyEnv("mount", "-t", "fuse.swiftfs", "-o", "password=hunter2,cache_dir="+tmp, container, dir)
	if err == nil || !strings.Contains(out, "option password: secrets do not belong in mount options") || strings.Contains(out, "hunter2") {
		t.Errorf("mount -o password=...: %v\n%s", err, out)
	}
	if isMounted(dir) {
		t.Errorf("mounted with a password option")
	}
	if logs := daemonLogs(); strings.Contains(logs, "DATA RACE") {
		t.Errorf("data race:\n%s", logs)
	}
}

// expandExec expands an ExecStart= line as systemd does for the variables
// it uses: $NAME splits the value at white space, ${NAME} is one word, %i
// and %I are the instance name.
func expandExec(line, instance string, vars map[string]string) []string {
	line = strings.NewReplacer("%i", instance, "%I", instance).Replace(line)
	var words []string
	for _, w := range strings.Fields(line) {
		switch {
		case strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}"):
			words = append(words, vars[w[2:len(w)-1]])
		case strings.HasPrefix(w, "$"):
			words = append(words, strings.Fields(vars[w[1:]])...)
		default:
			words = append(words, w)
		}
	}
	return words
}

// TestSystemdNotify runs contrib/systemd/swiftfs@.service's ExecStart with
// the environment file of docs/CONFIGURATION.md (its own container, mount
// point, cache and credentials) and a NOTIFY_SOCKET of its own: READY=1
// comes once the mount answers, STATUS= counts a dirty file, STOPPING=1
// comes on SIGTERM while the file is still pending, and swiftfs uploads it
// before it exits.
func TestSystemdNotify(t *testing.T) {
	container, client := newContainer(t)
	tmp := t.TempDir()
	svc := unitKeys(t, "contrib/systemd/swiftfs@.service", "Service")
	if svc["Type"] != "notify" || svc["NotifyAccess"] != "main" || svc["EnvironmentFile"] != "/etc/swiftfs/%i.env" {
		t.Fatalf("swiftfs@.service: Type=%q NotifyAccess=%q EnvironmentFile=%q", svc["Type"], svc["NotifyAccess"], svc["EnvironmentFile"])
	}

	vars := map[string]string{}
	for _, l := range docBlock(t, "docs/CONFIGURATION.md", "# /etc/swiftfs/butler.env") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(k, "OS_") && !strings.HasPrefix(k, "ST_") {
			vars[k] = v
		}
	}
	for _, k := range []string{"SWIFTFS_SOURCE", "SWIFTFS_MOUNTPOINT", "SWIFTFS_OPTIONS"} {
		if vars[k] == "" {
			t.Fatalf("the systemd environment file example lacks %s", k)
		}
	}
	_, prefix, _ := strings.Cut(vars["SWIFTFS_SOURCE"], ":")
	dir := filepath.Join(tmp, "mnt")
	os.Mkdir(dir, 0o755)
	vars["SWIFTFS_SOURCE"] = container + ":" + prefix
	vars["SWIFTFS_MOUNTPOINT"] = dir
	// The file stays pending until the stop (1 h delay): the drain uploads it.
	vars["SWIFTFS_OPTIONS"] += " --cache-dir " + filepath.Join(tmp, "cache") + " --write-back-delay 1h --log-level debug"
	drain, err := time.ParseDuration(regexp.MustCompile(`--drain-timeout (\S+)`).FindStringSubmatch(vars["SWIFTFS_OPTIONS"])[1])
	if err != nil {
		t.Fatal(err)
	}

	argv := expandExec(svc["ExecStart"], "butler", vars)
	if filepath.Base(argv[0]) != "swiftfs" || argv[1] != "mount" {
		t.Fatalf("ExecStart is not swiftfs mount: %q", argv)
	}
	sock := filepath.Join(tmp, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	// As systemd starts it: the unit's environment, a PATH, no HOME.
	unitEnv := func(vars map[string]string) []string {
		e := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET=" + sock, "GORACE=halt_on_error=1"}
		for k, v := range vars {
			e = append(e, k+"="+v)
		}
		return append(e, env...)
	}

	// A mount that fails (no such container) exits non-zero without READY=1.
	bad := map[string]string{}
	for k, v := range vars {
		bad[k] = v
	}
	bad["SWIFTFS_SOURCE"] = container + "-missing"
	fail := exec.Command(binary, expandExec(svc["ExecStart"], "butler", bad)[1:]...)
	fail.Env = unitEnv(bad)
	if out, err := fail.CombinedOutput(); err == nil || !strings.Contains(string(out), "does not exist") {
		t.Fatalf("mounting a missing container: %v\n%s", err, out)
	}
	select {
	case m := <-msgs:
		t.Fatalf("a failed mount sent %q", m)
	default:
	}

	cmd := exec.Command(binary, argv[1:]...)
	cmd.Env = unitEnv(vars)
	var log strings.Builder
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	logDone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		close(logDone)
	}()
	exited := make(chan error, 1)
	go func() { err := cmd.Wait(); <-logDone; exited <- err }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if isMounted(dir) {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	}()

	// next waits for the next message that contains want.
	var seen []string
	next := func(want string) string {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case m := <-msgs:
				seen = append(seen, m)
				if strings.Contains(m, want) {
					return m
				}
				if !strings.Contains(m, "STATUS=") {
					t.Fatalf("unexpected message %q while waiting for %q", m, want)
				}
			case err := <-exited:
				exited <- err
				t.Fatalf("swiftfs exited (%v) before sending %q\n%s", err, want, log.String())
			case <-timeout:
				t.Fatalf("no %q after 60 s; messages: %q\n%s", want, seen, log.String())
			}
		}
	}

	m := next("READY=1")
	// At READY=1 the mount must already answer.
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); err != nil || sfs.Type != 0x65735546 || !isMounted(dir) {
		t.Fatalf("READY=1 before the mount answers: statfs %v, type %#x, mounted %v", err, sfs.Type, isMounted(dir))
	}
	if !strings.Contains(m, "STATUS=mounted; write-back: 0 dirty (0 B), 0 queued, 0 uploading, 0 failed") {
		t.Errorf("READY message %q lacks the status", m)
	}

	data := "written under systemd\n"
	if err := os.WriteFile(filepath.Join(dir, "unit.txt"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	next("STATUS=mounted; write-back: 1 dirty (22 B), 1 queued")

	cmd.Process.Signal(syscall.SIGTERM)
	m = next("STOPPING=1")
	wantExtend := fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (drain + 30*time.Second).Microseconds())
	if !strings.Contains(m, wantExtend) || !strings.Contains(m, "STATUS=draining uploads (at most "+drain.String()+"); write-back: 1 dirty") {
		t.Errorf("STOPPING message %q: want %s and the pending file in STATUS", m, wantExtend)
	}
	next("STATUS=stopped; write-back: 0 dirty")
	if err := <-exited; err != nil {
		t.Fatalf("swiftfs exited with %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "DATA RACE") {
		t.Errorf("data race:\n%s", log.String())
	}
	if got, _ := getObject(t, client, prefix+"/unit.txt"); string(got) != data {
		t.Errorf("unit.txt in Swift: %q", got)
	}
	if isMounted(dir) {
		t.Errorf("still mounted after swiftfs exited")
	}
	verifyUnit(t, tmp, "contrib/systemd/swiftfs@.service", "swiftfs@butler.service")
}

// verifyUnit checks a unit of contrib/systemd, saved as name, with
// systemd-analyze verify (ExecStart pointing at this run's binary), which
// needs no running systemd.
func verifyUnit(t *testing.T, tmp, rel, name string) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze not installed: %s's syntax is not checked", rel)
		return
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(tmp, name)
	os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/swiftfs", binary)), 0o644)
	out, err := exec.Command(sa, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", rel, err, out)
	}
}

// TestMakeInstall runs `make install` into a DESTDIR (with this run's
// binary; -o build: not rebuilt) and `make uninstall`: the binary, the
// helper links in SBINDIR naming the installed binary, and the unit with
// ExecStart set to it.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		skipServiceOrFail(t, "no make: %v", err)
	}
	dest := t.TempDir()
	vars := []string{"-s", "-o", "build", "BIN=" + binary, "DESTDIR=" + dest, "PREFIX=/opt/swiftfs"}
	run := func(target string) {
		cmd := exec.Command("make", append(vars, target)...)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	run("install")
	bin := filepath.Join(dest, "opt/swiftfs/bin/swiftfs")
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("%s: %v %v", bin, fi, err)
	}
	for _, h := range []string{"mount.fuse.swiftfs", "umount.fuse.swiftfs"} {
		if target, err := os.Readlink(filepath.Join(dest, "sbin", h)); err != nil || target != "/opt/swiftfs/bin/swiftfs" {
			t.Errorf("sbin/%s -> %q, %v; want a link to /opt/swiftfs/bin/swiftfs", h, target, err)
		}
	}
	unit, err := os.ReadFile(filepath.Join(dest, "opt/swiftfs/lib/systemd/system/swiftfs@.service"))
	if err != nil || !strings.Contains(string(unit), "\nExecStart=/opt/swiftfs/bin/swiftfs mount ") {
		t.Errorf("installed unit (%v):\n%s", err, unit)
	}
	run("uninstall")
	filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			t.Errorf("left after make uninstall: %s", p)
		}
		return nil
	})
}
