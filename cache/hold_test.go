package cache

import (
	"context"
	"testing"
	"time"
)

// A rename over a file the kernel knows holds the old copy (Hold): it must
// stay readable, with its old content, after RenameEntry replaced it, and
// go from disk when the hold is released.
func TestHoldKeepsReplacedCopy(t *testing.T) {
	cases := []struct {
		name  string
		setup func(ev *env) // makes "final" (or not)
		want  string        // the held content; "" for no hold
	}{
		{"absent", func(ev *env) {}, ""},
		{"dirty", func(ev *env) { ev.create("final", []byte("old dirty")) }, "old dirty"},
		{"downloaded", func(ev *env) {
			e, err := ev.c.Open("final", ev.remote("final", []byte("old remote")), false)
			if err != nil {
				ev.t.Fatal(err)
			}
			if _, err := readAll(context.Background(), e); err != nil {
				ev.t.Fatal(err)
			}
			ev.c.Release(e)
		}, "old remote"},
		{"download not complete", func(ev *env) {
			gate := ev.client.setGate(3)
			ev.t.Cleanup(func() { close(gate) })
			e, err := ev.c.Open("final", ev.remote("final", []byte("old remote")), false)
			if err != nil {
				ev.t.Fatal(err)
			}
			ev.c.Release(e)
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
			tc.setup(ev)
			held := ev.c.Hold("final")
			if (held != nil) != (tc.want != "") {
				t.Fatalf("Hold: got %v, want a hold %v", held != nil, tc.want != "")
			}
			ev.create("tmp", []byte("new"))
			if _, _, _, err := ev.c.RenameEntry("tmp", "final"); err != nil {
				t.Fatal(err)
			}
			if held == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := readAll(ctx, held)
			if err != nil || string(got) != tc.want || held.Size() != int64(len(tc.want)) {
				t.Errorf("held copy after the rename: %q (size %d, err %v), want %q", got, held.Size(), err, tc.want)
			}
			if cur := ev.c.Lookup("final"); cur == nil || cur == held || cur.Size() != 3 {
				t.Errorf("final's entry after the rename: %v, want the new file's", cur)
			}
			if err := ev.c.Release(held); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "old copy deleted", func() bool { return ev.dataBytes() == 3 })
		})
	}
}

// Reopen shares the copy of an open file even after its name went (an
// unlink, or a rename over it): a further descriptor must not get whatever
// the name holds now.
func TestReopenAfterRemove(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.WriteBackDelay = time.Hour })
	e, err := ev.c.Open("f", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	e.MarkDirty()
	e.WriteAt([]byte("version 1"), 0)
	ev.c.Remove("f")
	ev.create("f", []byte("v2"))
	if !ev.c.Reopen(e) {
		t.Fatal("Reopen of an open entry refused")
	}
	ev.c.Release(e) // the first descriptor closes; the reopened one reads
	got, err := readAll(context.Background(), e)
	if err != nil || string(got) != "version 1" {
		t.Errorf("reopened copy: %q, %v; want %q", got, err, "version 1")
	}
	ev.c.Release(e)
	waitFor(t, "removed copy deleted", func() bool { return ev.dataBytes() == 2 })
	if ev.c.Reopen(e) {
		t.Error("Reopen of a closed entry accepted")
	}
}
