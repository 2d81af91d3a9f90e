//go:build integration && linux

package integration

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestNegativeLookupCached: a missing name, once looked up, is answered by
// the kernel's cache (the Butler probes many names that do not exist: each
// was a FUSE round trip), and a name made through this mount is visible at
// once all the same, whatever call makes it.
func TestNegativeLookupCached(t *testing.T) {
	c, _ := newContainer(t)
	addr := freeAddr(t)
	m := startMount(t, c, "", "--metrics-addr", addr)
	lookups := func() float64 {
		return scrapeMetrics(t, addr).get("swiftfs_fuse_request_duration_seconds", "op", "lookup")
	}
	if err := os.WriteFile(filepath.Join(m.dir, "src"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		make func(p string) error
	}{
		{"create", func(p string) error { return os.WriteFile(p, []byte("new"), 0o644) }},
		{"mkdir", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"symlink", func(p string) error { return os.Symlink("src", p) }},
		{"rename", func(p string) error { return os.Rename(filepath.Join(m.dir, "src"), p) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(m.dir, "absent-"+tc.name)
			// The kernel keeps the negative entry for the kernel TTL (1 s):
			// a pair of stats more than that apart (a loaded machine) asks
			// again, so a few pairs are tried; one without a LOOKUP shows
			// the cache.
			cached := false
			for i := 0; i < 5 && !cached; i++ {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("lstat of a missing name: %v", err)
				}
				before := lookups()
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("second lstat of a missing name: %v", err)
				}
				cached = lookups() == before
			}
			if !cached {
				t.Fatal("every second lstat of a missing name sent a LOOKUP: the kernel caches no negative entry")
			}
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("lstat right after the %s: %v (a stale negative entry)", tc.name, err)
			}
		})
	}
}
