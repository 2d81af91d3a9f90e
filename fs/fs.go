package fs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// Options configure the file system.
type Options struct {
	// Prefix is the object name prefix mounted as the root ("" or "dir/").
	Prefix   string
	ReadOnly bool
	// UID, GID, FileMode and DirMode are reported for objects that carry no
	// swiftfs attributes (written by other clients).
	UID, GID          uint32
	FileMode, DirMode uint32
	// MetadataTTL is how long a directory listing is trusted (and the
	// kernel's entry and attribute caches are capped by it).
	MetadataTTL time.Duration
	// OverlayWindow is how long a local change wins over listings that do
	// not show it yet (Swift listings are eventually consistent).
	OverlayWindow time.Duration
	// TombstoneTTL is how long a locally deleted name stays hidden when
	// listings still show it.
	TombstoneTTL time.Duration
	// ListPageSize is the listing page size (0: the server's maximum,
	// 10,000 by default).
	ListPageSize int
	// LocalOnly, when set, adds names that never leave this host to the
	// default ones (SQLite side files of *.sqlite3, *.sqlite, *.db).
	LocalOnly func(name string) bool
	// Passthrough lets the kernel read cached copies directly (FUSE
	// passthrough) when it and the privileges allow.
	Passthrough bool
	// SyncClose makes close() wait for the upload (--write-back=sync).
	SyncClose bool
	// Validate, when set, is run on close of a written file whose name it
	// applies to; a failure is returned by close and fsync.
	Validate func(name string, r io.ReaderAt, size int64) error
	Logger   *slog.Logger
	Now      func() time.Time
	// PrefetchFiles is how many listing positions ahead the files of a
	// directory read in listing order are prefetched at most (0: never;
	// see prefetch.go).
	PrefetchFiles int
	// CrashAfterRenameCopies, for tests only, kills the daemon with
	// SIGKILL once a directory rename moved this many objects (0: never);
	// see docs/DEVELOPMENT.md.
	CrashAfterRenameCopies int
}

func (o *Options) setDefaults() {
	if o.FileMode == 0 {
		o.FileMode = 0o644
	}
	if o.DirMode == 0 {
		o.DirMode = 0o755
	}
	if o.MetadataTTL <= 0 {
		o.MetadataTTL = 30 * time.Second
	}
	if o.OverlayWindow <= 0 {
		o.OverlayWindow = 2 * o.MetadataTTL
	}
	if o.TombstoneTTL <= 0 {
		o.TombstoneTTL = 2 * o.MetadataTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// FS is the swiftfs file system: the namespace of one container (prefix)
// over a cache of object contents.
type FS struct {
	opts      Options
	client    swiftclient.Client
	health    *swiftclient.Health // nil when the client tracks none (outage.go)
	cache     *cache.Cache
	names     names
	log       *slog.Logger
	mountTime time.Time
	localDir  string // local-only files (SQLite side files)

	nextIno atomic.Uint64

	nsMu    sync.Mutex
	dirs    map[string]*dirState // GUARDED_BY(nsMu)
	listing map[string]*listCall // GUARDED_BY(nsMu)

	warnMu sync.Mutex
	warned map[string]bool // GUARDED_BY(warnMu)

	// renameMu orders renames against opens: an open never sees a name in
	// the middle of a rename over it (between the removal of the old copy
	// and the arrival of the new one). Renames hold it exclusively.
	renameMu sync.RWMutex

	localMu sync.Mutex
	locals  map[string]*localFile // GUARDED_BY(localMu): local-only files by path

	walks symWalks // renames over a symlink to their source (symwalk.go)

	ra readAhead // opens in listing order, per directory (prefetch.go)

	crashRename atomic.Int64 // Options.CrashAfterRenameCopies, counting down

	statMu   sync.Mutex
	statAt   time.Time
	statInfo swiftclient.ContainerInfo

	root *node
}

// New builds the file system. The cache's OnUploaded callback must call
// FS.OnUploaded (cmd/swiftfs wires it).
func New(opts Options, client swiftclient.Client, c *cache.Cache) (*FS, error) {
	opts.setDefaults()
	f := &FS{opts: opts, client: client, health: swiftclient.HealthOf(client), cache: c, names: names{prefix: opts.Prefix}, log: opts.Logger,
		mountTime: opts.Now(), dirs: map[string]*dirState{}, listing: map[string]*listCall{}, warned: map[string]bool{}}
	f.localDir = filepath.Join(c.Dir(), "local")
	if err := os.MkdirAll(f.localDir, 0o700); err != nil {
		return nil, err
	}
	f.locals = map[string]*localFile{}
	if user := opts.LocalOnly; user != nil {
		f.opts.LocalOnly = func(name string) bool { return localOnly(name) || user(name) }
	} else {
		f.opts.LocalOnly = localOnly
	}
	f.nextIno.Store(1)
	f.crashRename.Store(int64(opts.CrashAfterRenameCopies))
	f.root = &node{fsys: f, kind: kindDir}
	f.root.a = attrs{kind: kindDir, perm: opts.DirMode, uid: opts.UID, gid: opts.GID, mtime: f.mountTime}
	if err := f.restoreLocals(); err != nil {
		return nil, fmt.Errorf("local-only files in %s: %w", f.localDir, err)
	}
	return f, nil
}

// OnUploaded tells the namespace that an upload finished.
func (f *FS) OnUploaded(name string, info swiftclient.ObjectInfo) { f.onUploaded(name, info) }

func (f *FS) now() time.Time { return f.opts.Now() }

func (f *FS) newIno() uint64 { return f.nextIno.Add(1) }

// containerInfo returns the container's counters, cached for a minute.
func (f *FS) containerInfo(ctx context.Context) swiftclient.ContainerInfo {
	f.statMu.Lock()
	defer f.statMu.Unlock()
	if f.now().Sub(f.statAt) > time.Minute {
		if ci, err := f.client.Container(ctx); err == nil {
			f.statInfo = ci
			f.statAt = f.now()
		}
	}
	return f.statInfo
}

// SideFile returns the content of the local-only file at object name (an
// SQLite journal or WAL), for deciding whether a transaction is open; nil
// when there is none. The reader stays valid until the file is unlinked.
func (f *FS) SideFile(name string) (io.ReaderAt, int64) {
	p, ok := f.names.path(name)
	if !ok {
		return nil, 0
	}
	f.localMu.Lock()
	lf := f.locals[p]
	f.localMu.Unlock()
	if lf == nil {
		return nil, 0
	}
	return lf.f, lf.size()
}

func (f *FS) isLocalOnly(name string) bool { return f.opts.LocalOnly(name) }
