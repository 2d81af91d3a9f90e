package fs

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// testFS is an FS without client or cache: enough for parsing and merging.
func testFS(prefix string) *FS {
	f := &FS{opts: Options{FileMode: 0o644, DirMode: 0o755, UID: 7, GID: 8, MetadataTTL: 30 * time.Second,
		OverlayWindow: time.Minute, TombstoneTTL: time.Minute, LocalOnly: localOnly, Now: time.Now},
		names: names{prefix: prefix}, log: slog.New(slog.DiscardHandler), mountTime: time.Now(),
		dirs: map[string]*dirState{}, listing: map[string]*listCall{}, warned: map[string]bool{}}
	return f
}

// refParse is the map-based parsing swiftfs had before listings were kept
// compactly: the reference for the listing's contents.
func refParse(f *FS, dir string, pages [][]swiftclient.ObjectInfo) (map[string]*nsEntry, *nsEntry) {
	fresh := map[string]*nsEntry{}
	var self *nsEntry
	prefix := f.names.dirPrefix(dir)
	for _, page := range pages {
		for _, oi := range page {
			if !strings.HasPrefix(oi.Name, prefix) {
				continue
			}
			rest := oi.Name[len(prefix):]
			if oi.Subdir {
				name := strings.TrimSuffix(rest, "/")
				if nameProblem(name) != "" || (dir == "" && hiddenAtRoot[name]) {
					continue
				}
				if old := fresh[name]; old != nil && old.kind == kindDir {
					continue
				}
				fresh[name] = &nsEntry{attrs: attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID, mtime: f.mountTime}}
				continue
			}
			if rest == "" {
				a := decode(oi.ContentType, nil, 0, oi.LastModified, attrs{kind: kindDir, perm: f.opts.DirMode, uid: f.opts.UID, gid: f.opts.GID})
				a.kind = kindDir
				self = &nsEntry{attrs: a, remote: true, etag: oi.ETag, markerName: oi.Name}
				continue
			}
			if nameProblem(rest) != "" || (dir == "" && hiddenAtRoot[rest]) || f.isLocalOnly(rest) {
				continue
			}
			a := decode(oi.ContentType, nil, oi.Size, oi.LastModified, attrs{kind: kindFile, perm: f.opts.FileMode, uid: f.opts.UID, gid: f.opts.GID})
			e := &nsEntry{attrs: a, etag: oi.ETag, remote: true, large: oi.LargeObject}
			if a.kind == kindDir {
				e.markerName = oi.Name
				e.size = 0
			}
			if old := fresh[rest]; old != nil && old.kind == kindDir && a.kind != kindDir {
				continue
			}
			fresh[rest] = e
		}
	}
	return fresh, self
}

