package fitsstage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Check identifiers carried in CheckError.Check. They are stable: the
// daemon logs them and may count them.
const (
	CheckBlockSize       = "block-size"        // file size is zero or not a multiple of 2880
	CheckSimple          = "simple"            // primary header does not start with SIMPLE = T (fixed format)
	CheckXtension        = "xtension"          // extension header does not start with a valid XTENSION card
	CheckTrailingData    = "trailing-data"     // bytes after the last HDU that are not an extension
	CheckMandatory       = "mandatory-keyword" // mandatory keyword missing or out of order
	CheckBitpix          = "bitpix"            // BITPIX missing a value or not in {8,16,32,64,-32,-64}
	CheckNaxis           = "naxis"             // NAXIS not an integer in 0..999 (or wrong for the extension type)
	CheckNaxisN          = "naxisn"            // NAXISn not a non-negative integer
	CheckPcount          = "pcount"            // PCOUNT invalid
	CheckGcount          = "gcount"            // GCOUNT invalid
	CheckTfields         = "tfields"           // TFIELDS missing or invalid in a TABLE/BINTABLE extension
	CheckGroups          = "groups"            // random groups header without valid PCOUNT/GCOUNT
	CheckMissingEnd      = "missing-end"       // header has no END card
	CheckEndCard         = "end-card"          // END card not blank in columns 4-80
	CheckHeaderPadding   = "header-padding"    // bytes after END in the last header block are not blanks
	CheckNonASCII        = "non-ascii"         // header card contains a byte outside 0x20-0x7e
	CheckHeaderTooLarge  = "header-too-large"  // more than MaxHeaderBlocks header blocks
	CheckTruncatedHeader = "truncated-header"  // file ends inside a header block
	CheckTruncatedData   = "truncated-data"    // data unit (with padding) extends past the end of file
	CheckGzipSize        = "gzip-size"         // gzip file shorter than a minimal gzip member
	CheckGzipMagic       = "gzip-magic"        // gzip magic bytes 1f 8b missing
	CheckGzipMethod      = "gzip-method"       // gzip compression method is not deflate (8)
)

// CheckError describes why a file failed a structure check.
type CheckError struct {
	// HDU is the zero-based index of the HDU being checked (0 is the
	// primary HDU), or -1 when the failure concerns the whole file (size,
	// gzip checks) or the HDU index is unknown (ParseHeader, ReadHeader).
	HDU int
	// Offset is the byte offset in the file most closely associated with
	// the failure: the offending byte or card, or the start of the HDU.
	Offset int64
	// Check is a short stable identifier, one of the Check* constants.
	Check string
	// Msg is a human-readable description.
	Msg string
}

func (e *CheckError) Error() string {
	if e.HDU < 0 {
		return fmt.Sprintf("fitsstage: %s at offset %d: %s", e.Check, e.Offset, e.Msg)
	}
	return fmt.Sprintf("fitsstage: HDU %d: %s at offset %d: %s", e.HDU, e.Check, e.Offset, e.Msg)
}

// IsCheckError reports whether err is (or wraps) a *CheckError and
// returns it. An error from Validate that is not a CheckError is a failure
// to read the file, not a verdict on its content.
func IsCheckError(err error) (*CheckError, bool) {
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce, true
	}
	return nil, false
}

// HDU describes one header-data unit found by Validate.
type HDU struct {
	Index        int   // zero-based; 0 is the primary HDU
	HeaderOffset int64 // offset of the first header block
	HeaderLen    int64 // header length in bytes, a multiple of BlockSize
	DataOffset   int64 // HeaderOffset + HeaderLen
	DataLen      int64 // data unit length in bytes, without padding
	// XTension is the extension type (e.g. "IMAGE", "BINTABLE", "TABLE")
	// or "" for the primary HDU.
	XTension string
	ExtName  string  // EXTNAME value, "" if absent
	BitPix   int     // BITPIX
	Axes     []int64 // NAXIS1 .. NAXISn
	PCount   int64   // PCOUNT (0 for a primary HDU without random groups)
	GCount   int64   // GCOUNT (1 for a primary HDU without random groups)
	Groups   bool    // primary HDU holds random groups (NAXIS1 = 0, GROUPS = T)
	// ZImage is true for a tile-compressed image (BINTABLE with ZIMAGE = T),
	// as written by fpack or astropy's CompImageHDU.
	ZImage bool
}

// DataPaddedLen is the data unit length including padding to BlockSize.
func (h HDU) DataPaddedLen() int64 { return padBlock(h.DataLen) }

// End is the offset just past the HDU's padded data unit.
func (h HDU) End() int64 { return h.DataOffset + h.DataPaddedLen() }

