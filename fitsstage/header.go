package fitsstage

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// FITS framing constants.
const (
	// BlockSize is the size of a FITS logical record; every header and
	// every data unit occupies a whole number of blocks.
	BlockSize = 2880
	// CardSize is the size of one header card (keyword record).
	CardSize = 80
	// CardsPerBlock is the number of cards in one header block.
	CardsPerBlock = BlockSize / CardSize

	// MaxHeaderBlocks bounds the number of blocks a single header may
	// occupy (360,000 cards, about 28 MB). It protects ReadHeader, which
	// does not know the file size, from reading an unbounded amount of
	// non-header data into memory when an END card is missing.
	MaxHeaderBlocks = 10000
)

// ErrKeyNotFound is returned (wrapped) by the Header value accessors when
// the keyword is not present.
var ErrKeyNotFound = errors.New("fitsstage: keyword not found")

// Card is one 80-byte header record.
type Card struct {
	// Raw is the complete 80-character card image.
	Raw string
	// Keyword is the keyword name with trailing blanks removed (columns
	// 1-8). For ESO HIERARCH cards it is "HIERARCH " followed by the
	// blank-normalised hierarchical name, e.g. "HIERARCH ESO DET CHIP".
	Keyword string
	// HasValue reports whether the card carries a value: a "= " value
	// indicator in columns 9-10 (and a keyword other than COMMENT,
	// HISTORY or blank), a HIERARCH card with "=", or a CONTINUE card.
	HasValue bool
	// Value is the raw value token with surrounding blanks removed. For
	// character strings it is the quoted literal including the enclosing
	// quotes and any doubled-quote escapes; use StringValue to decode it. It
	// is empty for an undefined value or a card without a value.
	Value string
	// Comment is the text after the '/' that follows a value, or for a
	// commentary card (COMMENT, HISTORY, blank keyword, or any card
	// without a value indicator) the text of columns 9-80. Surrounding
	// blanks are removed.
	Comment string
}

// IsString reports whether the card's value is a character string.
func (c Card) IsString() bool {
	return c.HasValue && strings.HasPrefix(c.Value, "'")
}

// StringValue decodes a character-string value: the enclosing quotes are
// removed, each doubled quote becomes a single quote, and trailing blanks
// (which are not significant in FITS) are dropped. Leading blanks are kept.
func (c Card) StringValue() (string, error) {
	v := c.Value
	if !c.HasValue || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", fmt.Errorf("fitsstage: %s value %q is not a character string", c.Keyword, v)
	}
	s := strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	return strings.TrimRight(s, " "), nil
}

// IntValue decodes an integer value.
func (c Card) IntValue() (int64, error) {
	if !c.HasValue {
		return 0, fmt.Errorf("fitsstage: %s has no value", c.Keyword)
	}
	n, err := strconv.ParseInt(c.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("fitsstage: %s value %q is not an integer", c.Keyword, c.Value)
	}
	return n, nil
}

// BoolValue decodes a logical value (T or F).
func (c Card) BoolValue() (bool, error) {
	if c.HasValue {
		switch c.Value {
		case "T":
			return true, nil
		case "F":
			return false, nil
		}
	}
	return false, fmt.Errorf("fitsstage: %s value %q is not a logical (T or F)", c.Keyword, c.Value)
}