// swiftList lists objects like Swift does with delimiter "/".
func swiftList(objects map[string]swiftclient.ObjectInfo, prefix string) []swiftclient.ObjectInfo {
	names := make([]string, 0, len(objects))
	for n := range objects {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []swiftclient.ObjectInfo
	last := ""
	for _, n := range names {
		if i := strings.IndexByte(n[len(prefix):], '/'); i >= 0 {
			sub := n[:len(prefix)+i+1]
			if sub != last {
				out = append(out, swiftclient.ObjectInfo{Name: sub, Subdir: true})
				last = sub
			}
			continue
		}
		out = append(out, objects[n])
	}
	return out
}

func checkListing(t *testing.T, l *listing, want map[string]*nsEntry) {
	t.Helper()
	if l.len() != len(want) {
		t.Fatalf("listing has %d entries, want %d", l.len(), len(want))
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		if got := l.name(i); got != n {
			t.Fatalf("name %d: %q, want %q", i, got, n)
		}
		if j := l.find(n); j != i {
			t.Fatalf("find(%q) = %d, want %d", n, j, i)
		}
		if got := l.entry(i); !reflect.DeepEqual(got, want[n]) {
			t.Fatalf("entry %q:\n got %+v\nwant %+v", n, got, want[n])
		}
		if l.mode(i) != want[n].mode() || l.kindAt(i) != want[n].kind {
			t.Fatalf("mode of %q: %o, want %o", n, l.mode(i), want[n].mode())
		}
		if l.find(n+"\x00") >= 0 || l.find(n[:len(n)-1]+"\x00") >= 0 {
			t.Fatalf("find of a name not listed near %q found one", n)
		}
	}
	if l.find("") >= 0 || l.find("\xff\xff") >= 0 {
		t.Fatal("find of a name not listed found one")
	}
}

// TestListingMatchesMap checks that the compact listing holds exactly
// what the map of entries held, for random listings with every odd case:
// common prefixes listed after names they sort before, files hidden by
// directories, markers with and without the slash, ETags that are not
// MD5s, times in several locations, names skipped.
func TestListingMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "a-", "a.b", "a0", "b", "ab", "x.sqlite3-journal", "", ".", "é", ".swiftfs-segments"}
	types := []string{"", "application/octet-stream", "application/directory", "application/link",
		"text/plain;swiftfs_mode=600;swiftfs_uid=1;swiftfs_gid=2;swiftfs_mtime=1700000000.5",
		"application/directory;swiftfs_mode=700;swiftfs_mtime=0", "x;swiftfs_mtime=99999999999999",
		"inode/fifo;swiftfs_mode=600;swiftfs_mtime=1700000000.5;swiftfs_atime=1.000000001",
		"inode/chardevice;swiftfs_mode=600;swiftfs_rdev=259;swiftfs_ctime=1800000000.25",
		"inode/socket;swiftfs_mode=755", "inode/blockdevice;swiftfs_rdev=2049"}
	etags := []string{"d41d8cd98f00b204e9800998ecf8427e", "", "D41D8CD98F00B204E9800998ECF8427E", "\"abc\"", "0123456789abcdef0123456789abcdef"}
	utc := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	times := []time.Time{utc, utc.Local(), {}, utc.In(time.FixedZone("X", 3600)), time.Unix(0, 0)}
	for round := 0; round < 300; round++ {
		prefix := []string{"", "p/", "p/q/"}[round%3]
		dir := strings.TrimSuffix(prefix, "/")
		f := testFS("")
		objects := map[string]swiftclient.ObjectInfo{}
		for range 1 + rng.IntN(40) {
			var parts []string
			for range 1 + rng.IntN(3) {
				parts = append(parts, segs[rng.IntN(len(segs))])
			}
			name := prefix + strings.Join(parts, "/")
			if rng.IntN(5) == 0 {
				name += "/"
			}
			if rng.IntN(30) == 0 {
				name = prefix
			}
			objects[name] = swiftclient.ObjectInfo{Name: name, Size: rng.Int64N(100),
				ETag: etags[rng.IntN(len(etags))], LastModified: times[rng.IntN(len(times))],
				ContentType: types[rng.IntN(len(types))], LargeObject: rng.IntN(4) == 0}
		}
		all := swiftList(objects, prefix)
		var pages [][]swiftclient.ObjectInfo
		for len(all) > 0 {
			k := min(len(all), 1+rng.IntN(7))
			pages = append(pages, all[:k:k])
			all = all[k:]
		}
		if len(pages) > 1 && round%2 == 0 {
			// A server that repeats an entry on a later page, changed.
			p := pages[rng.IntN(len(pages)-1)]
			e := p[rng.IntN(len(p))]
			e.Size++
			last := len(pages) - 1
			pages[last] = append([]swiftclient.ObjectInfo{e}, pages[last]...)
		}
		want, wantSelf := refParse(f, dir, pages)
		b := newListBuilder(f.names.dirPrefix(dir), f.mountTime, func(msg, object string) {})
		var self *nsEntry
		for _, p := range pages {
			f.parsePage(dir, p, b, &self)
		}
		l := b.finish()
		checkListing(t, l, want)
		if !reflect.DeepEqual(self, wantSelf) {
			t.Fatalf("self: %+v, want %+v", self, wantSelf)
		}
	}
}