// Range returns the HDU's offsets as an HDURange.
func (h HDU) Range() HDURange {
	return HDURange{HeaderOffset: h.HeaderOffset, DataOffset: h.DataOffset, DataLen: h.DataLen}
}

// Layout is the HDU structure of a valid FITS file.
type Layout struct {
	Size int64 // file size; equals the End of the last HDU
	HDUs []HDU // at least one; HDUs[0] is the primary HDU
}

// Ranges returns the offsets of all HDUs.
func (l *Layout) Ranges() []HDURange {
	out := make([]HDURange, len(l.HDUs))
	for i, h := range l.HDUs {
		out[i] = h.Range()
	}
	return out
}

func padBlock(n int64) int64 {
	if r := n % BlockSize; r != 0 {
		return n + BlockSize - r
	}
	return n
}

const simpleCard = "SIMPLE  =                    T"

// Validate checks that the size bytes readable from r form a structurally
// valid FITS file and returns its HDU layout.
//
// It checks the 2880-byte block framing, the fixed-format SIMPLE card, the
// mandatory keywords and their order in every header, the BITPIX value,
// END card and blank padding, printable-ASCII header text, that every data
// unit (|BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn), with random
// groups handled) fits in the file, and that the file ends exactly after
// the last HDU's padded data unit. Data units are never read.
//
// A structural problem is reported as a *CheckError; any other error is a
// failure reading r. Memory use is bounded by the size of the headers, not
// by the sizes the headers declare.
func Validate(r io.ReaderAt, size int64) (*Layout, error) {
	if size <= 0 || size%BlockSize != 0 {
		return nil, &CheckError{HDU: -1, Offset: size, Check: CheckBlockSize,
			Msg: fmt.Sprintf("file size %d is not a positive multiple of %d", size, BlockSize)}
	}
	l := &Layout{Size: size}
	var off int64
	for i := 0; off < size; i++ {
		if i > 0 {
			// Only an extension may follow; anything else is trailing junk.
			var magic [8]byte
			if n, err := r.ReadAt(magic[:], off); n < len(magic) {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return nil, fmt.Errorf("fitsstage: reading HDU %d at offset %d: %w", i, off, err)
			}
			if string(magic[:]) != "XTENSION" {
				return nil, &CheckError{HDU: i, Offset: off, Check: CheckTrailingData,
					Msg: fmt.Sprintf("the %d bytes after the end of HDU %d do not start with an XTENSION card: junk after the last HDU or a corrupt extension header", size-off, i-1)}
			}
		}
		h, err := readHeader(r, off, size, i)
		if err != nil {
			return nil, err
		}
		hdu, err := hduFromHeader(h, i, size-(off+h.Len()))
		if err != nil {
			return nil, err
		}
		if hdu.End() > size {
			return nil, &CheckError{HDU: i, Offset: hdu.DataOffset, Check: CheckTruncatedData,
				Msg: fmt.Sprintf("data unit of %d bytes (%d padded) extends past end of file (%d bytes available)",
					hdu.DataLen, hdu.DataPaddedLen(), size-hdu.DataOffset)}
		}
		l.HDUs = append(l.HDUs, hdu)
		off = hdu.End()
	}
	return l, nil
}

