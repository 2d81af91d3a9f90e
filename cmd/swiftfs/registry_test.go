package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRegistryUsage(t *testing.T) {
	for _, k := range []string{"OS_AUTH_URL", "OS_STORAGE_URL", "OS_AUTH_TOKEN", "OS_USERNAME", "OS_PASSWORD", "ST_AUTH", "ST_USER", "ST_KEY"} {
		t.Setenv(k, "")
	}
	tmpl := "raw/raw_v%(visit)d_f%(filter)s.fits.gz"
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"registry"}, 2, "needs a subcommand"},
		{[]string{"registry", "help"}, 0, "registry build CONTAINER[:PREFIX] --template"},
		{[]string{"registry", "frob"}, 2, `unknown registry subcommand "frob"`},
		{[]string{"registry", "build", "c"}, 2, "needs --template"},
		{[]string{"registry", "build", "--template", tmpl}, 2, "need one CONTAINER[:PREFIX] argument"},
		{[]string{"registry", "build", "a/b", "--template", tmpl}, 2, `invalid container name "a/b"`},
		{[]string{"registry", "build", "c", "--template", "raw_v%d.fits"}, 2, "--template: template"},
		{[]string{"registry", "build", "c", "--template", tmpl, "--output", "dir/"}, 2, "must be an object name"},
		{[]string{"registry", "build", "c", "--template", tmpl, "--log-level", "loud"}, 2, "must be debug, info, warn or error"},
		{[]string{"registry", "check", "c", "--template", "raw_v%(visit"}, 2, "unterminated key"},
		{[]string{"registry", "check", "c", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"registry", "check", "c:repo", "--help"}, 0, "Usage: swiftfs registry check"},
		// No credentials in the environment: a clear error before any work.
		{[]string{"registry", "check", "c:repo"}, 1, "swiftfs: error:"},
		{[]string{"mount", "--registry-patterns", "[x", "c", t.TempDir()}, 2, `--registry-patterns="[x"`},
		{[]string{"mount", "--on-conflict", "merge", "c", t.TempDir()}, 2, `--on-conflict="merge": must be copy or overwrite`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("run(%q): got code %d, output %q; want code %d containing %q", c.args, code, out.String()+errb.String(), c.code, c.want)
		}
	}
}

// --on-conflict decides which names the cache checks: every one with copy,
// only registries with overwrite.
func TestCheckConflictHook(t *testing.T) {
	registry := func(name string) bool { return strings.HasSuffix(name, ".sqlite3") }
	cases := []struct {
		mode, name string
		want       bool
	}{
		{"copy", "log.txt", true},
		{"copy", "registry.sqlite3", true},
		{"overwrite", "log.txt", false},
		{"overwrite", "registry.sqlite3", true},
	}
	for _, c := range cases {
		if got := checkConflict(&config{onConflict: c.mode}, registry)(c.name); got != c.want {
			t.Errorf("--on-conflict=%s, %s: checked %v, want %v", c.mode, c.name, got, c.want)
		}
	}
}