// FloatValue decodes a real (or integer) value. Fortran-style D exponents
// are accepted.
func (c Card) FloatValue() (float64, error) {
	bad := func() (float64, error) {
		return 0, fmt.Errorf("fitsstage: %s value %q is not a real number", c.Keyword, c.Value)
	}
	if !c.HasValue || c.Value == "" {
		return bad()
	}
	b := []byte(c.Value)
	for i, ch := range b {
		switch {
		case ch >= '0' && ch <= '9', ch == '+', ch == '-', ch == '.', ch == 'E', ch == 'e':
		case ch == 'D' || ch == 'd':
			b[i] = 'E'
		default:
			return bad()
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return bad()
	}
	return f, nil
}

// Header is a parsed FITS header: its cards up to (not including) the END
// card.
type Header struct {
	// Offset is the byte offset of the header's first block in the file
	// (0 for ParseHeader).
	Offset int64
	// Blocks is the number of 2880-byte blocks the header occupies,
	// including the END card and its blank padding.
	Blocks int
	// Cards are the header cards in file order, excluding END.
	Cards []Card
}

// Len is the header length in bytes (a multiple of BlockSize).
func (h Header) Len() int64 { return int64(h.Blocks) * BlockSize }

// Index returns the position in Cards of the first card with the given
// keyword (case-insensitive), or -1.
func (h Header) Index(key string) int {
	key = normKey(key)
	for i := range h.Cards {
		if h.Cards[i].Keyword == key {
			return i
		}
	}
	return -1
}

// Lookup returns the first card with the given keyword.
func (h Header) Lookup(key string) (Card, bool) {
	if i := h.Index(key); i >= 0 {
		return h.Cards[i], true
	}
	return Card{}, false
}

// Has reports whether the keyword is present.
func (h Header) Has(key string) bool { return h.Index(key) >= 0 }

func (h Header) valued(key string) (Card, int, error) {
	i := h.Index(key)
	if i < 0 {
		return Card{}, -1, fmt.Errorf("%w: %s", ErrKeyNotFound, normKey(key))
	}
	return h.Cards[i], i, nil
}

// StringValue returns the decoded string value of the first card with the
// keyword. Values continued with the long-string convention (a value ending
// in '&' followed by CONTINUE cards) are joined.
func (h Header) StringValue(key string) (string, error) {
	c, i, err := h.valued(key)
	if err != nil {
		return "", err
	}
	s, err := c.StringValue()
	if err != nil {
		return "", err
	}
	for j := i + 1; strings.HasSuffix(s, "&") && j < len(h.Cards); j++ {
		n := h.Cards[j]
		if n.Keyword != "CONTINUE" || !n.IsString() {
			break
		}
		more, err := n.StringValue()
		if err != nil {
			break
		}
		s = s[:len(s)-1] + more
	}
	return s, nil
}

// IntValue returns the integer value of the first card with the keyword.
func (h Header) IntValue(key string) (int64, error) {
	c, _, err := h.valued(key)
	if err != nil {
		return 0, err
	}
	return c.IntValue()
}

// BoolValue returns the logical value of the first card with the keyword.
func (h Header) BoolValue(key string) (bool, error) {
	c, _, err := h.valued(key)
	if err != nil {
		return false, err
	}
	return c.BoolValue()
}

// FloatValue returns the real value of the first card with the keyword.
func (h Header) FloatValue(key string) (float64, error) {
	c, _, err := h.valued(key)
	if err != nil {
		return 0, err
	}
	return c.FloatValue()
}

func normKey(k string) string {
	k = strings.ToUpper(strings.TrimSpace(k))
	if strings.HasPrefix(k, "HIERARCH ") {
		return "HIERARCH " + strings.Join(strings.Fields(k[len("HIERARCH "):]), " ")
	}
	return k
}

// parseCard parses one printable 80-character card image.
func parseCard(raw string) Card {
	c := Card{Raw: raw, Keyword: strings.TrimRight(raw[:8], " ")}
	switch c.Keyword {
	case "", "COMMENT", "HISTORY":
		c.Comment = strings.TrimSpace(raw[8:])
		return c
	case "HIERARCH":
		rest := raw[8:]
		if i := strings.IndexByte(rest, '='); i >= 0 {
			if name := strings.Fields(rest[:i]); len(name) > 0 {
				c.Keyword = "HIERARCH " + strings.Join(name, " ")
				c.HasValue = true
				c.Value, c.Comment = parseValueField(rest[i+1:])
				return c
			}
		}
		c.Comment = strings.TrimSpace(rest)
		return c
	case "CONTINUE":
		c.HasValue = true
		c.Value, c.Comment = parseValueField(raw[8:])
		return c
	}
	if raw[8:10] == "= " {
		c.HasValue = true
		c.Value, c.Comment = parseValueField(raw[10:])
		return c
	}
	c.Comment = strings.TrimSpace(raw[8:])
	return c
}

// parseValueField splits a value field into the value token and comment.
func parseValueField(f string) (value, comment string) {
	i := 0
	for i < len(f) && f[i] == ' ' {
		i++
	}
	if i == len(f) {
		return "", ""
	}
	if f[i] == '\'' {
		j := i + 1
		for j < len(f) {
			if f[j] == '\'' {
				if j+1 < len(f) && f[j+1] == '\'' {
					j += 2
					continue
				}
				break
			}
			j++
		}
		if j >= len(f) { // unterminated string: keep raw, StringValue fails
			return strings.TrimRight(f[i:], " "), ""
		}
		value = f[i : j+1]
		if k := strings.IndexByte(f[j+1:], '/'); k >= 0 {
			comment = strings.TrimSpace(f[j+1+k+1:])
		}
		return value, comment
	}
	if k := strings.IndexByte(f[i:], '/'); k >= 0 {
		return strings.TrimSpace(f[i : i+k]), strings.TrimSpace(f[i+k+1:])
	}
	return strings.TrimSpace(f[i:]), ""
}

// headerScanner consumes header blocks one at a time.
type headerScanner struct {
	h     Header
	hdu   int
	ended bool
}

func isPrintable(b byte) bool { return b >= 0x20 && b <= 0x7e }

func firstNonPrintable(b []byte) int {
	for i, c := range b {
		if !isPrintable(c) {
			return i
		}
	}
	return -1
}

// block processes the next 2880-byte header block located at file offset
// off. It reports whether the END card has been seen.
func (s *headerScanner) block(b []byte, off int64) (bool, error) {
	if s.h.Blocks > 0 {
		// A continuation block that does not look like header text means
		// the previous blocks were a header without END that ran into
		// data or into the next HDU.
		c0 := b[:CardSize]
		if firstNonPrintable(c0) >= 0 || string(c0[:10]) == "XTENSION= " || string(c0[:10]) == "SIMPLE  = " {
			return false, &CheckError{HDU: s.hdu, Offset: s.h.Offset, Check: CheckMissingEnd,
				Msg: fmt.Sprintf("no END card in the %d header block(s) starting here; block at offset %d is not header text", s.h.Blocks, off)}
		}
	}
	s.h.Blocks++
	for i := 0; i < CardsPerBlock; i++ {
		c := b[i*CardSize : (i+1)*CardSize]
		coff := off + int64(i*CardSize)
		if s.ended {
			for j, ch := range c {
				if ch != ' ' {
					return false, &CheckError{HDU: s.hdu, Offset: coff + int64(j), Check: CheckHeaderPadding,
						Msg: fmt.Sprintf("header padding after END contains byte 0x%02x, want blanks", ch)}
				}
			}
			continue
		}
		if j := firstNonPrintable(c); j >= 0 {
			return false, &CheckError{HDU: s.hdu, Offset: coff + int64(j), Check: CheckNonASCII,
				Msg: fmt.Sprintf("header card %d contains byte 0x%02x, want printable ASCII (0x20-0x7e)", len(s.h.Cards)+1, c[j])}
		}
		if string(c[:8]) == "END     " {
			for j := 8; j < CardSize; j++ {
				if c[j] != ' ' {
					return false, &CheckError{HDU: s.hdu, Offset: coff, Check: CheckEndCard,
						Msg: "END card must be blank in columns 4-80"}
				}
			}
			s.ended = true
			continue
		}
		s.h.Cards = append(s.h.Cards, parseCard(string(c)))
	}
	if !s.ended && s.h.Blocks >= MaxHeaderBlocks {
		return false, &CheckError{HDU: s.hdu, Offset: s.h.Offset, Check: CheckHeaderTooLarge,
			Msg: fmt.Sprintf("no END card within %d header blocks", MaxHeaderBlocks)}
	}
	return s.ended, nil
}

// ParseHeader parses the header at the start of buf. buf must hold at least
// the header's blocks up to and including the one with the END card; bytes
// after that block are ignored. Errors about the content are *CheckError
// values with HDU -1 and offsets relative to buf.
func ParseHeader(buf []byte) (Header, error) {
	s := headerScanner{hdu: -1}
	for off := 0; off+BlockSize <= len(buf); off += BlockSize {
		done, err := s.block(buf[off:off+BlockSize], int64(off))
		if err != nil {
			return Header{}, err
		}
		if done {
			return s.h, nil
		}
	}
	if len(buf)%BlockSize != 0 {
		return Header{}, &CheckError{HDU: -1, Offset: int64(len(buf) / BlockSize * BlockSize), Check: CheckTruncatedHeader,
			Msg: fmt.Sprintf("buffer ends %d bytes into a header block", len(buf)%BlockSize)}
	}
	return Header{}, &CheckError{HDU: -1, Offset: 0, Check: CheckMissingEnd, Msg: "no END card before end of buffer"}
}

// ReadHeader reads and parses the header starting at off, reading one
// 2880-byte block at a time and stopping at the block holding the END card,
// so a caller backed by ranged reads fetches only the header. next is the
// offset just past the header, where the data unit starts.
//
// If off is at or beyond the end of r, ReadHeader returns io.EOF, so a
// caller can walk HDUs until io.EOF. A header that is cut short returns a
// *CheckError (with HDU -1, as ReadHeader does not know the HDU index);
// read failures are returned wrapped.
func ReadHeader(r io.ReaderAt, off int64) (h Header, next int64, err error) {
	h, err = readHeader(r, off, -1, -1)
	if err != nil {
		return Header{}, off, err
	}
	return h, off + h.Len(), nil
}

// readHeader reads the header at off. If limit >= 0 no byte at or beyond
// limit is read.
func readHeader(r io.ReaderAt, off, limit int64, hdu int) (Header, error) {
	s := headerScanner{hdu: hdu, h: Header{Offset: off}}
	buf := make([]byte, BlockSize)
	for {
		boff := off + s.h.Len()
		if limit >= 0 && boff >= limit {
			return Header{}, &CheckError{HDU: hdu, Offset: off, Check: CheckMissingEnd,
				Msg: fmt.Sprintf("file ends after %d header block(s) without an END card", s.h.Blocks)}
		}
		n, err := r.ReadAt(buf, boff)
		if n < BlockSize {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			if limit < 0 && errors.Is(err, io.EOF) {
				switch {
				case n == 0 && s.h.Blocks == 0:
					return Header{}, io.EOF
				case n == 0:
					return Header{}, &CheckError{HDU: hdu, Offset: off, Check: CheckMissingEnd,
						Msg: fmt.Sprintf("file ends after %d header block(s) without an END card", s.h.Blocks)}
				default:
					return Header{}, &CheckError{HDU: hdu, Offset: boff, Check: CheckTruncatedHeader,
						Msg: fmt.Sprintf("file ends %d bytes into a header block", n)}
				}
			}
			return Header{}, fmt.Errorf("fitsstage: reading header block at offset %d: %w", boff, err)
		}
		done, cerr := s.block(buf, boff)
		if cerr != nil {
			return Header{}, cerr
		}
		if done {
			return s.h, nil
		}
	}
}
