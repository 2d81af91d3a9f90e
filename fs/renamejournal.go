package fs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// A directory rename moves every object under the old prefix, one COPY and
// DELETE each: not atomic in Swift. So that a crash in the middle (kill -9,
// power loss) cannot leave the tree split between the two names, the plan
// is written durably to the cache directory's renames/ before the first
// request that changes Swift, and removed when the rename is complete; the
// next mount finishes every plan it finds there before it serves anything
// (FinishRenames). Each step is idempotent, so that a plan can be run again
// from the start however far it got:
//
//   - the destination's marker (an empty directory renamed over) is
//     deleted; a missing one is fine;
//   - each object is renamed in the cache first (a dirty copy then uploads
//     under the new name, and the old object, if any, is deleted), else
//     copied server-side and deleted: a source already gone (copied and
//     deleted before the crash) is skipped, and a source still there is
//     copied again (the same bytes) and then deleted;
//   - files only in the cache under the old prefix move there.
//
// The journal lives in package fs, not cache, because fs owns namespace
// operations on objects in Swift (renames, markers, deletes), as it owns
// local-only files (local/).

// renamePlan is the durable record of one directory rename.
type renamePlan struct {
	Src string `json:"src"` // mount paths
	Dst string `json:"dst"`
	// SrcPrefix and DstPrefix are the object name prefixes ("a/", "b/").
	SrcPrefix string `json:"src_prefix"`
	DstPrefix string `json:"dst_prefix"`
	// DeleteFirst is the marker of the empty directory renamed over.
	DeleteFirst string       `json:"delete_first,omitempty"`
	Objects     []planObject `json:"objects"`
	// Pending are the names under SrcPrefix that were dirty (not uploaded
	// yet) when the plan was made, read before the listing.
	Pending []string      `json:"pending,omitempty"`
	Started time.Time     `json:"started"`
	path    string        // the record's file
	crash   *atomic.Int64 // test hook (Options.CrashAfterRenameCopies)
}

// planObject is one object to move.
type planObject struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Large bool   `json:"large,omitempty"` // copy the SLO manifest only
	// ContentType and Meta, when set, replace the object's attributes
	// (a directory marker takes the directory's new ctime).
	ContentType string            `json:"content_type,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

func (f *FS) renamesDir() string { return filepath.Join(f.cache.Dir(), "renames") }

// journalRename writes p durably before anything of it is done.
func (f *FS) journalRename(p *renamePlan) error {
	dir := f.renamesDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p.Started = f.now()
	p.path = filepath.Join(dir, strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.FormatUint(f.newIno(), 10)+".json")
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := cache.WriteFileDurable(p.path, b); err != nil {
		return fmt.Errorf("directory rename not started: journal %s: %w", p.path, err)
	}
	return nil
}

// endRename removes p's record once it is complete.
func (f *FS) endRename(p *renamePlan) error {
	if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d, err := os.Open(filepath.Dir(p.path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// runRename carries out p (all of it, idempotently; see above).
func (f *FS) runRename(ctx context.Context, p *renamePlan) error {
	if p.DeleteFirst != "" {
		if err := f.client.Delete(ctx, p.DeleteFirst, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
			return err
		}
	}
	work := make(chan planObject)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := f.moveObject(ctx, o); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				if p.crash != nil && p.crash.Add(-1) == 0 {
					// Test hook: die as kill -9 would, half-way.
					f.log.Warn("test hook: killing the daemon in the middle of a directory rename", "src", p.Src, "dst", p.Dst)
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {}
				}
			}
		}()
	}
	for _, o := range p.Objects {
		work <- o
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// Files only in the cache (not uploaded yet) move locally (those
	// listed were moved above). One whose upload was in flight may have
	// landed under the old name after the listing: deleted there when still
	// dirty (its upload writes the new name), copied over when the upload
	// finished first.
	names := map[string]bool{}
	for _, name := range p.Pending {
		names[name] = true
	}
	for name := range f.cache.DirtyNames() {
		if strings.HasPrefix(name, p.SrcPrefix) {
			names[name] = true
		}
	}
	for name := range names {
		to := p.DstPrefix + name[len(p.SrcPrefix):]
		moved, dirty, mayExist, err := f.cache.RenameEntry(name, to)
		if err != nil {
			return err
		}
		if moved && !dirty {
			if _, err := f.client.Copy(ctx, name, to, swiftclient.CopyOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
				return err
			}
		}
		if moved && (mayExist || !dirty) {
			if err := f.client.Delete(ctx, name, swiftclient.DeleteOptions{}); err != nil && !errors.Is(err, swiftclient.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// moveObject moves one object of a directory rename.
func (f *FS) moveObject(ctx context.Context, o planObject) error {
	_, dirty, err := f.cache.Rename(o.From, o.To)
	if err != nil {
		return err
	}
	if !dirty {
		_, err = f.client.Copy(ctx, o.From, o.To, swiftclient.CopyOptions{ManifestOnly: o.Large, ContentType: o.ContentType, Meta: o.Meta})
		if errors.Is(err, swiftclient.ErrNotFound) {
			return nil // moved before (a plan run again), or deleted by another client
		}
		if err != nil {
			return err
		}
	}
	err = f.client.Delete(ctx, o.From, swiftclient.DeleteOptions{})
	if errors.Is(err, swiftclient.ErrNotFound) {
		err = nil
	}
	return err
}

// FinishRenames completes the directory renames a crash interrupted (their
// plans in the cache directory's renames/), oldest first. The daemon calls
// it before mounting, so that no name of such a tree is served before the
// whole tree is under its new name; an error leaves the plans for the next
// attempt, and the daemon does not mount.
func (f *FS) FinishRenames(ctx context.Context) error {
	dir := f.renamesDir()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var plans []*renamePlan
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(path) // a journal not written to the end: its rename never started
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		p := &renamePlan{path: path}
		if err := json.Unmarshal(b, p); err != nil {
			return fmt.Errorf("unfinished directory rename %s: unreadable journal: %w", path, err)
		}
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].Started.Before(plans[j].Started) })
	for _, p := range plans {
		f.log.Warn("finishing a directory rename interrupted by a crash", "src", p.Src, "dst", p.Dst,
			"objects", len(p.Objects), "started", p.Started.UTC().Format(time.RFC3339))
		if err := f.runRename(ctx, p); err != nil {
			return fmt.Errorf("finishing the directory rename of %q to %q (journal %s): %w", p.Src, p.Dst, p.path, err)
		}
		if err := f.endRename(p); err != nil {
			return err
		}
		f.log.Info("directory rename finished", "src", p.Src, "dst", p.Dst)
	}
	return nil
}
