package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestStatsCounters: Stats counts hits and misses with the bytes of the
// objects involved, tells when each dirty file became dirty, and counts
// conflicts; these are what the metrics export.
func TestStatsCounters(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := newEnv(t, func(o *Options) {
		o.Now = func() time.Time { return now }
		o.WriteBackDelay = time.Hour
		o.CheckConflict = func(name string) bool { return name == "shared" }
	})
	big := ev.remote("big", randBytes(3000))
	steps := []struct {
		name string
		do   func()
		want Stats // only the counters compared below
	}{
		{"miss downloads", func() {
			e, err := ev.c.Open("big", big, false)
			if err != nil {
				t.Fatal(err)
			}
			readAll(context.Background(), e)
			ev.c.Release(e)
		}, Stats{Misses: 1, MissBytes: 3000}},
		{"hit reuses", func() {
			e, err := ev.c.Open("big", big, false)
			if err != nil {
				t.Fatal(err)
			}
			if !ev.c.Reopen(e) {
				t.Fatal("Reopen failed")
			}
			ev.c.Release(e)
			ev.c.Release(e)
		}, Stats{Misses: 1, MissBytes: 3000, Hits: 2, HitBytes: 6000}},
		{"a new file is a miss of no bytes", func() { ev.create("new", []byte("12345")) },
			Stats{Misses: 2, MissBytes: 3000, Hits: 2, HitBytes: 6000}},
		{"a conflict is counted", func() {
			info := ev.remote("shared", []byte("base"))
			e, _ := ev.c.Open("shared", info, false)
			readAll(context.Background(), e)
			e.WriteAt([]byte("ours"), 0)
			ev.remote("shared", []byte("theirs"))
			if err := e.Sync(context.Background()); !errors.Is(err, ErrConflict) {
				t.Fatalf("Sync: %v, want a conflict", err)
			}
			ev.c.Release(e)
		}, Stats{Misses: 3, MissBytes: 3004, Hits: 2, HitBytes: 6000, ConflictsTotal: 1}},
	}
	for _, s := range steps {
		s.do()
		got := ev.c.Stats()
		if got.Hits != s.want.Hits || got.Misses != s.want.Misses || got.HitBytes != s.want.HitBytes ||
			got.MissBytes != s.want.MissBytes || got.ConflictsTotal != s.want.ConflictsTotal {
			t.Errorf("%s: hits %d (%d B) misses %d (%d B) conflicts %d, want %d (%d B) %d (%d B) %d", s.name,
				got.Hits, got.HitBytes, got.Misses, got.MissBytes, got.ConflictsTotal,
				s.want.Hits, s.want.HitBytes, s.want.Misses, s.want.MissBytes, s.want.ConflictsTotal)
		}
	}
	// "new" is dirty since it was written; it keeps that time until it
	// is uploaded.
	now = now.Add(time.Minute)
	st := ev.c.Stats()
	if len(st.Dirty) != 1 || st.Dirty[0].Name != "new" || !st.Dirty[0].Since.Equal(now.Add(-time.Minute)) {
		t.Errorf("dirty files: %+v, want new since %v", st.Dirty, now.Add(-time.Minute))
	}
}