// TestListingLarge crosses chunk boundaries, sorted and not.
func TestListingLarge(t *testing.T) {
	f := testFS("")
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, chunkLen + 1, 3*chunkLen + 17} {
		objects := map[string]swiftclient.ObjectInfo{}
		mt := time.Unix(1700000000, 0).UTC()
		for i := range n {
			name := fmt.Sprintf("d/f%06d", i)
			if i%1000 == 7 {
				name = fmt.Sprintf("d/f%06d/sub", i-1) // "f000006/" is listed after "f000006-…" names: unsorted
			}
			objects[name] = swiftclient.ObjectInfo{Name: name, Size: int64(i), ETag: "d41d8cd98f00b204e9800998ecf8427e", LastModified: mt}
			if i%1000 == 6 {
				objects[name+"-x"] = swiftclient.ObjectInfo{Name: name + "-x", LastModified: mt}
			}
		}
		page := swiftList(objects, "d/")
		want, _ := refParse(f, "d", [][]swiftclient.ObjectInfo{page})
		b := newListBuilder("d/", f.mountTime, func(msg, object string) {})
		var self *nsEntry
		f.parsePage("d", page, b, &self)
		checkListing(t, b.finish(), want)
	}
}

func streamNames(t *testing.T, d *dirStream) []string {
	t.Helper()
	var out []string
	for d.HasNext() {
		e, errno := d.Next()
		if errno != 0 {
			t.Fatal(errno)
		}
		if e.Off != uint64(len(out)+1) {
			t.Fatalf("entry %q has offset %d, want %d", e.Name, e.Off, len(out)+1)
		}
		out = append(out, e.Name)
	}
	return out
}

// TestDirStateOverlay checks the listing plus its changes: entries, count
// and what readdir streams (in order, with seeks).
func TestDirStateOverlay(t *testing.T) {
	f := testFS("")
	b := newListBuilder("", f.mountTime, nil)
	for _, n := range []string{"b", "d", "f", "h"} {
		b.add(n, nsEntry{attrs: attrs{kind: kindFile, perm: 0o644, mtime: f.mountTime}, remote: true}, false)
	}
	ds := &dirState{}
	f.dirs[""] = ds
	f.mergeLocked("", b.finish(), nil, time.Now(), nil)
	if ds.len() != 4 {
		t.Fatalf("len %d", ds.len())
	}
	dir := &nsEntry{attrs: attrs{kind: kindDir, perm: 0o700}}
	f.setEntry("a", dir)
	f.setEntry("d", &nsEntry{attrs: attrs{kind: kindFile, perm: 0o600}})
	f.setEntry("i", &nsEntry{attrs: attrs{kind: kindFile, perm: 0o600}})
	f.removeEntry("f")
	f.removeEntry("x") // not there
	f.removeEntry("i")
	f.updateEntry("h", func(e *nsEntry) { e.perm = 0o400 })
	if ds.len() != 4 || ds.has("f") || ds.has("i") || !ds.has("a") || ds.get("d").perm != 0o600 || ds.get("h").perm != 0o400 {
		t.Fatalf("after changes: len %d, entries %v", ds.len(), ds.delta)
	}
	d := &dirStream{n: &node{}, s: f.dirSnapshot("")}
	want := []string{"a", "b", "d", "h"}
	if got := streamNames(t, d); !slices.Equal(got, want) {
		t.Fatalf("readdir %v, want %v", got, want)
	}
	f.setEntry("c", &nsEntry{attrs: attrs{kind: kindFile}})
	if d.Seekdir(context.Background(), 2) != 0 {
		t.Fatal("seek")
	}
	e, _ := d.Next()
	if e.Name != "d" || e.Off != 3 || e.Mode != syscall.S_IFREG|0o600 {
		t.Fatalf("after seek to 2: %+v", e)
	}
	if d.Seekdir(context.Background(), 0) != 0 || !slices.Equal(streamNames(t, d), want) {
		t.Fatal("rewind: the snapshot changed")
	}
	if d.Seekdir(context.Background(), 5) != syscall.EINVAL {
		t.Fatal("seek past the end")
	}
	if got := streamNames(t, &dirStream{n: &node{}, s: f.dirSnapshot("")}); !slices.Equal(got, []string{"a", "b", "c", "d", "h"}) {
		t.Fatalf("new readdir %v", got)
	}
	// A new listing: local changes stay for the overlay window, "f" stays
	// hidden by its tomb, the untouched listed names follow the listing.
	b = newListBuilder("", f.mountTime, nil)
	for _, n := range []string{"b", "e", "f"} {
		b.add(n, nsEntry{attrs: attrs{kind: kindFile, perm: 0o644, mtime: f.mountTime}, remote: true}, false)
	}
	f.mergeLocked("", b.finish(), nil, time.Now().Add(-time.Second), map[string]int64{"g": 5, "sub/z": 1, "b": 9})
	got := streamNames(t, &dirStream{n: &node{}, s: f.dirSnapshot("")})
	if want := []string{"a", "b", "c", "d", "e", "g", "h", "sub"}; !slices.Equal(got, want) {
		t.Fatalf("after listing: %v, want %v", got, want)
	}
	if ds.len() != len(got) || ds.get("b").size != 9 || ds.get("g").size != 5 || ds.get("sub").kind != kindDir {
		t.Fatalf("after listing: len %d, b %+v", ds.len(), ds.get("b"))
	}
}