// hduFromHeader checks the mandatory keywords of h (HDU index i; i == 0 is
// the primary HDU) and computes its data length. avail is the number of
// bytes available for the data unit; a data unit larger than that is
// reported as truncated without computing its exact size, so hostile NAXISn
// values can never overflow.
func hduFromHeader(h Header, i int, avail int64) (HDU, error) {
	hdu := HDU{Index: i, HeaderOffset: h.Offset, HeaderLen: h.Len(), DataOffset: h.Offset + h.Len(), GCount: 1}
	cards := h.Cards
	cardOff := func(k int) int64 { return h.Offset + int64(k)*CardSize }
	fail := func(k int, check, format string, args ...any) error {
		return &CheckError{HDU: i, Offset: cardOff(k), Check: check, Msg: fmt.Sprintf(format, args...)}
	}
	// expect returns the card at position k if it has keyword key.
	expect := func(k int, key string) (Card, error) {
		if k >= len(cards) {
			return Card{}, fail(k, CheckMandatory, "END reached before mandatory keyword %s (card %d)", key, k+1)
		}
		if cards[k].Keyword != key {
			return Card{}, fail(k, CheckMandatory, "card %d is %q, want mandatory keyword %s", k+1, cards[k].Keyword, key)
		}
		return cards[k], nil
	}
	expectInt := func(k int, key, check string, lo, hi int64) (int64, error) {
		c, err := expect(k, key)
		if err != nil {
			return 0, err
		}
		v, err := c.IntValue()
		if err != nil {
			return 0, fail(k, check, "%s value %q is not an integer", key, c.Value)
		}
		if v < lo || v > hi {
			if hi == math.MaxInt64 {
				return 0, fail(k, check, "%s = %d, want a value >= %d", key, v, lo)
			}
			return 0, fail(k, check, "%s = %d, want a value in [%d, %d]", key, v, lo, hi)
		}
		return v, nil
	}

	k := 0
	if i == 0 {
		if len(cards) == 0 || !strings.HasPrefix(cards[0].Raw, simpleCard) {
			msg := "primary header must start with the fixed-format card SIMPLE = T (T in column 30)"
			if len(cards) > 0 && cards[0].Keyword == "SIMPLE" && cards[0].Value == "F" {
				msg = "SIMPLE = F: file does not conform to the FITS standard"
			}
			return hdu, fail(0, CheckSimple, "%s", msg)
		}
	} else {
		c, err := expect(0, "XTENSION")
		if err != nil {
			return hdu, fail(0, CheckXtension, "extension header must start with XTENSION")
		}
		x, err := c.StringValue()
		if err != nil || x == "" || strings.TrimSpace(x) != x {
			return hdu, fail(0, CheckXtension, "XTENSION value %q is not a valid extension type string", c.Value)
		}
		hdu.XTension = x
	}
	k++

	c, err := expect(k, "BITPIX")
	if err != nil {
		return hdu, err
	}
	bitpix, err := c.IntValue()
	switch {
	case err != nil:
		return hdu, fail(k, CheckBitpix, "BITPIX value %q is not an integer", c.Value)
	case bitpix != 8 && bitpix != 16 && bitpix != 32 && bitpix != 64 && bitpix != -32 && bitpix != -64:
		return hdu, fail(k, CheckBitpix, "BITPIX = %d, want one of 8, 16, 32, 64, -32, -64", bitpix)
	}
	hdu.BitPix = int(bitpix)
	k++

	naxis, err := expectInt(k, "NAXIS", CheckNaxis, 0, 999)
	if err != nil {
		return hdu, err
	}
	k++
	hdu.Axes = make([]int64, naxis)
	for n := range hdu.Axes {
		v, err := expectInt(k, fmt.Sprintf("NAXIS%d", n+1), CheckNaxisN, 0, math.MaxInt64)
		if err != nil {
			return hdu, err
		}
		hdu.Axes[n] = v
		k++
	}

	if i == 0 {
		if naxis >= 1 && hdu.Axes[0] == 0 {
			if g, err := h.BoolValue("GROUPS"); err == nil && g {
				hdu.Groups = true
				// GROUPS, PCOUNT and GCOUNT follow the NAXISn cards, in
				// any order.
				for _, key := range []string{"PCOUNT", "GCOUNT"} {
					j := h.Index(key)
					if j < k {
						return hdu, fail(k, CheckGroups, "random groups header (NAXIS1 = 0, GROUPS = T) lacks %s after the NAXISn cards", key)
					}
					v, err := cards[j].IntValue()
					if err != nil || v < 0 {
						return hdu, fail(j, CheckGroups, "random groups %s value %q is not a non-negative integer", key, cards[j].Value)
					}
					if key == "PCOUNT" {
						hdu.PCount = v
					} else {
						hdu.GCount = v
					}
				}
			}
		}
	} else {
		if hdu.PCount, err = expectInt(k, "PCOUNT", CheckPcount, 0, math.MaxInt64); err != nil {
			return hdu, err
		}
		k++
		if hdu.GCount, err = expectInt(k, "GCOUNT", CheckGcount, 0, math.MaxInt64); err != nil {
			return hdu, err
		}
		k++
		// Rules of the standard extension types (FITS 4.0 sections 7.1-7.3).
		switch hdu.XTension {
		case "IMAGE", "TABLE", "BINTABLE":
			if hdu.GCount != 1 {
				return hdu, fail(k-1, CheckGcount, "GCOUNT = %d, want 1 for XTENSION = '%s'", hdu.GCount, hdu.XTension)
			}
			if hdu.XTension != "BINTABLE" && hdu.PCount != 0 {
				return hdu, fail(k-2, CheckPcount, "PCOUNT = %d, want 0 for XTENSION = '%s'", hdu.PCount, hdu.XTension)
			}
			if hdu.XTension == "IMAGE" {
				break
			}
			if hdu.BitPix != 8 {
				return hdu, fail(1, CheckBitpix, "BITPIX = %d, want 8 for XTENSION = '%s'", hdu.BitPix, hdu.XTension)
			}
			if naxis != 2 {
				return hdu, fail(2, CheckNaxis, "NAXIS = %d, want 2 for XTENSION = '%s'", naxis, hdu.XTension)
			}
			if _, err := expectInt(k, "TFIELDS", CheckTfields, 0, 999); err != nil {
				if ce, ok := IsCheckError(err); ok {
					ce.Check = CheckTfields
				}
				return hdu, err
			}
			if hdu.XTension == "BINTABLE" {
				if z, err := h.BoolValue("ZIMAGE"); err == nil && z {
					hdu.ZImage = true
				}
			}
		}
	}
	if name, err := h.StringValue("EXTNAME"); err == nil {
		hdu.ExtName = name
	}

	// Data unit size: |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn),
	// skipping NAXIS1 for random groups; no data when there are no axes
	// (or, for random groups, no axes after NAXIS1). Arithmetic saturates
	// just above avail so hostile values cannot overflow.
	first := 0
	if hdu.Groups {
		first = 1
	}
	if int(naxis) <= first {
		return hdu, nil
	}
	limit := max(avail, 0)
	size := dataSize(hdu, first, limit)
	if size > limit {
		msg := fmt.Sprintf("header declares a data unit of more than %d bytes", uint64(math.MaxInt64-BlockSize))
		if exact := dataSize(hdu, first, math.MaxInt64-BlockSize); exact <= math.MaxInt64-BlockSize {
			msg = fmt.Sprintf("header declares a data unit of %d bytes (%d padded)", exact, padBlock(exact))
		}
		return hdu, &CheckError{HDU: i, Offset: hdu.DataOffset, Check: CheckTruncatedData,
			Msg: fmt.Sprintf("%s but only %d bytes follow the header", msg, avail)}
	}
	hdu.DataLen = size
	return hdu, nil
}

