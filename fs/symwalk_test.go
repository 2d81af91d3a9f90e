package fs

import (
	"context"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestSymWalksStale(t *testing.T) {
	t0 := time.Unix(1000, 0)
	thread := func(pid uint32) context.Context {
		return fuse.NewContext(context.Background(), &fuse.Caller{Pid: pid})
	}
	var w symWalks
	w.add("d/cfg.tmp1", t0)
	steps := []struct {
		what string
		ctx  context.Context
		p    string
		at   time.Time
		want bool
	}{
		{"first lookup of thread 7", thread(7), "d/cfg.tmp1", t0.Add(time.Millisecond), true},
		{"its retry", thread(7), "d/cfg.tmp1", t0.Add(2 * time.Millisecond), false},
		{"another thread", thread(8), "d/cfg.tmp1", t0.Add(3 * time.Millisecond), true},
		{"another name", thread(9), "d/cfg.tmp2", t0.Add(3 * time.Millisecond), false},
		{"no caller", context.Background(), "d/cfg.tmp1", t0.Add(3 * time.Millisecond), false},
		{"after heldFor", thread(10), "d/cfg.tmp1", t0.Add(heldFor), false},
		{"and then forgotten", thread(11), "d/cfg.tmp1", t0.Add(time.Millisecond), false},
	}
	for _, s := range steps {
		if got := w.stale(s.ctx, s.p, s.at); got != s.want {
			t.Errorf("%s: stale = %v, want %v", s.what, got, s.want)
		}
	}
	w.add("d/a", t0)
	w.add("d/b", t0.Add(heldFor))
	if _, ok := w.tombs["d/a"]; ok {
		t.Error("an old entry was kept by add")
	}
}

// TestSymWalksRecent: the names whose ENOENT the kernel must not cache
// (every lookup of them within heldFor, told or not).
func TestSymWalksRecent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var w symWalks
	w.add("d/cfg.tmp1", t0)
	w.stale(fuse.NewContext(context.Background(), &fuse.Caller{Pid: 7}), "d/cfg.tmp1", t0)
	cases := []struct {
		p    string
		at   time.Time
		want bool
	}{
		{"d/cfg.tmp1", t0.Add(time.Millisecond), true},
		{"d/cfg.tmp1", t0.Add(heldFor - time.Millisecond), true},
		{"d/cfg.tmp2", t0.Add(time.Millisecond), false},
		{"d/cfg.tmp1", t0.Add(heldFor), false},
	}
	for _, c := range cases {
		if got := w.recent(c.p, c.at); got != c.want {
			t.Errorf("recent(%q, t0+%v) = %v, want %v", c.p, c.at.Sub(t0), got, c.want)
		}
	}
}

func TestSymlinkNamed(t *testing.T) {
	cases := []struct {
		target, src string
		want        bool
	}{
		{"/mnt/swift/repo/repositoryCfg.yamlx8d2", "repo/repositoryCfg.yamlx8d2", true},
		{"repositoryCfg.yamlx8d2", "repo/repositoryCfg.yamlx8d2", true},
		{"../other/repositoryCfg.yamlx8d2", "repo/repositoryCfg.yamlx8d2", true}, // a harmless false match
		{"/mnt/swift/repo/other", "repo/repositoryCfg.yamlx8d2", false},
		{"", "repo/x", false},
	}
	for _, c := range cases {
		if got := symlinkNamed(c.target, c.src); got != c.want {
			t.Errorf("symlinkNamed(%q, %q) = %v, want %v", c.target, c.src, got, c.want)
		}
	}
}
