// Package registrysync is what swiftfs knows about SQLite registries: it
// makes sure that only a consistent, checked database is ever uploaded to
// Swift, and it builds and checks registries of files already in a
// container (`swiftfs registry build|check`).
//
// It is the only package that imports github.com/mattn/go-sqlite3 (cgo).
// The file system and the cache take its behaviour as hooks, wired in
// cmd/swiftfs: Syncer.Prepare is cache.Options.PrepareUpload and
// Syncer.Applies is cache.Options.CheckConflict.
//
// # Which files are registries
//
// The LSST Butler keeps its registry in an SQLite file at the repository
// root, registry.sqlite3 (calibration registries are calibRegistry.sqlite3,
// and obs packages ship defectRegistry.sqlite3). Applies selects files by
// their base name with path.Match patterns, by default "*.sqlite3",
// "*.sqlite" and "*.db" (DefaultPatterns; the mount's --registry-patterns,
// parsed by ParsePatterns; an empty list turns the handling off). It also
// accepts the temporary copy that ingest (pipe_tasks' RegistryContext)
// writes with tempfile.mkstemp(prefix="registry.sqlite3") and then renames
// over the registry: the name of a registry followed by Python's 8 random
// characters, e.g. "registry.sqlite3k2x_9qzb". SQLite's side files are
// never registries.
//
// # Why the side files stay local
//
// SQLite keeps a rollback journal ("<db>-journal"), or in WAL mode a
// write-ahead log ("<db>-wal") and a shared-memory index ("<db>-shm"), next
// to the database. They are meaningful only to the processes of one host
// that share POSIX locks on the database, which swiftfs leaves to the
// kernel (locks are local). Uploading them would publish half-written
// transactions and make every reader on other hosts look for a hot journal
// in Swift; a hot journal that another host "rolled back" would destroy
// data. So the fs package keeps them as plain local files that never reach
// Swift (fs/name.go localOnly; docs/SEMANTICS.md "Local-only files"), and
// SQLite on one host works on a mount as on a local disk. The flip side is
// that the database file alone is what other hosts see, so it must be
// uploaded only in a state that is complete without its side files.
//
// # Upload protocol: a consistent snapshot
//
// The cache uploads a dirty file after its last close (plus the write-back
// delay), at fsync, at `swiftfs sync` and at unmount. SQLite fsyncs the
// database at every commit (unless PRAGMA synchronous=OFF), after it wrote
// all the new pages and before it deletes the journal, so at that moment
// the file holds the committed state. Before any registry upload, Prepare:
//
//  1. postpones the upload (an error wrapping cache.ErrNotReady; the cache
//     retries with backoff) when Options.Busy reports that a transaction
//     may be in flight: the local "-journal" is hot or the "-wal" has
//     content (SideFileBusy decides from their bytes);
//  2. reads the 100-byte database header and postpones when the file size
//     is not the page count the header records (valid when the header's
//     "version-valid-for" equals its change counter) times the page size,
//     or not a whole number of pages: SQLite is writing a transaction that
//     grows or shrinks the file;
//  3. copies the file, byte for byte, to a private temporary file
//     (Options.TempDir, by default next to the staged file in the cache's
//     data directory, where a stray copy is deleted at the next start-up),
//     and postpones when the file's size, mtime or header changed during
//     the copy, or Busy reports a transaction then;
//  4. runs PRAGMA quick_check on the copy, opened read-only and immutable
//     ("file:<copy>?mode=ro&immutable=1": no locks, no journal lookup, which
//     is right for a private copy whose side files were checked in step 1);
//     anything but "ok" refuses the upload with a *cache.ValidationError:
//     the file stays dirty, the failure is logged and shown by `swiftfs
//     status`, and the retry comes after the cache's long permanent-error
//     delay. A damaged database is never uploaded;
//  5. returns the copy (cache.Prepared), which the cache uploads with its
//     MD5 and deletes afterwards.
//
// The snapshot is a byte copy, not VACUUM INTO or the backup API. Those
// would give no more consistency (the writer's locks are on the FUSE file,
// not on the cache's staged copy, so SQLite here cannot synchronise with
// it), VACUUM may renumber the rowids of tables without an INTEGER PRIMARY
// KEY, and both change the bytes: the object in Swift would then differ in
// size and MD5 from the local copy, so that `ls -l` changed after upload
// and the cached copy could not be reused. With a byte copy the object is
// exactly what the writer committed.
//
// Neither quick_check nor the header can see every open transaction: when
// a transaction larger than SQLite's page cache spills pages into the
// database in place, without growing it, the file passes both and holds
// rows that were never committed (TestSpillInPlace shows it). Only the
// hot journal tells, hence Options.Busy. Such a state is only seen by an
// upload that runs while the writer holds the file open: `swiftfs sync`,
// an unmount, another process's fsync, or the retry of an earlier failed
// upload.
//
// A zero-byte file (sqlite3.connect creates one before the first write;
// SQLite treats it as an empty database) is uploaded as it is. A file named
// like a registry that does not start with the SQLite magic string "SQLite
// format 3\0" is not a registry but another program's file (many programs
// use ".db"): it is uploaded unchanged, with a warning. A file that starts
// with the magic but has an impossible header (page size) is refused as
// damaged.
//
// # Conflicts between two mounts
//
// Swift has no compare-and-swap, and two mounts on two hosts do not see
// each other's locks. When both change a registry, the second upload would
// silently replace the first one's rows. For registries the cache therefore
// compares, before each upload, the object's current ETag in Swift with
// the version the local copy came from (cache.Options.CheckConflict =
// Applies). When they differ, the other mount's version stays, ours is
// uploaded as "<name>.conflict-<host>-<time>", and the upload fails with
// cache.ErrConflict: fsync reports EIO (SQLite's commit fails with "disk
// I/O error"; so does close with --write-back=sync) and the daemon logs
// the conflict copy's name at error level. Merging is left to a person (e.g. re-running ingest on the newer
// registry). A rename over the registry (ingest's idiom) is a server-side
// copy in the fs package and is not covered by this check.
//
// # Building and checking registries
//
// `swiftfs registry build CONTAINER[:PREFIX] --template T` (Build) lists
// every object under PREFIX (following listing pages past 10,000 names),
// matches each name relative to PREFIX with the Butler path template T
// (Python %-style with named keys: %(visit)d, %(filter)s, %(ccd)02d, ...;
// see ParseTemplate), and writes an SQLite registry like the LSST
// genInputRegistry scripts: a table (default "raw") with an "id" primary
// key and one typed column per template key (INTEGER for d/i/x/o, REAL for
// e/f/g, TEXT for s/c), unique per key tuple, and when the template has a
// "visit" key a "<table>_visit" table with one row per visit and the
// columns that never vary within a visit. --fits-keywords adds columns read
// from each file's primary FITS header (or, when the primary HDU has no
// data, the first extension's, as in tile-compressed files) with ranged
// GETs of growing size; gzip-compressed files are decompressed on the fly
// only as far as the END card. A small swiftfs_meta table records the
// template, table, prefix and keywords. The registry is built in a
// temporary file, checked with PRAGMA quick_check, and uploaded with its
// MD5 as "<PREFIX>registry.sqlite3", create-only unless --force: an
// existing registry may hold rows that no template can rebuild.
//
// `swiftfs registry check` (Check) downloads a registry, runs quick_check,
// counts the rows of each table and, with the recorded (or a given)
// template, lists the objects that match it but have no row, and the rows
// whose object is gone; either makes the command fail.
package registrysync
