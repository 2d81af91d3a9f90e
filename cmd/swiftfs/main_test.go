package main

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"mount"}, 2, "mount needs CONTAINER[:PREFIX] and MOUNTPOINT"},
		{[]string{"mount", "--cache-size", "lots", "c", dir}, 2, `--cache-size="lots"`},
		{[]string{"mount", "--write-back", "maybe", "c", dir}, 2, "must be async or sync"},
		{[]string{"mount", "--segment-size", "10G", "c", dir}, 2, "between 1M and 5G"},
		{[]string{"mount", "--slo-threshold", "100K", "c", dir}, 2, `--slo-threshold="100K": must be between 1M and 5G`},
		{[]string{"mount", "--verify", "sometimes", "c", dir}, 2, "must be strict or lazy"},
		{[]string{"mount", "--log-level", "loud", "c", dir}, 2, "must be debug, info, warn or error"},
		{[]string{"mount", "--no-such-flag", "c", dir}, 2, "flag provided but not defined"},
		{[]string{"mount", "--metrics-addr", "9100", "c", dir}, 2, `"9100" is not HOST:PORT or :PORT`},
		{[]string{"mount", "--metrics-addr", ":99999", "c", dir}, 2, `port "99999" is not a number`},
		// Before connecting to Swift (no credentials needed to get here).
		{[]string{"mount", "--metrics-addr", taken, "c", dir}, 1, "--metrics-addr: metrics: listen tcp " + taken},
		{[]string{"mount", "a/b", dir}, 2, `invalid container name "a/b"`},
		{[]string{"mount", "c", dir + "/missing"}, 1, "no such file or directory"},
		{[]string{"status"}, 2, "usage: swiftfs status MOUNTPOINT"},
		{[]string{"status", dir}, 1, "no swiftfs mount at"},
		{[]string{"sync", dir}, 1, "no swiftfs mount at"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("run(%q): got code %d, output %q; want code %d containing %q", c.args, code, out.String()+errb.String(), c.code, c.want)
		}
	}
}

func TestVersionAndFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "swiftfs ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"flags"}, &out, &out); code != 0 {
		t.Fatalf("flags: %d", code)
	}
	for _, o := range options {
		if !strings.Contains(out.String(), "`--"+o.name+"`") {
			t.Errorf("flags table lacks --%s", o.name)
		}
	}
	out.Reset()
	run([]string{"mount", "--help"}, &out, &out)
	for _, o := range options {
		if !strings.Contains(out.String(), "-"+o.name) || !strings.Contains(out.String(), "(default ") {
			t.Errorf("mount --help lacks --%s or its default", o.name)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{"0": 0, "512": 512, "1K": 1024, "10M": 10 << 20, "1.5G": 3 << 29, "2GiB": 2 << 30, "1t": 1 << 40}
	for in, want := range cases {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q): got %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1G", "1Q"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}

func TestReorderFlags(t *testing.T) {
	cfg := &config{}
	fs := flagSet(cfg)
	got := reorderFlags(fs, []string{"c:p", "/mnt", "--read-only", "--cache-size", "1G", "--log-level=debug"})
	want := "--read-only --cache-size 1G --log-level=debug -- c:p /mnt"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
}

func TestCacheSubdirStable(t *testing.T) {
	a := cacheSubdir("/c", "http://x/auth", "cont", "p/")
	if a != cacheSubdir("/c", "http://x/auth", "cont", "p/") {
		t.Errorf("not stable")
	}
	for _, other := range []string{cacheSubdir("/c", "http://x/auth", "cont", ""), cacheSubdir("/c", "http://y/auth", "cont", "p/"), cacheSubdir("/c", "http://x/auth", "cont2", "p/")} {
		if other == a {
			t.Errorf("two mounts share %s", a)
		}
	}
	if got := cacheSubdir("/c", "", "../../etc", ""); filepath.Dir(got) != "/c" {
		t.Errorf("unsafe cache dir %q", got)
	}
}
