package fitsstage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Helpers that build FITS files in memory for the tests.

// card pads s to one 80-character card; it panics on longer input.
func card(s string) string {
	if len(s) > CardSize {
		panic(fmt.Sprintf("card too long (%d): %q", len(s), s))
	}
	return s + strings.Repeat(" ", CardSize-len(s))
}

// intCard is a fixed-format integer card (value right-justified in col 30).
func intCard(key string, v int64) string { return card(fmt.Sprintf("%-8s= %20d", key, v)) }

// boolCard is a fixed-format logical card (T or F in column 30).
func boolCard(key string, v bool) string {
	tf := "F"
	if v {
		tf = "T"
	}
	return card(fmt.Sprintf("%-8s= %20s", key, tf))
}

// strCard is a string card with the value starting in column 11.
func strCard(key, v string) string {
	v = strings.ReplaceAll(v, "'", "''")
	return card(fmt.Sprintf("%-8s= '%-8s'", key, v))
}

// endCard is the END card.
var endCard = card("END")

// headerBytes joins cards, appends END (unless noEnd) and pads with blanks.
func headerBytes(cards []string, noEnd bool) []byte {
	var b bytes.Buffer
	for _, c := range cards {
		b.WriteString(card(c))
	}
	if !noEnd {
		b.WriteString(endCard)
	}
	for b.Len()%BlockSize != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

// hduBytes builds a header plus data padded with zeros.
func hduBytes(cards []string, data []byte) []byte {
	b := headerBytes(cards, false)
	b = append(b, data...)
	for len(b)%BlockSize != 0 {
		b = append(b, 0)
	}
	return b
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Sample file parts: a primary int16 image, an IMAGE extension with a
// two-block header and a BINTABLE with a variable-length array heap.

func primaryCards() []string {
	return []string{
		card("SIMPLE  =                    T / conforms to FITS standard"),
		intCard("BITPIX", 16),
		intCard("NAXIS", 2),
		intCard("NAXIS1", 10),
		intCard("NAXIS2", 7),
		boolCard("EXTEND", true),
		strCard("ORIGIN", "swiftfs test"),
	}
}

func primaryData() []byte {
	d := make([]byte, 2*10*7)
	for i := 0; i < 70; i++ {
		binary.BigEndian.PutUint16(d[2*i:], uint16(i*37))
	}
	return d
}

func imageCards() []string {
	c := []string{
		strCard("XTENSION", "IMAGE"),
		intCard("BITPIX", -32),
		intCard("NAXIS", 3),
		intCard("NAXIS1", 5),
		intCard("NAXIS2", 4),
		intCard("NAXIS3", 3),
		intCard("PCOUNT", 0),
		intCard("GCOUNT", 1),
		strCard("EXTNAME", "SCI"),
	}
	for i := 0; i < 40; i++ { // push the header into a second block
		c = append(c, card(fmt.Sprintf("HISTORY step %d", i)))
	}
	return c
}

func imageData() []byte {
	d := make([]byte, 4*5*4*3)
	for i := 0; i < 60; i++ {
		binary.BigEndian.PutUint32(d[4*i:], math.Float32bits(float32(i)*0.5))
	}
	return d
}

func bintableCards() []string {
	return []string{
		strCard("XTENSION", "BINTABLE"),
		intCard("BITPIX", 8),
		intCard("NAXIS", 2),
		intCard("NAXIS1", 12),
		intCard("NAXIS2", 3),
		intCard("PCOUNT", 15),
		intCard("GCOUNT", 1),
		intCard("TFIELDS", 2),
		strCard("TTYPE1", "ID"),
		strCard("TFORM1", "1J"),
		strCard("TTYPE2", "VALS"),
		strCard("TFORM2", "1PB(5)"),
		strCard("EXTNAME", "CAT"),
	}
}

func bintableData() []byte {
	// 3 rows of (int32 id, P descriptor: int32 count, int32 heap offset),
	// followed by a 15-byte heap.
	d := make([]byte, 0, 36+15)
	for i := 0; i < 3; i++ {
		d = binary.BigEndian.AppendUint32(d, uint32(i+1))
		d = binary.BigEndian.AppendUint32(d, 5)
		d = binary.BigEndian.AppendUint32(d, uint32(5*i))
	}
	for i := 0; i < 15; i++ {
		d = append(d, byte(i))
	}
	return d
}

// sampleFITS is a valid three-HDU file.
func sampleFITS() []byte {
	return concat(
		hduBytes(primaryCards(), primaryData()),
		hduBytes(imageCards(), imageData()),
		hduBytes(bintableCards(), bintableData()),
	)
}

// sampleLayout is what Validate must report for sampleFITS.
func sampleLayout() *Layout {
	const B = BlockSize
	return &Layout{Size: 7 * B, HDUs: []HDU{
		{Index: 0, HeaderOffset: 0, HeaderLen: B, DataOffset: B, DataLen: 140,
			BitPix: 16, Axes: []int64{10, 7}, GCount: 1},
		{Index: 1, HeaderOffset: 2 * B, HeaderLen: 2 * B, DataOffset: 4 * B, DataLen: 240,
			XTension: "IMAGE", ExtName: "SCI", BitPix: -32, Axes: []int64{5, 4, 3}, GCount: 1},
		{Index: 2, HeaderOffset: 5 * B, HeaderLen: B, DataOffset: 6 * B, DataLen: 51,
			XTension: "BINTABLE", ExtName: "CAT", BitPix: 8, Axes: []int64{12, 3}, PCount: 15, GCount: 1},
	}}
}

// randomGroupsFITS is a primary-only random groups file: 5 groups of 4
// parameters and a 3x2 array, BITPIX -32: 4*5*(4+3*2) = 200 bytes.
func randomGroupsFITS() []byte {
	return hduBytes([]string{
		card("SIMPLE  =                    T"),
		intCard("BITPIX", -32),
		intCard("NAXIS", 3),
		intCard("NAXIS1", 0),
		intCard("NAXIS2", 3),
		intCard("NAXIS3", 2),
		boolCard("EXTEND", true),
		boolCard("GROUPS", true),
		intCard("PCOUNT", 4),
		intCard("GCOUNT", 5),
	}, make([]byte, 200))
}

// replaceCard returns a copy of cards with the card of keyword key
// replaced by repl (or removed if repl is "").
func replaceCard(cards []string, key, repl string) []string {
	var out []string
	done := false
	for _, c := range cards {
		if !done && strings.TrimRight(c[:8], " ") == key {
			done = true
			if repl != "" {
				out = append(out, repl)
			}
			continue
		}
		out = append(out, c)
	}
	if !done {
		panic("no card " + key)
	}
	return out
}

// checkLayout verifies the invariants any Layout returned by Validate
// must satisfy for a file of the given size.
func checkLayout(l *Layout, size int64) error {
	if l == nil {
		return fmt.Errorf("nil layout")
	}
	if l.Size != size {
		return fmt.Errorf("layout size %d, file size %d", l.Size, size)
	}
	if len(l.HDUs) == 0 {
		return fmt.Errorf("no HDUs")
	}
	var off int64
	for i, h := range l.HDUs {
		switch {
		case h.Index != i:
			return fmt.Errorf("HDU %d has index %d", i, h.Index)
		case h.HeaderOffset != off:
			return fmt.Errorf("HDU %d header at %d, want %d", i, h.HeaderOffset, off)
		case h.HeaderLen <= 0 || h.HeaderLen%BlockSize != 0:
			return fmt.Errorf("HDU %d header length %d", i, h.HeaderLen)
		case h.DataOffset != h.HeaderOffset+h.HeaderLen:
			return fmt.Errorf("HDU %d data offset %d", i, h.DataOffset)
		case h.DataLen < 0 || h.DataPaddedLen()%BlockSize != 0 || h.DataPaddedLen()-h.DataLen >= BlockSize:
			return fmt.Errorf("HDU %d data length %d padded %d", i, h.DataLen, h.DataPaddedLen())
		case h.End() > size:
			return fmt.Errorf("HDU %d ends at %d beyond size %d", i, h.End(), size)
		case (i == 0) != (h.XTension == ""):
			return fmt.Errorf("HDU %d XTENSION %q", i, h.XTension)
		}
		off = h.End()
	}
	if off != size {
		return fmt.Errorf("HDUs end at %d, file size %d", off, size)
	}
	return nil
}
