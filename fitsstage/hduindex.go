package fitsstage

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxHDUIndexLen is the longest string HDUIndex produces: the limit Swift
// puts on one metadata value.
const MaxHDUIndexLen = 256

// MetadataKey is the object metadata key under which swiftfs stores
// HDUIndex (sent as the X-Object-Meta-Fits-Hdu-Index header).
const MetadataKey = "Fits-Hdu-Index"

// HDURange locates one HDU in a FITS object.
type HDURange struct {
	HeaderOffset int64 // offset of the header's first block
	DataOffset   int64 // offset of the data unit (end of header)
	DataLen      int64 // data unit length without padding
}

// End is the offset just past the HDU's padded data unit.
func (r HDURange) End() int64 { return r.DataOffset + padBlock(r.DataLen) }

const hduIndexVersion = "v1"

// HDUIndex encodes the HDU offsets of l compactly for object metadata.
//
// The format is
//
//	v1:<total>:<hb>.<dl>,<hb>.<dl>,...
//
// with one "<hb>.<dl>" entry per HDU in file order: hb is the header
// length in 2880-byte blocks and dl the unpadded data length in bytes, both
// in lower-case base 36; total is the number of HDUs in the file, in
// decimal. Offsets follow from the FITS framing: the first header is at 0,
// each data unit starts right after its header and each header right after
// the previous padded data unit. Typical entries take 4-9 bytes, so a dozen
// HDUs use about 100 bytes.
//
// The result is at most MaxHDUIndexLen bytes. If the entries for all HDUs
// do not fit, only the first ones that fit are encoded and total (larger
// than the number of entries) says so; ParseHDUIndexTotal reports both.
func HDUIndex(l *Layout) string {
	var b strings.Builder
	b.WriteString(hduIndexVersion)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(len(l.HDUs)))
	b.WriteByte(':')
	for i, h := range l.HDUs {
		e := strconv.FormatInt(h.HeaderLen/BlockSize, 36) + "." + strconv.FormatInt(h.DataLen, 36)
		if i > 0 {
			e = "," + e
		}
		if b.Len()+len(e) > MaxHDUIndexLen {
			break
		}
		b.WriteString(e)
	}
	return b.String()
}

// ParseHDUIndex decodes a string produced by HDUIndex. If the index was
// truncated, only the encoded leading HDUs are returned; use
// ParseHDUIndexTotal to learn the file's HDU count.
func ParseHDUIndex(s string) ([]HDURange, error) {
	r, _, err := ParseHDUIndexTotal(s)
	return r, err
}

// ParseHDUIndexTotal decodes a string produced by HDUIndex and also returns
// the total number of HDUs in the file, which is larger than len(ranges)
// when the index was truncated to fit MaxHDUIndexLen.
func ParseHDUIndexTotal(s string) (ranges []HDURange, total int, err error) {
	bad := func(format string, args ...any) ([]HDURange, int, error) {
		q := s
		if len(q) > 64 {
			q = q[:64] + "..."
		}
		return nil, 0, fmt.Errorf("fitsstage: bad HDU index %q: %s", q, fmt.Sprintf(format, args...))
	}
	ver, rest, ok := strings.Cut(s, ":")
	if !ok || ver != hduIndexVersion {
		return bad("want prefix %q", hduIndexVersion+":")
	}
	tot, body, ok := strings.Cut(rest, ":")
	if !ok {
		return bad("missing HDU count")
	}
	if !isDigits(tot, 10) {
		return bad("HDU count %q is not a decimal number", tot)
	}
	t, err := strconv.ParseInt(tot, 10, 32)
	if err != nil || t < 1 {
		return bad("HDU count %q out of range", tot)
	}
	entries := strings.Split(body, ",")
	if int64(len(entries)) > t {
		return bad("%d entries for %d HDUs", len(entries), t)
	}
	ranges = make([]HDURange, 0, len(entries))
	var off int64
	for i, e := range entries {
		hs, ds, ok := strings.Cut(e, ".")
		if !ok || !isDigits(hs, 36) || !isDigits(ds, 36) {
			return bad("entry %d %q is not <header blocks>.<data length> in base 36", i, e)
		}
		hb, err1 := strconv.ParseInt(hs, 36, 64)
		dl, err2 := strconv.ParseInt(ds, 36, 64)
		if err1 != nil || err2 != nil || hb < 1 {
			return bad("entry %d %q out of range", i, e)
		}
		if hb > (math.MaxInt64-off)/BlockSize {
			return bad("entry %d: offsets overflow", i)
		}
		dataOff := off + hb*BlockSize
		if dl > math.MaxInt64-BlockSize || padBlock(dl) > math.MaxInt64-dataOff {
			return bad("entry %d: offsets overflow", i)
		}
		ranges = append(ranges, HDURange{HeaderOffset: off, DataOffset: dataOff, DataLen: dl})
		off = dataOff + padBlock(dl)
	}
	return ranges, int(t), nil
}

// isDigits reports whether s is non-empty and made only of lower-case
// digits of the given base (10 or 36).
func isDigits(s string, base int) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(base == 36 && c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