// BenchmarkListingMemory reports the heap a listing of a million names
// keeps (B/name) and what listing them allocates in fs (not counting the
// client's decoding). SWIFTFS_HEAPPROFILE=file writes a heap profile.
func BenchmarkListingMemory(b *testing.B) {
	const n = 1000000
	f := testFS("")
	mt := time.Unix(1700000000, 0).UTC()
	var pages [][]swiftclient.ObjectInfo
	for i := 0; i < n; i += 10000 {
		page := make([]swiftclient.ObjectInfo, 0, 10000)
		for j := i; j < i+10000; j++ {
			page = append(page, swiftclient.ObjectInfo{Name: fmt.Sprintf("big/f%07d", j), Size: 1024,
				ETag: "0123456789abcdef0123456789abcdef", LastModified: mt, ContentType: "application/octet-stream"})
		}
		pages = append(pages, page)
	}
	b.ResetTimer()
	for range b.N {
		before := heapInUse()
		lb := newListBuilder("big/", f.mountTime, nil)
		var self *nsEntry
		for _, p := range pages {
			f.parsePage("big", p, lb, &self)
		}
		l := lb.finish()
		writeHeapProfile(b)
		b.ReportMetric(float64(heapInUse()-before)/n, "B/name")
		if l.len() != n {
			b.Fatal(l.len())
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func writeHeapProfile(b *testing.B) {
	p := os.Getenv("SWIFTFS_HEAPPROFILE")
	if p == "" {
		return
	}
	runtime.GC()
	fh, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	if err := pprof.WriteHeapProfile(fh); err != nil {
		b.Fatal(err)
	}
}

// TestListingTimesOnlyWhereKept checks that atime, ctime, rdev and the
// special kinds round-trip through the compact listing, and that a chunk
// whose entries keep no atime or ctime has no times array (a directory of
// files that were only written costs no more than before).
func TestListingTimesOnlyWhereKept(t *testing.T) {
	f := testFS("")
	mt := time.Unix(1700000000, 5).UTC()
	b := newListBuilder("", f.mountTime, nil)
	var want []nsEntry
	for i := range chunkLen + 3 {
		e := nsEntry{attrs: attrs{kind: kindFile, perm: 0o644, mtime: mt, size: int64(i)}, remote: true}
		if i >= chunkLen {
			// Only the second chunk has entries that keep times.
			e.kind = []kind{kindFIFO, kindChar, kindSocket}[i-chunkLen]
			e.rdev = uint32(i)
			e.ctime = mt.UnixNano() + int64(i)
			if i == chunkLen+1 {
				e.atime = 1
			}
		}
		want = append(want, e)
		b.add(fmt.Sprintf("n%06d", i), e, false)
	}
	l := b.finish()
	if l.chunks[0].times != nil {
		t.Errorf("the first chunk keeps no times but has a times array of %d", len(l.chunks[0].times))
	}
	if l.chunks[1].times == nil {
		t.Error("the second chunk has entries with a ctime but no times array")
	}
	for i, w := range want {
		got := l.entry(i)
		if got.attrs != w.attrs {
			t.Fatalf("entry %d: got %+v, want %+v", i, got.attrs, w.attrs)
		}
	}
}
