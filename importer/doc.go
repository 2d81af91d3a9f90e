// Package importer copies a local directory tree into a Swift container so
// that a swiftfs mount of it shows the tree exactly as the source: the
// engine of `swiftfs import` (cmd/swiftfs/import.go parses the flags,
// draws the progress and prints the summary). User documentation:
// docs/CONFIGURATION.md "Importing an existing tree".
//
// # What is stored
//
// Every entry is written as the file system writes it, through the same
// encoders (fs.EncodeObject, cache.SegmentPlan, cache.PutSegments):
//
//   - a regular file as one object with its MD5 as ETag (Swift refuses a
//     body that does not match), or, above Options.SegmentSize, as a
//     Static Large Object whose segments live under the segment prefix
//     (SegmentPrefix + "import-<time>-<n>/"), each sent with its MD5;
//   - a directory as an empty marker object "dir/" (the root of a
//     CONTAINER:PREFIX import too; the container root has no marker);
//   - a symlink as an application/link object holding the target;
//   - mode (with setuid, setgid, sticky), owner, group and mtime (to the
//     nanosecond) in the content type's parameters and X-Object-Meta-*.
//
// Hard links become independent copies. FIFOs, sockets and device files
// cannot be stored and are failures. SQLite side files of registries
// (Options.LocalOnly: "-journal", "-wal", "-shm") are not imported, as a
// mount never uploads them; the registry itself goes through
// Options.Prepare, which (registrysync) refuses it while its journal or WAL
// says a transaction is open, and checks a byte copy before upload. Files
// are hashed and uploaded from an open descriptor; a file whose size or
// mtime changed while it was read is a failure (run the import again).
//
// # Resuming
//
// Before uploading, Run lists everything under the prefix once (a flat
// listing: name, size, ETag, content type). An entry whose object exists
// with the same size, the same content type (which carries the
// attributes), and the same content is skipped without a request: for a
// plain object the local MD5 must equal the listed ETag; for a large
// object the local SLO ETag computed with Options.SegmentSize (the MD5 of
// the segments' MD5s) must equal the listed one, so an SLO written with
// another segment size is uploaded again. When only the content type
// differs (chmod, chown, touch since the last import), one POST replaces
// the content type and metadata; the data is not sent again. Everything
// else is uploaded. A large file that failed half-way is uploaded whole by
// the next run (its segments are deleted at the failure). Nothing in
// Swift is ever deleted because the source lacks it: import copies, it
// does not mirror.
//
// Replacing a large object removes its old segments: its manifest is first
// copied (manifest only) under the segment prefix, and that copy is
// deleted with its segments once the new object is in place, as the cache
// does.
//
// # Concurrency and errors
//
// The source walk and the listing run in parallel; then Options.Workers
// goroutines take entries in walk order. A large file's segments are sent
// Options.Workers at a time too. Every failure is recorded with its path
// and the import goes on; Run returns the Result and an error when
// anything failed. Retries are swiftclient's; nothing here retries.
package importer
