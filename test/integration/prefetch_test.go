//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPrefetchSmallFiles reads small files through a real mount of the
// real Swift and counts the GETs of every object in the proxy log: a
// reader going through a directory in listing order gets the files
// prefetched (`swiftfs status` says so) and each object is fetched once
// (a prefetch never duplicates the reader's GET); a reader opening the
// files of another directory in an order with no step in listing order
// makes exactly one GET per file it opens, none for the others.
func TestPrefetchSmallFiles(t *testing.T) {
	if backend != "real" {
		t.Skip("counts GETs per object in the real Swift's proxy log; the swifttest tier has none (the real tier runs this test)")
	}
	const seqN, rndN, rndOpened = 200, 60, 40
	container, client := newContainer(t)
	data := func(dir string, i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("%s %d\n", dir, i)), 1000)[:4000+i]
	}
	var wg sync.WaitGroup
	names := make(chan [2]any)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				dir, i := n[0].(string), n[1].(int)
				putObject(t, client, fmt.Sprintf("%s/f%03d", dir, i), string(data(dir, i)), "application/octet-stream")
			}
		}()
	}
	for i := range seqN {
		names <- [2]any{"seq", i}
	}
	for i := range rndN {
		names <- [2]any{"rnd", i}
	}
	close(names)
	wg.Wait()

	m := startMount(t, container, "")
	// In listing order, as find, tar or a loop over ls do.
	entries, err := os.ReadDir(m.path("seq"))
	if err != nil || len(entries) != seqN {
		t.Fatalf("readdir: %d entries, %v", len(entries), err)
	}
	for i, e := range entries {
		b, err := os.ReadFile(m.path("seq/" + e.Name()))
		if err != nil || !bytes.Equal(b, data("seq", i)) {
			t.Fatalf("%s: %d bytes, %v", e.Name(), len(b), err)
		}
	}
	// Another order: no file right after the one before it.
	var order []int
	for seed := uint64(1); order == nil; seed++ {
		order = rand.New(rand.NewPCG(seed, 7)).Perm(rndN)
		for k := 1; k < rndOpened; k++ {
			if order[k] == order[k-1]+1 {
				order = nil
				break
			}
		}
	}
	for _, i := range order[:rndOpened] {
		b, err := os.ReadFile(m.path(fmt.Sprintf("rnd/f%03d", i)))
		if err != nil || !bytes.Equal(b, data("rnd", i)) {
			t.Fatalf("rnd/f%03d: %d bytes, %v", i, len(b), err)
		}
	}
	st, err := exec.Command(binary, "status", m.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("swiftfs status: %v\n%s", err, st)
	}
	t.Logf("swiftfs status:\n%s", st)
	var started, opened, dropped int
	if _, err := fmt.Sscanf(grepLog(string(st), "prefetch:"), "prefetch: %d started, %d opened, %d dropped unopened", &started, &opened, &dropped); err != nil {
		t.Fatalf("no prefetch line in the status: %v", err)
	}
	if started < seqN/2 || opened != started || dropped != 0 {
		t.Errorf("prefetch: %d started, %d opened, %d dropped; want at least %d started, all of them opened", started, opened, dropped, seqN/2)
	}
	m.stop() // every request answered and logged

	gets := proxyGETs(t, container, seqN+rndOpened)
	for i := range seqN {
		if n := gets[fmt.Sprintf("seq/f%03d", i)]; n != 1 {
			t.Errorf("seq/f%03d: %d GETs, want 1", i, n)
		}
	}
	opens := map[int]bool{}
	for _, i := range order[:rndOpened] {
		opens[i] = true
	}
	for i := range rndN {
		want := 0
		if opens[i] {
			want = 1
		}
		if n := gets[fmt.Sprintf("rnd/f%03d", i)]; n != want {
			t.Errorf("rnd/f%03d (opened: %v): %d GETs, want %d", i, opens[i], n, want)
		}
	}
}

// proxyGETs counts the object GETs of container in the real Swift's proxy
// log, by object name, once at least want of them are there.
func proxyGETs(t *testing.T, container string, want int) map[string]int {
	t.Helper()
	dir := os.Getenv("SAIO_DIR")
	if dir == "" {
		dir = "/tmp/saio" // test/integration/saio/swift.sh's default
	}
	path := filepath.Join(dir, "log", "proxy-server.log")
	re := regexp.MustCompile(` GET /v1/[^/ ]+/` + regexp.QuoteMeta(container) + `/(\S+) HTTP/1\.\d 2\d\d `)
	var gets map[string]int
	for range 100 {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the proxy log of the real Swift (SAIO_DIR=%s): %v", dir, err)
		}
		gets = map[string]int{}
		total := 0
		for _, m := range re.FindAllSubmatch(b, -1) {
			gets[strings.ReplaceAll(string(m[1]), "%2F", "/")]++
			total++
		}
		if total >= want {
			return gets
		}
		time.Sleep(100 * time.Millisecond) // the log is written after the answer
	}
	t.Fatalf("%s: fewer than %d GETs of container %s (is it the log of the Swift at ST_AUTH?)", path, want, container)
	return nil
}
