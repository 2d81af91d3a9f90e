// Package fs is the FUSE file system of swiftfs: it answers the kernel's
// requests for one Swift container (or a prefix in it) from a namespace
// cache over container listings and a disk cache of whole objects
// ([github.com/swiftfs/swiftfs/cache]). It is the only package that imports
// go-fuse ([github.com/hanwen/go-fuse/v2/fs], imported as gofs). What each
// system call does, as a user sees it, is in docs/SEMANTICS.md; this
// documentation is for people changing the code.
//
// # Pieces
//
//   - [FS] (fs.go) holds the options, the Swift client, the cache, the
//     namespace and the root node. [New] builds it; [Mount] (mount.go)
//     mounts it with the kernel settings described under Kernel caching.
//   - node (node.go, ops.go) is one inode: a file, a directory, a
//     symlink or a special file (special.go: FIFOs, sockets and device
//     nodes, zero-byte objects the kernel serves itself). It embeds
//     gofs.Inode and implements the gofs.Node* interfaces (the
//     compile-time assertions in node.go and special.go list them). What
//     is not implemented (Link, xattrs, locks, Fallocate, Tmpfile) gets
//     go-fuse's default answer, ENOTSUP or ENOSYS.
//   - perm.go: the owner and group of new entries (setgid directories);
//     every permission check is the kernel's (default_permissions).
//   - times.go: what a SETATTR does to mode, owner and the three times,
//     and the ctime a rename moves.
//   - handle (handle.go) is one open file description. ptHandle wraps it
//     for kernel passthrough.
//   - names (name.go) maps mount paths to object names and says which
//     object names cannot be shown (nameProblem) and which files never
//     leave the host (localOnly: SQLite journals).
//   - attrs (attr.go) are type, mode, owner, device number, mtime, atime,
//     ctime and size, and their encoding
//     in the content type's parameters and X-Object-Meta-* (encode,
//     decode).
//   - The namespace (ns.go) is what the mount believes each directory
//     contains; outage.go says how it serves while Swift is unreachable.
//   - The rename journal (renamejournal.go) makes a directory rename
//     survive a crash: its plan is written before the first COPY and
//     finished by the next mount (FS.FinishRenames).
//   - prefetch.go follows, per directory, opens in listing order and asks
//     the cache to prefetch the next small files (readAhead; its mu is a
//     leaf, never held with FS.nsMu).
//   - errnoFor and FS.fail (errno.go) turn errors into errnos and log them.
//
// # Nodes and paths
//
// A node does not store its path. go-fuse keeps the tree of live inodes and
// moves a node when it is renamed, so node.path asks the tree
// (gofs.Inode.Path) whenever a path is needed, and a node's identity,
// inode number and open handles follow renames. A node that was unlinked
// has no path (go-fuse files it under a ".go-fuse." name); node.path then
// returns false and operations on it answer ENOENT or work on the open
// copy only.
//
// A node renamed over (node.replaced) stands for the old file: every open
// through it shares the old file's copy while one is open (node.entry),
// or, for heldFor after the rename, the copy Rename held (node.held);
// after that it answers ESTALE and the kernel looks the name up again.
// Opens never look the copy up by name once a node has one: the name may
// hold another file by then.
//
// Inode numbers come from a counter in FS (the root is 1); a number is
// given when go-fuse first creates the node for a name, and node.childNode
// reuses a live child of the same kind, so st_ino is the same for stat and
// fstat and while the kernel remembers the file. It is not stable across
// mounts.
//
// # The namespace: listing cache and overlay
//
// Swift has no directories and its listings are eventually consistent. The
// namespace keeps one dirState per directory path, guarded by FS.nsMu:
//
//   - base: the entries of the last listing of the directory (prefix
//     "dir/", delimiter "/", every page), each with the attributes decoded
//     from its content type, so that Lookup, Getattr and Readdir never send
//     a HEAD per name. A listing (listing.go) keeps the names sorted with
//     ~40 bytes per name and is never changed once built: a readdir streams
//     over it (readdir.go) without copying. ensureListed refreshes a listing
//     older than Options.MetadataTTL; concurrent callers share one listing
//     per directory (FS.listing). While Swift is unreachable
//     (swiftclient.Health) a listing is kept however old and refreshed in
//     the background (outage.go).
//   - the overlay (delta): every local change (create, mkdir, symlink,
//     rename, setattr) puts a whole nsEntry stamped with localAt there (a
//     delete, a nil entry). mergeLocked keeps such entries over a newer
//     listing that does not show them for Options.OverlayWindow (and always
//     when the change happened after the listing started), and always keeps
//     local-only files and files that are dirty in the cache (also after a
//     crash).
//   - tombs: names deleted here, hidden from listings that still show them
//     for Options.TombstoneTTL.
//   - self: the directory's own marker ("dir/"), which only the
//     directory's own listing shows; lookupEntry lists a directory once to
//     learn its mode.
//
// Every namespace operation on objects that are in Swift sends its request
// (PUT of a marker or symlink, COPY, DELETE, POST) before it returns; only
// file contents, and the names of files not uploaded yet, are written back
// later.
//
// # Handles and the shared cache copy
//
// All handles of a node share one cache.Entry (node.entry, set while
// node.handles > 0): the content the Butler reaches through an O_APPEND, an
// O_RDONLY and an O_TRUNC descriptor at once is one local file. Open gets
// it with cache.Cache.Open (which downloads in the background), every
// handle reads and writes it, Flush records the attributes the upload will
// carry (stampForUpload) and runs the FITS check in refuse mode, and
// Release gives the entry back with cache.Cache.Release, which queues the
// upload after the last release. Handle-less operations (truncate by path,
// chmod of a dirty file) go through the same entry. Local-only files have a
// localFile instead of an entry.
//
// The kernel sends Flush on every close() of a descriptor, dup'ed ones
// included, and its error is what close() returns; it sends Release once per
// open file description, after the last close and munmap; Release's error
// reaches nobody.
//
// # Kernel caching
//
// Mount sets the entry, attribute and negative-entry timeouts to
// min(1 s, MetadataTTL) (kernelTTL), so the kernel asks again at least
// every second and remote changes show within MetadataTTL plus one second.
// A missing name is a cached negative entry (Lookup returns ENOENT with no
// timeout set; go-fuse then replies node ID 0 with the negative timeout),
// except a name of symwalk.go, which must reach Lookup every time. A name
// made through this mount replaces its negative entry at once: the kernel
// instantiates the dentry on create, mkdir, symlink, link and rename.
// Open returns FOPEN_KEEP_CACHE only when the object's ETag is the one the
// previous open of this node saw and the copy is complete and clean;
// otherwise the kernel drops the file's pages. With Options.Passthrough, a
// read-only open of a complete, clean copy returns a ptHandle whose
// PassthroughFd lets the kernel read the cache file itself; because the
// kernel refuses a cached-mode open of an inode that has passthrough files
// open, later opens of that node get FOPEN_DIRECT_IO handles until the
// passthrough handles are closed.
//
// The kernel reads every directory with READDIRPLUS, which would give it
// an inode, and the daemon a node, for every name listed. Directories of
// up to readdirPlusMax names answer so; larger ones give plain entries
// until the kernel looks a name up there (as `ls -l` does after each
// batch), so that listing a huge directory does not cost an inode per name
// (dirHandle in readdir.go).
//
// Other settings (mount.go, measured in docs/DESIGN.md): 1 MiB maximum
// write and read-ahead, the mount's read_ahead_kb raised to 1024 when
// running as root, xattrs disabled (go-fuse answers ENOSYS at once),
// default_permissions (the kernel checks modes), and no lock operations, so
// that the kernel keeps flock and POSIX locks locally.
//
// # Locking
//
// The locks of this package and of the cache, in the only order in which
// they may be nested (a lock may be taken while holding the ones before it,
// never the ones after it):
//
//	FS.renameMu  →  node.mu  →  cache.Entry.mu  →  cache.Cache.mu  →  cache's writeback.mu
//
// FS.nsMu, FS.warnMu, FS.statMu and handle.mu are leaves: nothing else is
// taken while one of them is held. In plain words:
//
//   - Holding a node's mu, code may call the methods of its cache.Entry
//     (Dirty, Complete, Size) and cache.Reopen of it (so that the entry
//     cannot be released between reading node.entry and sharing it), but
//     must not take FS.nsMu, another node's
//     mu, or call into Swift or go-fuse.
//   - FS.nsMu is the namespace lock: held only to read or change the maps,
//     never across Swift, disk or cache calls, never while taking a node's
//     mu. ensureListed drops it for the listing, parses the pages (and
//     logs skipped names) without it, and asks the cache for its dirty
//     names before taking it again.
//   - node.mu and FS.nsMu are never held together; two nodes' mu are never
//     held together (a rename takes neither; go-fuse orders its own tree
//     locks).
//   - FS.renameMu (held exclusively by Rename, shared by Open) is the one
//     lock held across Swift calls and go-fuse's Inode methods: go-fuse
//     takes only its own tree locks there and never calls back into us.
//     Open, holding it shared, may wait (settleReplaced) for go-fuse to
//     move a renamed-over node out of the tree; go-fuse does that after
//     Rename returned, without any swiftfs lock.
//   - No other swiftfs lock is held while calling go-fuse's Inode methods
//     (Path, GetChild, NewInode), which take go-fuse's locks.
//   - The cache calls back into FS (Options.OnUploaded, which takes
//     FS.nsMu) with none of its own locks held.
//   - FS.statMu is held across the container HEAD of statfs, so concurrent
//     statfs calls wait for one another; it guards nothing else.
//
// Fields are annotated GUARDED_BY(mu) and functions LOCKS_REQUIRED(mu) or
// LOCKS_EXCLUDED(mu); a function whose name ends in Locked needs the lock
// named in its annotation.
//
// # Interrupts
//
// When the calling process gets a signal, the kernel interrupts the request
// and go-fuse cancels the context passed to the handler. Handlers that only
// look (Lookup, Getattr, Readdir, Open, Read, Readlink, Statfs) pass that
// context to Swift and to the cache, so an interrupted request is abandoned
// and errnoFor turns context.Canceled into EINTR. Handlers that change
// Swift (Create, Mkdir, Symlink, Setattr, Unlink, Rmdir, Rename, Flush,
// Fsync) first detach their context from the interrupt (uninterrupted in
// errno.go) and run to the end: half a rename (copied, not yet deleted) or
// an upload cut off would be worse than a late answer. Go programs get
// interrupts from the runtime's preemption signal (SIGURG) on every slow
// request; the tests and the Makefile set GODEBUG=asyncpreemptoff=1 for
// them.
//
// # Deadlocks
//
// go-fuse lists deadlocks that happen when the process serving a mount
// also makes system calls on it: fork/exec with a working directory or
// inherited descriptors on the mount, executing a file on the mount, epoll
// on mount files, and page faults on mmap'ed mount files. swiftfs avoids
// all of them by never serving and using a mount in one process: the
// daemon touches its own mount point only once, with a stat after
// mounting (raiseReadAhead), and the integration tests build cmd/swiftfs
// and run it as a separate process (test/integration/main_test.go). Tests
// in this package must not mount in-process.
//
// # Error handling
//
// errnoFor is the only place that maps errors to errnos: swiftclient's
// error kinds (ErrNotFound → ENOENT, ErrPreconditionFailed → EEXIST,
// ErrForbidden and ErrUnauthorized → EACCES, ErrTooLarge → EDQUOT, ...),
// cache.ErrNoSpace → ENOSPC, context.Canceled → EINTR, a plain
// syscall.Errno as itself, everything else EIO. errno_test.go lists every
// kind. Handlers pass each failure through FS.fail, which maps it and logs
// one "operation failed" line with the operation, path, errno, error chain
// and Swift's transaction id: ENOENT, EEXIST, ENOTEMPTY and EINTR at debug
// level (they are answers), ENOSPC, EDQUOT and EACCES at warn, the rest at
// error. Errnos a handler decides itself (EEXIST for O_EXCL, ENOTEMPTY,
// EISDIR, EROFS, ...) are returned directly, unlogged. Nothing in this
// package retries a Swift request; swiftclient already did.
package fs
