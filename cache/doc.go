// Package cache is swiftfs's local disk cache of whole objects and its
// write-back queue. It knows nothing of FUSE: package fs opens an [Entry]
// per object, reads and writes it, and releases it; the cache downloads,
// keeps, evicts, and uploads. It talks to Swift only through
// [swiftclient.Client], and never retries a Client call itself (the client
// does), except to resume a download whose body broke off.
//
// # On-disk layout
//
// Everything lives in Options.Dir (mode 0700):
//
//	lock              flock'ed by the running daemon (one per directory); the
//	                  lock goes with the descriptor, so kill -9 releases it
//	data/<id>         the content of entry <id>: exactly the object's bytes
//	meta/<id>.json    the entry's durable record (see below)
//	meta/gc-*.json    lists of objects in Swift to delete (old SLO segments)
//	meta/.tmp-*       a record being written (deleted at start-up)
//	local/            package fs's local-only files (SQLite journals) and
//	                  their records (fs/localfiles.go); the cache does not
//	                  touch it
//
// An id is never reused, so a rename is a change of the record only.
//
// # Durability and the crash protocol
//
// A record (name, size, dirty, the fingerprint of the remote version,
// content type and metadata, SLO segments and the journal) is written by
// writing a temporary file, fsync, rename over the old record, fsync of
// meta/. After a crash either the old or the new record is found, never a
// mix. Records are written only with Entry.mu held, so that they reach the
// disk in the order of the changes they describe.
//
// The first change to a clean entry (WriteAt, Truncate, MarkDirty) writes
// the record with dirty=true before the change itself is made: after a
// crash, every byte written since then is in data/<id> and the record says
// it must be uploaded. The data file itself is not fsync'ed by a write
// (the page cache survives the death of the daemon; only a kernel crash or
// power loss can lose unsynced data, as for any local file). A successful
// upload writes the record with dirty=false; an unlink removes the record
// durably before it returns, so that a crash cannot resurrect the file.
//
// # Recovery
//
// [New] reads meta/ before anything is served. Dirty entries are queued
// for upload at once and pinned; while they wait, Open hands them out as
// the newest content. Clean complete entries whose data file has the
// recorded size join the LRU and are reused when Open's remote fingerprint
// (ETag and size) matches, without a download. Partial downloads, data
// files without a record, records without data and temp files are deleted.
// When two records name the same object (a crash in the middle of a rename),
// the dirty one wins, else the newer.
//
// # Pinning and the byte budget
//
// Every byte the cache will put on disk is charged to the budget
// (Options.MaxBytes) before it is written: a download's full size when it
// is admitted (so in-flight downloads count), and a write's new end before
// the write, a little ahead (4 KiB steps for small files, 64 KiB from 1
// MiB, 1 MiB from 16 MiB); the last close trims the charge to the 4 KiB
// blocks the content occupies, so many small files cost what they use.
// When a charge does not fit, clean unpinned entries are evicted (least
// recently unpinned first) until it does; their files keep counting until
// they are deleted, and the reservation waits for that, so the budget holds
// on disk at every moment, not just in the books. When the evictable
// entries cannot make room, the download or write fails with [ErrNoSpace]
// (ENOSPC), evicts nothing and changes nothing: data already written
// stays, and stays dirty. Options.MinFree is checked at the same points,
// against statfs, counting bytes reserved for downloads but not written
// yet as used. The budget is hard for admission; only a recovery that finds
// more dirty data than a (lowered) budget leaves the cache above it, and
// then nothing new is admitted until uploads made room.
//
// An entry is pinned by each Open, while it is dirty, and while its
// download runs; only unpinned (hence clean and complete) entries are in
// the LRU, and only they are ever evicted. The LRU does accounting only:
// evicted files are deleted after the lock is released.
//
// # Downloads
//
// One download per object: Open hands every caller the entry being
// downloaded. Objects above two DownloadChunks, and every SLO, are fetched
// with DownloadStreams parallel ranged GETs; smaller plain objects come in
// one GET. No byte is served before it matched a checksum Swift keeps of
// it (verify.go): each SLO segment its MD5 in the manifest (read with
// Client.Manifest and checked against the object's ETag), a plain object
// its whole MD5. A read of an SLO thus waits for the segments it touches,
// a read of a plain object for the whole download. A unit that fails its
// check is fetched again; if it keeps failing the entry fails with
// ErrCorrupted (EIO) and is never reused. With Options.LazyVerify bytes
// are served as they arrive and checked afterwards; a unit that fails
// after some of its bytes were read fails the entry at once. Bytes no
// checksum covers (DLOs, ranges of other objects or nested SLOs in a
// manifest) are served as they arrive. A GET that finds another version
// of the object restarts the download with that version, and nothing the
// failed attempt fetched is served any more.
//
// # Reads ahead of a download
//
// A parallel download (ranged.go) cuts the object into spans (within
// check units: SLO segments), each fetched in order by one stream; the DownloadStreams workers take the
// chunks in order of offset. A read does not wait for them to get to its
// bytes (the last block of a 2 GiB FITS file, the header of HDU n): when
// no stream will reach its bytes within demandNear (1 MiB; 8 MiB,
// demandNearClaimed, when a stream is already fetching that span, so that
// a sequential reader running ahead by the kernel's read-ahead does not
// cut the stream it follows), the span
// holding them is cut at the read's 4 KiB boundary, and a demand stream, a
// ranged GET of its own, fetches from there up to demandLen (4 MiB), so
// that a reader going on reading finds its bytes coming; the rest of the
// cut span goes to the front of the workers' queue. A stream whose span
// was cut stops at the cut. At most DownloadStreams demand streams run
// besides the workers; further demands only jump the queue. Every byte is
// thus fetched once and charged once (the download's reservation covers
// them all). Every ranged answer must come from the version being
// downloaded: its size and ETag are compared with that version's (the
// check If-Match would make, done on the answer), and another version
// fails the attempt and restarts the download with that version, as for
// the workers. A unit's MD5 is computed on the file once every span of it
// is in, so bytes fetched on demand are checked like the others. By
// default a reader waits for whole units: it demands the whole segment(s)
// its bytes lie in, split between the demand streams (a quarter each), and
// demands nothing of a plain object (one unit: it waits for all of it). A
// cut of a claimed span lies past the block its stream may be writing, so
// that no stream writes into another span, which may be checked already.
//
// # Prefetch
//
// [Cache.Prefetch] queues downloads of objects a reader is expected to open
// next (package fs chooses them); Options.PrefetchWorkers workers fetch
// them, each waiting for its download before the next. A prefetch is an
// Open without a caller (open with prefetch, prefetch.go): the same entry,
// download, verification and charge, released at once, so the reader's
// Open finds the copy complete or shares the download in flight. It does
// nothing for a name that has an entry in any state (no second GET), and
// nothing, silently, when the object does not fit: prefetched entries not
// opened yet (Cache.unused) stay under a quarter of the budget and
// maxUnused entries, and a prefetch that would need evictions while such
// an entry is evictable is skipped, so prefetches never push out one
// another. They are the first entries evicted for anything else
// (evictUnusedLocked), before the LRU's oldest. [Cache.CancelPrefetch]
// drops a key's queued prefetches; running ones finish.
//
// # Write-back
//
// After the last Release of a dirty entry its upload is due after
// Options.WriteBackDelay (a rename in between moves the entry, so the
// object is uploaded once, under its final name; an unlink cancels the
// upload). With Options.SyncWriteBack, Release uploads and returns the
// result. [Entry.Sync] (fsync) is a barrier: it uploads now, waiting for an
// upload in flight first, and returns the upload's error. An upload sends
// the data file itself (seekable, so that the client can resend it after
// re-authenticating), reading it once: swiftclient hashes the body while
// sending it and compares with the ETag Swift computed (ErrCorrupted, and a
// retry, on a mismatch). An MD5 pass before the PUT would cost a second
// read of the file (about a quarter of the upload time on 2 cores; see
// docs/BENCHMARKS.md). Writes during an upload are allowed and the first
// one cuts it short before it changes the file (uploadGuard: the upload's
// reads stop, then its context is cancelled with errWritten), so Swift
// never stores a mix of two versions. When a write is already running as
// the upload starts, the upload falls back to an MD5 pass first and sends
// it as ETag (Swift refuses a body that changed under it, 422). Either way
// an upload makes the entry clean only if no write began or was still
// running while it read the file (Entry.gen, Entry.writing); else the
// entry stays dirty and is uploaded again, at once for a waiting fsync.
// Files above the SLO threshold and copies made by PrepareUpload
// keep their own paths (segments are hashed before each PUT).
//
// Rename and Remove stop an upload in flight. After a rename the entry is
// uploaded under its new name. When a stopped upload reached Swift all the
// same, Remove deletes that object before it returns (the caller may not
// know it exists, and a rename may put another object there next). An
// entry renamed over a version of ours still pending (dirty, or whose
// upload may have landed) is uploaded without a conflict check
// (Entry.overOwn): what Swift holds there may be our own, which no check
// could tell from another writer's.
//
// Open treats a caller that saw no object in Swift, while the cache has a
// copy that is (or came from) one, as having an older view (typically a
// listing taken before our own upload finished) and hands out that copy,
// never an empty one.
//
// # Failures and retries
//
// A failed upload leaves the entry dirty and pinned, records the error
// (Stats: state "failed"; LastError), and is retried after
// Options.RetryBackoff, doubling up to Options.RetryBackoffMax. Failures a
// retry soon will not fix (403, 413 quota, 400, a refused file check) are
// logged at error level and retried after Options.PermanentRetry. A 404
// (the container not visible) is retried as a transient failure: a Swift
// that was just restarted answers it until its proxy reaches the container
// servers again. Local data is never deleted because of a
// failure: a Swift outage of any length only delays uploads, and fsync or
// `swiftfs sync` retry at once, as does [Cache.RetryFailed] (called when
// Swift answers again after an outage) for every transiently failed upload.
//
// [Cache.Close] (unmount, SIGTERM) refuses further writes ([ErrClosed],
// EROFS), uploads every dirty entry for at most its timeout, then stops.
// Whatever is still dirty stays in the directory for the next run, which
// uploads it first.
//
// # Large objects
//
// A file larger than Options.SLOThreshold is uploaded as a Static Large
// Object: segments of Options.SegmentSize (more when 1000 would not do:
// Swift's max_manifest_segments), Options.Uploaders at a time, under
// Options.SegmentPrefix (a prefix the namespace hides), then the manifest.
// The segment names are written to the entry's journal before the first
// segment. An attempt that failed transiently leaves its segments for the
// next attempt, which resumes when the content is unchanged (a 6 GiB upload
// that lost one segment does not start again); a permanent failure (a
// quota) deletes them at once. Otherwise the journal's segments are
// deleted after the next successful upload of the entry (the manifest PUT
// may have succeeded before a crash, so not earlier), or when the entry is
// removed. Segments of the manifest an upload replaces, and the
// journal, are handed to the garbage collector: a durable list
// (meta/gc-*.json) deleted in the background, retried until done, and
// resumed at start-up. When a file that was downloaded as a large object is
// overwritten, its manifest is first copied (manifest only) under the
// segment prefix and journalled; after the new upload that copy is deleted
// with multipart-manifest=delete, which deletes the old segments. A rename
// of an SLO copies the manifest only (package fs), and the entry keeps
// knowing its segments.
//
// # Conflicts
//
// When Options.CheckConflict says so for a name (every name, unless
// --on-conflict=overwrite), an upload guards against another writer
// (conflict.go). A copy of no object (the entry's remoteETag is "": created
// here, or renamed onto a name the listing did not have) is uploaded with
// "If-None-Match: *", at no extra request; a 412 is then compared with our
// content (our own earlier PUT whose answer was lost counts as success). A
// copy of a version is compared with the object in Swift first (HEAD,
// ETag). When another client changed, deleted or created the object, our
// content is uploaded, create-only, as "<name>.conflict-<host>-<time>"
// (with "-2", "-3"... when that name is taken), their version is kept, the
// upload reports a [ConflictError] (errors.Is ErrConflict), Stats lists it
// and the next SyncAll fails naming it. A closed entry is then forgotten,
// so that the next Open reads their version.
//
// Records need room: content never takes the last recordRoom (1 MiB)
// above Options.MinFree, and an entry whose record could not be written
// (Entry.unsaved) fails its next change until the record is written.
//
// # Locking
//
// The lock order is Entry.mu → Cache.mu → writeback.mu:
//
//   - Entry.mu guards one entry's state; it may be held across disk I/O on
//     that entry (records, truncation) but never across Swift I/O.
//   - Cache.mu guards the name index, the LRU and the budget. It is never
//     held across disk or Swift I/O, and no Entry.mu is taken while it is
//     held; code holding it calls only *Locked helpers.
//   - writeback.mu guards the queue's due times and is a leaf.
//   - prefetcher.mu guards the prefetch queue and is a leaf.
//   - uploadGuard.mu is a leaf: writers take it under Entry.mu to stop an
//     upload's reads; the upload's reads take it alone, around each read
//     of the file.
//   - No code holds two Entry.mu at once: Rename and Remove drop one entry's
//     lock before dealing with another, and start again when the index
//     changed meanwhile.
//
// Waiting for a download (ReadAt) or an upload (Sync) honours the
// caller's context. Rename and Remove stop an upload in flight rather than
// wait for it. Background work (downloads, deletion of dropped entries'
// files, the garbage collector) runs in goroutines that Close waits for,
// after cancelling them.
//
// The invariants of the accounting are written next to Cache's fields and
// checked by Cache.invariantsLocked on every unlock when the tests turn
// Options.checkInvariants on; TestModel compares random sequences of
// operations, crashes and outages with a reference model.
package cache
