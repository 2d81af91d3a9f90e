package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// swiftfs run as /sbin/mount.fuse.swiftfs (a link to the binary) is the
// mount(8) helper of the file system type fuse.swiftfs, so that
// `mount -t fuse.swiftfs CONTAINER[:PREFIX] DIR -o OPTIONS` and /etc/fstab
// lines work. mount(8) calls it as
//
//	mount.fuse.swiftfs SOURCE DIR [-s] [-f] [-n] [-v] [-o OPTIONS] [-t TYPE] [-N NS]
//
// with an empty environment when run from a shell with `env -i`, and
// at boot from systemd's mount units. The helper turns each option into
// the flag of the same name (`cache_size=2G` -> `--cache-size=2G`,
// `read_only` -> `--read-only`), drops the options meant for mount(8) and
// systemd, and mounts in the background (--daemon): it exits once the
// mount answers.

// helperNames are the base names that make swiftfs a mount helper.
var helperNames = []string{"mount.fuse.swiftfs", "mount.swiftfs"}

func isMountHelper(argv0 string) bool {
	base := filepath.Base(argv0)
	for _, n := range helperNames {
		if base == n {
			return true
		}
	}
	return false
}

// mount(8)'s exit codes (mount(8), EXIT STATUS).
const (
	mountExitUsage = 1  // incorrect invocation
	mountExitFail  = 32 // mount failure
)

const helperUsage = `Usage: mount.fuse.swiftfs CONTAINER[:PREFIX] MOUNTPOINT [-s] [-f] [-n] [-v] [-o OPTIONS]

The mount(8) helper of swiftfs ("mount -t fuse.swiftfs", /etc/fstab). Each option
key=value is the swiftfs mount flag --key value ("_" for "-"), each bare key a
boolean flag; ro, rw, noexec, exec, nosuid and nodev mean what they mean to
mount(8); auto, noauto, user, nouser, users, owner, group, defaults, _netdev,
nofail, atime options, comment=... and x-* are for mount(8) and systemd and are
ignored. Credentials: credentials_file=FILE and password_file=FILE (never a
password in the options). See docs/CONFIGURATION.md, "/etc/fstab and mount".
`

// ignoredMountOptions are the options of mount(8), systemd and the VFS that
// swiftfs has nothing to do with (atime is not kept: docs/SEMANTICS.md).
var ignoredMountOptions = map[string]bool{
	"auto": true, "noauto": true, "user": true, "nouser": true, "users": true,
	"owner": true, "group": true, "defaults": true, "_netdev": true, "nofail": true,
	"nosuid": true, "nodev": true, "atime": true, "noatime": true, "relatime": true,
	"norelatime": true, "strictatime": true, "nostrictatime": true, "lazytime": true,
	"nolazytime": true, "diratime": true, "nodiratime": true, "loud": true, "silent": true,
	"daemon":              true, // implied
	"default_permissions": true, // always: the kernel checks permissions
}

// renamedMountOptions are mount(8)'s spellings of swiftfs flags.
var renamedMountOptions = map[string]string{
	"ro":     "--read-only",
	"rw":     "--read-only=false",
	"noexec": "--noexec",
	"exec":   "--noexec=false",
}

// secretOption reports whether an option would put a secret in /etc/fstab
// and /proc/mounts, both readable by every user.
func secretOption(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	if n == "password_file" || n == "credentials_file" {
		return false
	}
	if strings.HasPrefix(n, "os_") && n != "os_cloud" || strings.HasPrefix(n, "st_") {
		return true
	}
	for _, w := range []string{"password", "passwd", "key", "secret", "token"} {
		if n == w || strings.HasSuffix(n, "_"+w) || strings.HasPrefix(n, w+"_") {
			return true
		}
	}
	return false
}

// splitMountOptions splits at commas outside double quotes (mount(8)
// passes `registry_patterns="*.db,*.sqlite"` as written) and drops the
// quotes around a value.
func splitMountOptions(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	out = append(out, cur.String())
	return out
}

