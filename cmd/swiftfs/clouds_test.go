package main

import (
	"strings"
	"testing"
)

// TestOSCloudFlag: the flag is named exactly --os-cloud (fstab's
// -o os_cloud=NAME maps to it) in mount and in both registry subcommands.
func TestOSCloudFlag(t *testing.T) {
	cfg := &config{}
	if err := flagSet(cfg).Parse([]string{"--os-cloud", "lsst"}); err != nil || cfg.osCloud != "lsst" {
		t.Errorf("mount --os-cloud lsst: %v, osCloud %q", err, cfg.osCloud)
	}
	if !strings.Contains(markdownTable(), "| `--os-cloud` | `none` | auth |") {
		t.Errorf("flag table lacks --os-cloud:\n%s", markdownTable())
	}
	for _, sub := range []string{"build", "check"} {
		var out strings.Builder
		run([]string{"registry", sub, "--help"}, &out, &out)
		if !strings.Contains(out.String(), "-os-cloud") {
			t.Errorf("registry %s --help lacks --os-cloud:\n%s", sub, out.String())
		}
	}
}
