package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// garbage is an object in Swift that nothing refers to any more: an SLO
// segment, or (Manifest) a manifest to delete together with its segments.
type garbage struct {
	Name     string `json:"name"`
	Manifest bool   `json:"manifest,omitempty"`
}

// gcFile is a durable list of garbage to delete, meta/gc-*.json.
type gcFile struct {
	path string
	objs []garbage
}

const gcPrefix = "gc-"

// collect records objs durably in a gc file and deletes them in the
// background; the file goes once they are gone (a crash or an outage
// leaves it for later: recover picks it up).
func (c *Cache) collect(objs []garbage) {
	if len(objs) == 0 {
		return
	}
	g, err := c.saveGC(objs)
	if err != nil {
		c.log.Warn("garbage list not saved; deleting now", "objects", len(objs), "err", err)
	}
	c.startGC(g)
}

// saveGC writes a new gc file.
func (c *Cache) saveGC(objs []garbage) (gcFile, error) {
	path := filepath.Join(c.dir, "meta", fmt.Sprintf("%s%d-%d.json", gcPrefix, time.Now().UnixNano(), c.gcSeq.Add(1)))
	g := gcFile{path: path, objs: objs}
	b, err := json.Marshal(objs)
	if err == nil {
		err = WriteFileDurable(path, b)
	}
	return g, err
}

func (c *Cache) startGC(g gcFile) {
	c.goBackground(func() { c.runGC(g) })
}

// runGC deletes g's objects, retrying with backoff until they are gone or
// the cache closes.
func (c *Cache) runGC(g gcFile) {
	delay := c.opts.RetryBackoff
	for {
		var left []garbage
		var lastErr error
		for _, o := range g.objs {
			if c.ctx.Err() != nil {
				left = append(left, o)
				continue
			}
			err := c.client.Delete(c.ctx, o.Name, swiftclient.DeleteOptions{MultipartManifest: o.Manifest})
			if err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
				left = append(left, o)
				lastErr = err
			}
		}
		if len(left) == 0 {
			os.Remove(g.path)
			c.log.Debug("old segments deleted", "objects", len(g.objs))
			return
		}
		if len(left) < len(g.objs) {
			if b, err := json.Marshal(left); err == nil {
				WriteFileDurable(g.path, b)
			}
		}
		g.objs = left
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("old segments not deleted yet; retrying", "objects", len(left), "retry_in", delay, "err", lastErr)
		t := time.NewTimer(delay)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, c.opts.RetryBackoffMax)
	}
}

// readGC reads a gc file found at start-up.
func readGC(path string) (gcFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return gcFile{}, err
	}
	var objs []garbage
	if err := json.Unmarshal(b, &objs); err != nil {
		return gcFile{}, err
	}
	return gcFile{path: path, objs: objs}, nil
}

func isGCFile(name string) bool {
	return strings.HasPrefix(name, gcPrefix) && strings.HasSuffix(name, ".json")
}