// translateMountOptions turns a mount(8) option string into swiftfs mount
// flags. With sloppy (mount -s) an unknown option is reported in warnings
// and skipped; otherwise it is an error.
func translateMountOptions(opts string, sloppy bool) (flags, warnings []string, err error) {
	known := flagSet(&config{})
	for _, o := range splitMountOptions(opts) {
		name, val, hasVal := strings.Cut(strings.TrimSpace(o), "=")
		switch {
		case name == "":
			continue
		case ignoredMountOptions[name] || strings.HasPrefix(name, "x-") || name == "comment":
			continue
		case name == "suid" || name == "dev":
			return nil, nil, fmt.Errorf("option %s: swiftfs mounts are always nosuid,nodev", name)
		case secretOption(name):
			return nil, nil, fmt.Errorf("option %s: secrets do not belong in mount options (/etc/fstab and /proc/mounts are readable by every user); put the secret in a file of mode 0600 and name it with password_file= or credentials_file=", name)
		}
		if f, ok := renamedMountOptions[name]; ok && !hasVal {
			flags = append(flags, f)
			continue
		}
		flagName := strings.ReplaceAll(name, "_", "-")
		f := known.Lookup(flagName)
		if f == nil {
			if sloppy {
				warnings = append(warnings, fmt.Sprintf("ignoring unknown option %q", name))
				continue
			}
			return nil, nil, fmt.Errorf("unknown option %q (there is no swiftfs mount flag --%s; see swiftfs mount --help)", name, flagName)
		}
		isBool := f.Value.(*optValue).isBool
		switch {
		case hasVal:
			flags = append(flags, "--"+flagName+"="+val)
		case isBool:
			flags = append(flags, "--"+flagName)
		default:
			return nil, nil, fmt.Errorf("option %s needs a value (%s=...)", name, name)
		}
	}
	return flags, warnings, nil
}

// helperInvocation is what mount(8) asked for.
type helperInvocation struct {
	source, dir string
	options     []string // -o arguments, in order
	sloppy      bool     // -s
	fake        bool     // -f: check everything, do not mount
	verbose     bool     // -v
}

func parseHelperArgs(args []string) (*helperInvocation, error) {
	h := &helperInvocation{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "-t" || a == "-N":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs an argument", a)
			}
			i++
			switch a {
			case "-o":
				h.options = append(h.options, args[i])
			case "-t":
				if t := args[i]; t != "fuse.swiftfs" && t != "swiftfs" {
					return nil, fmt.Errorf("file system type %q is not swiftfs", t)
				}
			case "-N":
				return nil, errors.New("mount namespaces (-N) are not supported")
			}
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			h.options = append(h.options, a[2:])
		case a == "-h" || a == "--help":
			return nil, flagHelp
		case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "sfnv") == "":
			h.sloppy = h.sloppy || strings.Contains(a, "s")
			h.fake = h.fake || strings.Contains(a, "f")
			h.verbose = h.verbose || strings.Contains(a, "v")
		case len(a) > 1 && a[0] == '-':
			return nil, fmt.Errorf("unknown argument %q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return nil, errors.New("needs CONTAINER[:PREFIX] and MOUNTPOINT")
	}
	h.source, h.dir = pos[0], pos[1]
	return h, nil
}

var flagHelp = errors.New("help")

// mountArgs is the `swiftfs mount` command line of an invocation.
func (h *helperInvocation) mountArgs() ([]string, []string, error) {
	var flags, warnings []string
	for _, o := range h.options {
		f, w, err := translateMountOptions(o, h.sloppy)
		if err != nil {
			return nil, nil, err
		}
		flags = append(flags, f...)
		warnings = append(warnings, w...)
	}
	return append(append(flags, "--daemon", "--"), h.source, h.dir), warnings, nil
}

// runMountHelper is main for mount.fuse.swiftfs.
func runMountHelper(args []string, stdout, stderr io.Writer) int {
	h, err := parseHelperArgs(args)
	if err == flagHelp {
		fmt.Fprint(stdout, helperUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mount.fuse.swiftfs: %v\n\n%s", err, helperUsage)
		return mountExitUsage
	}
	margs, warnings, err := h.mountArgs()
	if err != nil {
		fmt.Fprintf(stderr, "mount.fuse.swiftfs: %s: %v\n", h.dir, err)
		return mountExitUsage
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "mount.fuse.swiftfs: %s: %s\n", h.dir, w)
	}
	if h.verbose {
		fmt.Fprintf(stderr, "mount.fuse.swiftfs: swiftfs mount %s\n", strings.Join(margs, " "))
	}
	if h.fake {
		// Everything but the mount: the flags and their values must parse.
		fset := flagSet(&config{})
		fset.SetOutput(io.Discard)
		if err := fset.Parse(margs); err != nil {
			fmt.Fprintf(stderr, "mount.fuse.swiftfs: %s: %v\n", h.dir, err)
			return mountExitUsage
		}
		return 0
	}
	if err := cmdMount(margs, stderr); err != nil {
		var ue usageError
		fmt.Fprintf(stderr, "mount.fuse.swiftfs: %s: %v\n", h.dir, err)
		if errors.As(err, &ue) {
			return mountExitUsage
		}
		return mountExitFail
	}
	return 0
}
