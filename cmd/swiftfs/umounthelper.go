package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// swiftfs run as /sbin/umount.fuse.swiftfs is umount(8)'s helper for
// fuse.swiftfs mounts: `umount DIR` (and so systemd stopping a mount unit,
// at shutdown too) first waits until everything written is in Swift, as
// `swiftfs sync DIR` does, for at most the mount's --drain-timeout, then
// unmounts. umount(8) calls it as
//
//	umount.fuse.swiftfs DIR [-f] [-l] [-n] [-r] [-v] [-t TYPE] [-N NS]
//
// -f (force) and -l (lazy) unmount at once, without waiting.

var umountHelperNames = []string{"umount.fuse.swiftfs", "umount.swiftfs"}

func isUmountHelper(argv0 string) bool {
	base := filepath.Base(argv0)
	for _, n := range umountHelperNames {
		if base == n {
			return true
		}
	}
	return false
}

const umountUsage = `Usage: umount.fuse.swiftfs MOUNTPOINT [-f] [-l] [-n] [-r] [-v]

The umount(8) helper of swiftfs: waits until everything written is in Swift
(at most the mount's --drain-timeout), then unmounts. -f and -l unmount at once.
`

type umountInvocation struct {
	dir                  string
	force, lazy, verbose bool
}

func parseUmountArgs(args []string) (*umountInvocation, error) {
	u := &umountInvocation{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-t" || a == "-N":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs an argument", a)
			}
			i++
			if a == "-N" {
				return nil, errors.New("mount namespaces (-N) are not supported")
			}
			if t := args[i]; t != "fuse.swiftfs" && t != "swiftfs" {
				return nil, fmt.Errorf("file system type %q is not swiftfs", t)
			}
		case a == "-h" || a == "--help":
			return nil, flagHelp
		case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "flnrvi") == "":
			u.force = u.force || strings.Contains(a, "f")
			u.lazy = u.lazy || strings.Contains(a, "l")
			u.verbose = u.verbose || strings.Contains(a, "v")
		case len(a) > 1 && a[0] == '-':
			return nil, fmt.Errorf("unknown argument %q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 1 {
		return nil, errors.New("needs MOUNTPOINT")
	}
	u.dir = pos[0]
	return u, nil
}

// drainBeforeUnmount waits for the mount's pending uploads, at most its
// --drain-timeout. It returns what to tell the user (empty: all is in
// Swift, or there is no swiftfs to ask).
func drainBeforeUnmount(dir string) string {
	st, err := control(dir, "status", nil)
	if err != nil {
		// Not served by a swiftfs that answers (a dead mount): unmount.
		return ""
	}
	if st.Stats != nil && len(st.Stats.Dirty) == 0 {
		return ""
	}
	limit := st.DrainTimeout
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	type result struct {
		r   *response
		err error
	}
	done := make(chan result, 1)
	go func() { r, err := control(dir, "sync", nil); done <- result{r, err} }()
	select {
	case res := <-done:
		switch {
		case res.err != nil:
			return fmt.Sprintf("waiting for uploads: %v", res.err)
		case res.r.Error != "":
			return fmt.Sprintf("not every file could be uploaded (%s); they stay in the cache for the next mount (swiftfs status before unmounting lists them)", res.r.Error)
		}
		return ""
	case <-time.After(limit):
		return fmt.Sprintf("uploads still pending after %v (--drain-timeout); they stay in the cache for the next mount", limit)
	}
}

// runUmountHelper is main for umount.fuse.swiftfs.
func runUmountHelper(args []string, stdout, stderr io.Writer) int {
	u, err := parseUmountArgs(args)
	if err == flagHelp {
		fmt.Fprint(stdout, umountUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "umount.fuse.swiftfs: %v\n\n%s", err, umountUsage)
		return mountExitUsage
	}
	flags := 0
	switch {
	case u.lazy:
		flags = syscall.MNT_DETACH
	case u.force:
		flags = syscall.MNT_FORCE
	default:
		if msg := drainBeforeUnmount(u.dir); msg != "" {
			fmt.Fprintf(stderr, "umount.fuse.swiftfs: %s: %s\n", u.dir, msg)
		}
	}
	if err := syscall.Unmount(u.dir, flags); err != nil {
		if err == syscall.EBUSY {
			fmt.Fprintf(stderr, "umount.fuse.swiftfs: %s: target is busy\n", u.dir)
		} else {
			fmt.Fprintf(stderr, "umount.fuse.swiftfs: %s: %v\n", u.dir, err)
		}
		return mountExitFail
	}
	if u.verbose {
		fmt.Fprintf(stderr, "umount.fuse.swiftfs: %s unmounted\n", u.dir)
	}
	return 0
}