// dataSize computes |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS(first+1) × … ×
// NAXISn), saturating at limit+1.
func dataSize(hdu HDU, first int, limit int64) int64 {
	prod := int64(1)
	for _, a := range hdu.Axes[first:] {
		prod = mulSat(prod, a, limit)
	}
	size := addSat(prod, hdu.PCount, limit)
	size = mulSat(size, hdu.GCount, limit)
	return mulSat(size, int64(abs(hdu.BitPix)/8), limit)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// mulSat returns a*b for non-negative a, b, or limit+1 if the product
// exceeds limit (limit < MaxInt64). A saturated operand stays saturated
// unless the other operand is zero, which keeps the result exact in the
// sense that matters: whether the true product exceeds limit.
func mulSat(a, b, limit int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > limit || b > limit || a > limit/b {
		return limit + 1
	}
	return a * b
}

func addSat(a, b, limit int64) int64 {
	if a > limit || b > limit || a > limit-b {
		return limit + 1
	}
	return a + b
}

// Applies reports whether the staged file name is one the daemon checks
// with Validate: .fits, .fit, .fts or .fits.fz, case-insensitively.
// Gzip-compressed FITS (.fits.gz) is not structure-checked; see AppliesGzip.
func Applies(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range []string{".fits", ".fit", ".fts", ".fits.fz"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// AppliesGzip reports whether the staged file name is a gzip-compressed
// FITS file (.fits.gz, .fit.gz, .fts.gz, case-insensitively), for which the
// daemon can only run ValidateGzip.
func AppliesGzip(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range []string{".fits.gz", ".fit.gz", ".fts.gz"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// minGzipSize is a 10-byte member header plus an 8-byte CRC32/ISIZE trailer.
const minGzipSize = 18

// ValidateGzip performs the only cheap check possible on a gzip file without
// decompressing it: the size is at least that of a minimal gzip member (18
// bytes), the magic bytes 1f 8b are present and the compression method is
// deflate. Failures are *CheckError values with HDU -1.
func ValidateGzip(r io.ReaderAt, size int64) error {
	if size < minGzipSize {
		return &CheckError{HDU: -1, Offset: 0, Check: CheckGzipSize,
			Msg: fmt.Sprintf("gzip file of %d bytes is shorter than the %d-byte minimum", size, minGzipSize)}
	}
	var hdr [3]byte
	if n, err := r.ReadAt(hdr[:], 0); n < len(hdr) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("fitsstage: reading gzip header: %w", err)
	}
	if hdr[0] != 0x1f || hdr[1] != 0x8b {
		return &CheckError{HDU: -1, Offset: 0, Check: CheckGzipMagic,
			Msg: fmt.Sprintf("file starts with %02x %02x, want gzip magic 1f 8b", hdr[0], hdr[1])}
	}
	if hdr[2] != 8 {
		return &CheckError{HDU: -1, Offset: 2, Check: CheckGzipMethod,
			Msg: fmt.Sprintf("gzip compression method %d, want 8 (deflate)", hdr[2])}
	}
	return nil
}
