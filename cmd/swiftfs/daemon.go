package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// The daemon protocol: the parent re-executes itself without --daemon, in
// a new session, with fd 3 a pipe; the child writes "ready\n" there once
// mounted. The parent exits 0 then, or 1 with the child's error output.

const readyEnv = "SWIFTFS_READY_FD"

func daemonize(args []string, mnt string, stderr io.Writer) error {
	var childArgs []string
	for _, a := range args {
		if a == "--daemon" || a == "-daemon" || strings.HasPrefix(a, "--daemon=") || strings.HasPrefix(a, "-daemon=") {
			continue
		}
		childArgs = append(childArgs, a)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.CreateTemp("", "swiftfs-daemon-*.log")
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, append([]string{"mount"}, childArgs...)...)
	cmd.Args[0] = "swiftfs" // not mount.fuse.swiftfs, whatever exe is named
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.ExtraFiles = []*os.File{w}
	// The daemon is not the process a service manager started: it must not
	// send sd_notify messages in its name (Type=notify runs swiftfs in the
	// foreground; --daemon is for shells and mount(8)).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, readyEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) == "ready" {
		fmt.Fprintf(stderr, "swiftfs: mounted at %s (pid %d, log %s)\n", mnt, cmd.Process.Pid, logf.Name())
		return nil
	}
	cmd.Wait()
	out, _ := os.ReadFile(logf.Name())
	os.Remove(logf.Name())
	return fmt.Errorf("daemon failed to mount:\n%s", strings.TrimSpace(string(out)))
}

// signalReady tells a waiting parent that the mount is up.
func signalReady() {
	if os.Getenv(readyEnv) == "" {
		return
	}
	f := os.NewFile(3, "ready")
	if f != nil {
		f.Write([]byte("ready\n"))
		f.Close()
	}
	os.Unsetenv(readyEnv)
}
