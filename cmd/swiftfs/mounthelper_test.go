package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTranslateMountOptions(t *testing.T) {
	cases := []struct {
		opts   string
		sloppy bool
		want   string // flags joined by spaces
		err    string // part of the error, "" for none
		warn   string
	}{
		{opts: "rw,_netdev,nofail,auto,noauto,user,nouser,users,defaults,x-systemd.automount,x-systemd.requires=network-online.target,comment=x", want: "--read-only=false"},
		{opts: "ro,noexec,nosuid,nodev,noatime", want: "--read-only --noexec"},
		{opts: "exec", want: "--noexec=false"},
		{opts: "cache_size=2G,write_back_delay=1s,allow_other", want: "--cache-size=2G --write-back-delay=1s --allow-other"},
		{opts: "password_file=/etc/swiftfs/pass,credentials_file=/etc/swiftfs/c.env", want: "--password-file=/etc/swiftfs/pass --credentials-file=/etc/swiftfs/c.env"},
		{opts: `registry_patterns="*.db,*.sqlite",read_only=false`, want: "--registry-patterns=*.db,*.sqlite --read-only=false"},
		{opts: "daemon,default_permissions", want: ""},
		{opts: "", want: ""},
		{opts: "frobnicate", err: `unknown option "frobnicate" (there is no swiftfs mount flag --frobnicate`},
		{opts: "frobnicate,ro", sloppy: true, want: "--read-only", warn: `ignoring unknown option "frobnicate"`},
		{opts: "cache_size", err: "option cache_size needs a value (cache_size=...)"},
		{opts: "password=hunter2", err: "option password: secrets do not belong in mount options"},
		{opts: "key=hunter2", err: "option key: secrets do not belong"},
		{opts: "os_password=hunter2", err: "option os_password: secrets do not belong"},
		{opts: "ST_KEY=hunter2", err: "option ST_KEY: secrets do not belong"},
		{opts: "application_credential_secret=x", err: "secrets do not belong"},
		{opts: "suid", err: "always nosuid,nodev"},
		{opts: "dev", err: "always nosuid,nodev"},
	}
	for _, c := range cases {
		flags, warnings, err := translateMountOptions(c.opts, c.sloppy)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got error %v, want one containing %q", c.opts, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q: the error repeats the secret: %v", c.opts, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.opts, err)
			continue
		}
		if got := strings.Join(flags, " "); got != c.want {
			t.Errorf("%q: got flags %q, want %q", c.opts, got, c.want)
		}
		if got := strings.Join(warnings, "; "); got != c.warn {
			t.Errorf("%q: got warnings %q, want %q", c.opts, got, c.warn)
		}
	}
}

func TestParseHelperArgs(t *testing.T) {
	cases := []struct {
		args []string
		want string // mountArgs joined, or the error
	}{
		{[]string{"demo:pre", "/mnt", "-o", "ro,cache_size=1G"}, "--read-only --cache-size=1G --daemon -- demo:pre /mnt"},
		{[]string{"demo", "/mnt", "-n", "-v", "-o", "rw", "-t", "fuse.swiftfs"}, "--read-only=false --daemon -- demo /mnt"},
		{[]string{"demo", "/mnt", "-ocache_size=1G", "-o", "ro"}, "--cache-size=1G --read-only --daemon -- demo /mnt"},
		{[]string{"demo", "/mnt"}, "--daemon -- demo /mnt"},
		{[]string{"demo"}, "needs CONTAINER[:PREFIX] and MOUNTPOINT"},
		{[]string{"demo", "/mnt", "-o"}, "-o needs an argument"},
		{[]string{"demo", "/mnt", "-t", "nfs"}, `file system type "nfs" is not swiftfs`},
		{[]string{"demo", "/mnt", "-N", "1234"}, "mount namespaces (-N) are not supported"},
		{[]string{"demo", "/mnt", "-x"}, `unknown argument "-x"`},
	}
	for _, c := range cases {
		h, err := parseHelperArgs(c.args)
		var got string
		if err == nil {
			var margs []string
			margs, _, err = h.mountArgs()
			got = strings.Join(margs, " ")
		}
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
	h, err := parseHelperArgs([]string{"demo", "/mnt", "-sfnv"})
	if err != nil || !h.sloppy || !h.fake || !h.verbose {
		t.Errorf("-sfnv: got %+v, %v", h, err)
	}
}

func TestRunMountHelper(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "Usage: mount.fuse.swiftfs"},
		{[]string{"demo", dir, "-f", "-o", "cache_size=1G,_netdev"}, 0, ""},
		{[]string{"demo", dir, "-f", "-o", "cache_size=lots"}, mountExitUsage, `--cache-size="lots"`},
		{[]string{"demo", dir, "-o", "password=x"}, mountExitUsage, "secrets do not belong in mount options"},
		{[]string{"demo", dir, "-o", "bogus"}, mountExitUsage, `unknown option "bogus"`},
		{[]string{"demo", dir + "/missing", "-o", "ro"}, mountExitFail, "no such file or directory"},
		{[]string{"demo"}, mountExitUsage, "needs CONTAINER[:PREFIX] and MOUNTPOINT"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := runMountHelper(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("%q: got code %d, output %q; want code %d containing %q", c.args, code, out.String()+errb.String(), c.code, c.want)
		}
	}
}

