// Package fitsstage checks the structure of FITS files that swiftfs has
// staged locally before it uploads them to Swift.
//
// # Why
//
// Pipelines such as the LSST Butler write their outputs as FITS files
// through the swiftfs mount. swiftfs stages each file on local disk and
// uploads it as one object when the writer is done with it. A writer that
// crashes, runs out of disk or quota, or has a bug can leave a file that
// is cut short, has a header with no END card, or has junk after its last
// HDU. Uploaded, such an object looks like a complete dataset and fails
// only when something reads it, possibly much later and far from the job
// that wrote it. FITS framing is strict enough to catch most of these
// cases from the headers alone, without reading the data, so the check is
// cheap enough to run on every upload.
//
// # How swiftfs uses it
//
// Before uploading a staged file, the daemon looks at its name:
//
//   - Applies(name) is true for .fits, .fit, .fts and .fits.fz (any case):
//     the daemon runs Validate on the staged file. Tile-compressed .fits.fz
//     files (fpack, astropy CompImageHDU) are ordinary FITS files whose
//     compressed images are BINTABLE extensions with ZIMAGE = T, so the same
//     structure check applies; the compressed tiles are not decoded.
//   - AppliesGzip(name) is true for .fits.gz and similar: the FITS inside
//     is not checked (that would mean decompressing it); ValidateGzip only
//     checks that the file is long enough and starts with the gzip magic.
//
// The check runs in one of three modes (Mode, ParseMode):
//
//   - off: nothing is checked.
//   - warn: a failure is logged and the file is uploaded anyway.
//   - refuse: a file that fails is not uploaded.
//
// A *CheckError says which check failed (Check, a stable short identifier
// such as "block-size", "missing-end", "bitpix" or "truncated-data"), in
// which HDU and at which byte offset, so the log line is enough to find
// the problem. Any other error from Validate means the staged file could
// not be read, which is not a verdict on its content.
//
// When a file passes, the daemon stores HDUIndex(layout) in the object's
// metadata under MetadataKey (the X-Object-Meta-Fits-Hdu-Index header). The
// index records where each HDU's header and data unit are, in at most 256
// bytes (Swift's limit for one metadata value), so a reader can fetch a
// single HDU with ranged GETs without first reading the headers before it.
// ParseHDUIndex decodes it. If a file has too many HDUs for 256 bytes, the
// first ones that fit are recorded and the index says how many HDUs the
// file has in total. A reader that has no index can use ReadHeader, which
// fetches a header one 2880-byte block at a time. (The metadata key is
// sent in lower case, "fits-hdu-index": Swift does not keep the case of
// metadata keys.)
//
// Readers through the mount need no index: package cache serves a read
// far ahead of the download of a large object (a later HDU's header, the
// last block) with a ranged GET of its own while the whole object is
// still being downloaded (see "Reads ahead of a download" in its package
// documentation).
//
// # What Validate checks
//
// Following the FITS standard (version 4.0):
//
//   - The file is a whole number of 2880-byte blocks.
//   - The primary header starts with the fixed-format card SIMPLE = T:
//     keyword in columns 1-8, "= " in columns 9-10, T in column 30.
//   - Every header holds its mandatory keywords in order: SIMPLE, BITPIX,
//     NAXIS, NAXIS1 ... NAXISn for the primary HDU; XTENSION, BITPIX, NAXIS,
//     NAXIS1 ... NAXISn, PCOUNT, GCOUNT for extensions, followed by TFIELDS
//     for TABLE and BINTABLE. BITPIX is one of 8, 16, 32, 64, -32, -64;
//     NAXIS is 0 to 999; NAXISn, PCOUNT and GCOUNT are non-negative.
//     IMAGE, TABLE and BINTABLE extensions obey their type's fixed values
//     (GCOUNT = 1; PCOUNT = 0 except for BINTABLE; BITPIX = 8 and NAXIS = 2
//     for tables).
//   - Header cards are printable ASCII (0x20-0x7e); the END card is present
//     and blank after "END"; the rest of the header's last block is blanks.
//   - Each data unit, |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn)
//     bytes (none when NAXIS = 0) padded to a whole block, fits in the file.
//     Random groups (NAXIS1 = 0 and GROUPS = T in the primary header) skip
//     NAXIS1 in the product and take PCOUNT and GCOUNT from the header.
//   - HDUs follow each other to the end of the file, which ends exactly
//     after the last HDU's padded data unit: anything that is not an
//     extension after that is an error.
//
// It does not read data units, so it does not check data values, the data
// padding bytes, CHECKSUM/DATASUM, table column definitions against
// NAXIS1, heap descriptors, or compressed tiles. Values of mandatory
// keywords are accepted in free format (only SIMPLE must be fixed-format).
//
// Validate reads only header blocks (plus 8 bytes to look for an
// extension after each HDU); its memory use is bounded by the size of the
// headers, and declared sizes are computed with saturating arithmetic, so
// hostile NAXISn values cannot overflow or cause allocation.
package fitsstage
