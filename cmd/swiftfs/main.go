// Command swiftfs mounts an OpenStack Swift container as a POSIX directory.
//
//	swiftfs mount [flags] CONTAINER[:PREFIX] MOUNTPOINT
//	swiftfs status MOUNTPOINT
//	swiftfs sync [--progress] MOUNTPOINT
//	swiftfs import [flags] SRC_DIR CONTAINER[:PREFIX]
//	swiftfs version
//	mount.fuse.swiftfs CONTAINER[:PREFIX] MOUNTPOINT -o OPTIONS   (mount(8) helper)
//	umount.fuse.swiftfs MOUNTPOINT                                (umount(8) helper)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

const usage = `swiftfs mounts an OpenStack Swift container as a POSIX directory.

Usage:
  swiftfs mount [flags] CONTAINER[:PREFIX] MOUNTPOINT   mount (foreground unless --daemon)
  swiftfs status MOUNTPOINT                             dirty/uploading/failed files, queue, cache use
  swiftfs sync [--progress] MOUNTPOINT                  wait until everything written is in Swift
  swiftfs import [flags] SRC_DIR CONTAINER[:PREFIX]     copy a local tree into Swift as a mount stores it ('swiftfs import --help')
  swiftfs registry build|check CONTAINER[:PREFIX] ...   build or check an SQLite registry ('swiftfs registry help')
  swiftfs flags                                         the mount flags as a Markdown table
  swiftfs version

Credentials come from the environment, never from flags: OS_AUTH_URL, OS_USERNAME,
OS_PASSWORD (or --password-file), OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, ... (Keystone v3),
ST_AUTH, ST_USER, ST_KEY (v1), or OS_STORAGE_URL + OS_AUTH_TOKEN; or from a file of
those variables (--credentials-file).
With --os-cloud NAME or OS_CLOUD=NAME they come from clouds.yaml and secure.yaml instead.
Run 'swiftfs mount --help' for the mount flags; /sbin/mount.fuse.swiftfs (a link to
swiftfs) is the mount(8) helper for /etc/fstab ('mount.fuse.swiftfs --help').
`

func main() {
	if isMountHelper(os.Args[0]) {
		os.Exit(runMountHelper(os.Args[1:], os.Stdout, os.Stderr))
	}
	if isUmountHelper(os.Args[0]) {
		os.Exit(runUmountHelper(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "mount":
		err = cmdMount(args[1:], stderr)
	case "status":
		err = cmdStatus(args[1:], stdout)
	case "sync":
		err = cmdSync(args[1:], stdout, stderr)
	case "import":
		err = cmdImport(args[1:], stdout, stderr)
	case "registry":
		err = cmdRegistry(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "swiftfs %s\n", version)
	case "flags":
		fmt.Fprint(stdout, markdownTable())
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "swiftfs: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "swiftfs: %v\n", err)
			return 2
		}
		if errors.Is(err, context.Canceled) {
			return 130
		}
		fmt.Fprintf(stderr, "swiftfs: error: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(strings.ToUpper(cfg.logLevel)))
	ho := &slog.HandlerOptions{Level: lvl}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