func TestIsMountHelper(t *testing.T) {
	for argv0, want := range map[string]bool{
		"/sbin/mount.fuse.swiftfs": true, "mount.swiftfs": true, "/usr/local/bin/swiftfs": false,
		"swiftfs": false, "/sbin/mount.fuse": false,
	} {
		if got := isMountHelper(argv0); got != want {
			t.Errorf("isMountHelper(%q) = %v", argv0, got)
		}
	}
}

func TestReadCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string, mode os.FileMode) string {
		p := filepath.Join(dir, "c.env")
		os.Remove(p)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "# swift\nexport OS_AUTH_URL=http://k:5000/v3\nOS_USERNAME='j doe'\n\n  ST_USER=\"a:b\"\nOS_PASSWORD='s3cr$t'\n"
	vars, err := readCredentialsFile(write(good, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"OS_AUTH_URL": "http://k:5000/v3", "OS_USERNAME": "j doe", "ST_USER": "a:b", "OS_PASSWORD": "s3cr$t"}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s: got %q, want %q", k, vars[k], v)
		}
	}
	if len(vars) != len(want) {
		t.Errorf("got %d variables, want %d", len(vars), len(want))
	}
	bad := []struct {
		body string
		mode os.FileMode
		want string
	}{
		{good, 0o640, "must not be accessible by group or others"},
		{"read -sr OS_PASSWORD_INPUT\n", 0o600, "line 1: not an assignment of an OS_* or ST_* variable"},
		{"HOME=/root\n", 0o600, "line 1: not an assignment"},
		{"OS_PASSWORD=$OS_PASSWORD_INPUT\n", 0o600, "line 1 (OS_PASSWORD): quotes, spaces or shell syntax"},
		{"OS_PASSWORD=\"a$b\"\n", 0o600, "line 1 (OS_PASSWORD): shell expansion"},
		{"# nothing\n", 0o600, "sets no OS_* or ST_* variable"},
	}
	for _, c := range bad {
		_, err := readCredentialsFile(write(c.body, c.mode))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q (mode %o): got %v, want an error containing %q", c.body, c.mode, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "a$b")) {
			t.Errorf("the error shows a value: %v", err)
		}
	}
}

func TestUseCredentialsFileReplacesEnvironment(t *testing.T) {
	for _, k := range []string{"ST_AUTH", "ST_USER"} {
		t.Setenv(k, "") // restored after the test
	}
	t.Setenv("OS_AUTH_URL", "http://other/v3")
	t.Setenv("ST_KEY", "stale")
	p := filepath.Join(t.TempDir(), "c.env")
	os.WriteFile(p, []byte("ST_AUTH=http://127.0.0.1:8080/auth/v1.0\nST_USER=test:tester\n"), 0o600)
	if err := useCredentialsFile(p); err != nil {
		t.Fatal(err)
	}
	got := os.Getenv("OS_AUTH_URL") + "|" + os.Getenv("ST_KEY") + "|" + os.Getenv("ST_AUTH")
	if got != "||http://127.0.0.1:8080/auth/v1.0" {
		t.Errorf("environment after the file: %q", got)
	}
}

func TestMountHelpGroups(t *testing.T) {
	var out bytes.Buffer
	printMountUsage(&out)
	help := out.String()
	for _, o := range options {
		// Each flag is listed once, as --name, after its group's title.
		i := strings.Index(help, "\n  --"+o.name+"\n")
		if i < 0 {
			i = strings.Index(help, "\n  --"+o.name+" ")
		}
		if i < 0 {
			t.Errorf("help lacks --%s", o.name)
			continue
		}
		title := o.group
		for _, g := range groupTitles {
			if g.group == o.group {
				title = g.title
			}
		}
		if g := strings.LastIndex(help[:i], "\n\n"); g < 0 || !strings.HasPrefix(help[g+2:], title+":\n") {
			t.Errorf("--%s is not under %q", o.name, title)
		}
	}
	if strings.Contains(help, "\n  -"+options[0].name) {
		t.Errorf("help shows -flag, not --flag")
	}
}

func TestParseUmountArgs(t *testing.T) {
	cases := []struct {
		args []string
		want string // "dir force lazy verbose", or the error
	}{
		{[]string{"/mnt"}, "/mnt false false false"},
		{[]string{"/mnt", "-n", "-v", "-t", "fuse.swiftfs"}, "/mnt false false true"},
		{[]string{"/mnt", "-l"}, "/mnt false true false"},
		{[]string{"-f", "/mnt"}, "/mnt true false false"},
		{[]string{"/mnt", "-fl"}, "/mnt true true false"},
		{nil, "needs MOUNTPOINT"},
		{[]string{"/mnt", "/other"}, "needs MOUNTPOINT"},
		{[]string{"/mnt", "-t", "ext4"}, `file system type "ext4" is not swiftfs`},
		{[]string{"/mnt", "-N", "12"}, "mount namespaces (-N) are not supported"},
		{[]string{"/mnt", "-q"}, `unknown argument "-q"`},
	}
	for _, c := range cases {
		u, err := parseUmountArgs(c.args)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprintf("%s %v %v %v", u.dir, u.force, u.lazy, u.verbose)
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
	if !isUmountHelper("/sbin/umount.fuse.swiftfs") || isUmountHelper("/sbin/mount.fuse.swiftfs") {
		t.Errorf("isUmountHelper")
	}
	var out, errb bytes.Buffer
	if code := runUmountHelper([]string{t.TempDir()}, &out, &errb); code != mountExitFail || !strings.Contains(errb.String(), "umount.fuse.swiftfs: ") {
		t.Errorf("umount of a directory that is not mounted: code %d, %q", code, errb.String())
	}
}
