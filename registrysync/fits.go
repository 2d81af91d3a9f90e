package registrysync

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// FITS framing.
const (
	fitsBlock = 2880
	fitsCard  = 80
	// maxHeaderBytes bounds how much (decompressed) header is read before
	// giving up on finding END.
	maxHeaderBytes = 1000 * fitsBlock
)

// errNotFITS is a header that cannot be read as FITS.
var errNotFITS = errors.New("not a FITS file")

// rangeReader reads an object sequentially with ranged GETs of growing
// size, so that reading a header costs one or two small requests instead
// of a download of the whole object.
type rangeReader struct {
	ctx    context.Context
	client swiftclient.Client
	name   string
	off    int64
	size   int64 // -1 until the first GET tells
	chunk  int64
	buf    []byte
}

const maxChunk = 4 << 20

// fetchError is a failure to read the object (as opposed to content that
// is not FITS), kept apart through bufio and gzip readers.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

func newRangeReader(ctx context.Context, c swiftclient.Client, name string, first int64) *rangeReader {
	return &rangeReader{ctx: ctx, client: c, name: name, size: -1, chunk: first}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.size >= 0 && r.off >= r.size {
			return 0, io.EOF
		}
		rc, info, err := r.client.Get(r.ctx, r.name, r.off, r.chunk)
		if err != nil {
			return 0, &fetchError{err}
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return 0, &fetchError{err}
		}
		r.size = info.Size
		if len(b) == 0 {
			return 0, io.EOF
		}
		r.off += int64(len(b))
		r.buf = b
		r.chunk = min(2*r.chunk, maxChunk)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// readFITSKeywords reads the values of keys from the object's FITS
// header: the primary header, and when some key is missing there and the
// primary HDU has no data (NAXIS = 0, the usual layout of multi-extension
// and tile-compressed .fz files), the first extension's header too.
// gzip-compressed objects are decompressed on the fly, only as far as the
// header goes. Missing keys are absent from the result. The error wraps
// errNotFITS for content that is not FITS.
func readFITSKeywords(ctx context.Context, c swiftclient.Client, name string, keys []string) (map[string]any, error) {
	br := bufio.NewReaderSize(newRangeReader(ctx, c, name, 4*fitsBlock), 64<<10)
	var r io.Reader = br
	magic, err := br.Peek(2)
	if err != nil {
		var fe *fetchError
		if errors.As(err, &fe) {
			return nil, fe.err
		}
		return nil, fmt.Errorf("%w: object is empty or too short", errNotFITS)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotFITS, err)
		}
		defer zr.Close()
		r = zr
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	out := map[string]any{}
	cards, err := readHeaderCards(r, true)
	if err != nil {
		return nil, err
	}
	collect(cards, want, out)
	if len(out) == len(want) || !noPrimaryData(cards) {
		return out, nil
	}
	ext, err := readHeaderCards(r, false)
	if err != nil {
		// No extension (or a broken one): what the primary header had is
		// the answer.
		return out, nil
	}
	collect(ext, want, out)
	return out, nil
}

// card is one parsed header card.
type card struct {
	key   string
	value any // int64, float64, string, bool (stored as 0/1) or nil (no value)
}

// readHeaderCards reads 2880-byte blocks from r until the END card.
// primary requires the header to start with SIMPLE, otherwise with
// XTENSION.
func readHeaderCards(r io.Reader, primary bool) ([]card, error) {
	var cards []card
	blk := make([]byte, fitsBlock)
	for read := 0; read < maxHeaderBytes; read += fitsBlock {
		if _, err := io.ReadFull(r, blk); err != nil {
			var fe *fetchError
			switch {
			case errors.As(err, &fe):
				return nil, fe.err
			case (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && read == 0 && primary:
				return nil, fmt.Errorf("%w: shorter than one %d-byte header block", errNotFITS, fitsBlock)
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				return nil, fmt.Errorf("%w: header ends without an END card", errNotFITS)
			}
			return nil, fmt.Errorf("%w: %v", errNotFITS, err) // e.g. a corrupt gzip stream
		}
		for off := 0; off < fitsBlock; off += fitsCard {
			raw := string(blk[off : off+fitsCard])
			key := strings.TrimRight(raw[:8], " ")
			if read == 0 && off == 0 {
				first := "SIMPLE"
				if !primary {
					first = "XTENSION"
				}
				if key != first {
					return nil, fmt.Errorf("%w: header starts with %q, not %s", errNotFITS, key, first)
				}
			}
			if key == "END" {
				return cards, nil
			}
			if c, ok := parseCard(raw); ok {
				cards = append(cards, c)
			}
		}
	}
	return nil, fmt.Errorf("%w: no END card in the first %d header bytes", errNotFITS, maxHeaderBytes)
}

func collect(cards []card, want map[string]bool, out map[string]any) {
	for _, c := range cards {
		if _, done := out[c.key]; want[c.key] && !done && c.value != nil {
			out[c.key] = c.value
		}
	}
}

// noPrimaryData reports whether the primary HDU has an empty data unit, so
// that the first extension header follows the primary header directly.
func noPrimaryData(cards []card) bool {
	naxis := int64(-1)
	extend := false
	for _, c := range cards {
		switch c.key {
		case "NAXIS":
			naxis, _ = c.value.(int64)
		case "EXTEND":
			extend = c.value == true
		}
	}
	return naxis == 0 && extend
}

// parseCard parses a keyword = value card. Cards without a value
// indicator (COMMENT, HISTORY, blank) report ok = false. HIERARCH cards
// ("HIERARCH ESO DET DIT = 1.0") are keyed by what follows HIERARCH.
func parseCard(raw string) (card, bool) {
	key := strings.TrimRight(raw[:8], " ")
	var field string
	switch {
	case key == "HIERARCH":
		k, v, ok := strings.Cut(raw[8:], "=")
		if !ok {
			return card{}, false
		}
		key, field = strings.Join(strings.Fields(k), " "), v
	case raw[8:10] == "= ":
		field = raw[10:]
	default:
		return card{}, false
	}
	return card{key: key, value: parseValue(field)}, true
}

// parseValue decodes a card's value field (the text after "= "), leniently:
// a string (a doubled quote stands for one; trailing blanks dropped), T or F, an integer, a
// real (D exponents too), nil for an empty value, and any other text as a
// string (complex numbers, malformed values).
func parseValue(f string) any {
	f = strings.TrimLeft(f, " ")
	if strings.HasPrefix(f, "'") {
		var b strings.Builder
		for i := 1; i < len(f); i++ {
			if f[i] == '\'' {
				if i+1 < len(f) && f[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			b.WriteByte(f[i])
		}
		return strings.TrimRight(b.String(), " ")
	}
	if i := strings.IndexByte(f, '/'); i >= 0 {
		f = f[:i]
	}
	f = strings.TrimSpace(f)
	switch f {
	case "":
		return nil
	case "T":
		return true
	case "F":
		return false
	}
	if n, err := strconv.ParseInt(f, 10, 64); err == nil {
		return n
	}
	if x, err := strconv.ParseFloat(strings.NewReplacer("D", "E", "d", "e").Replace(f), 64); err == nil {
		return x
	}
	return f
}
