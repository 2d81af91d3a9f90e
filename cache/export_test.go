package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// crash simulates the death of the daemon (kill -9): background work
// stops without uploading or recording anything more, and the data files
// and the directory lock are released, so that a new Cache can open the
// same directory. What is on disk is what a crash would leave.
func (c *Cache) crash() {
	c.closed.Store(true)
	c.cancel()
	c.wb.stop()
	c.waitBackground()
	c.mu.Lock()
	var es []*Entry
	for _, e := range c.entries {
		es = append(es, e)
	}
	c.mu.Unlock()
	for _, e := range es {
		e.closeFile()
	}
	c.lockFile.Close()
}

// checkNow returns the first broken accounting invariant.
func (c *Cache) checkNow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invariantsLocked()
}

func (c *Cache) usedBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// describe lists the entries' accounting against the data files (for
// failure messages).
func (c *Cache) describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "used %d, dropping %d, inflight %d\n", c.used, c.dropping, c.inflight.Load())
	ents, _ := os.ReadDir(filepath.Join(c.dir, "data"))
	for _, de := range ents {
		fi, _ := de.Info()
		id, _ := strconv.ParseUint(de.Name(), 10, 64)
		e := c.entries[id]
		if e == nil {
			fmt.Fprintf(&b, "  file %s: %d bytes, no entry\n", de.Name(), fi.Size())
			continue
		}
		fmt.Fprintf(&b, "  file %s: %d bytes, entry %q charged %d pins %d detached %v dropped %v\n",
			de.Name(), fi.Size(), e.name, e.charged, e.pins, e.detached.Load(), e.dropped.Load())
	}
	return b.String()
}

// diskBytes sums the data files' sizes holding c.mu, so that no
// reservation or deletion completes during the scan: every byte found
// belongs to a charge in used.
func (c *Cache) diskBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ents, _ := os.ReadDir(filepath.Join(c.dir, "data"))
	var n int64
	for _, de := range ents {
		if fi, err := de.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}
