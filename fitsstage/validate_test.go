package fitsstage

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// mutate returns a copy of b with f applied.
func mutate(b []byte, f func([]byte) []byte) []byte {
	c := append([]byte(nil), b...)
	return f(c)
}

// setCard overwrites the n-th card (0-based) of the header at hdrOff.
func setCard(b []byte, hdrOff int64, n int, s string) []byte {
	copy(b[hdrOff+int64(n*CardSize):], card(s))
	return b
}

func TestValidateSample(t *testing.T) {
	b := sampleFITS()
	l, err := Validate(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Validate: got error %v, want nil", err)
	}
	if want := sampleLayout(); !reflect.DeepEqual(l, want) {
		t.Errorf("layout:\ngot  %+v\nwant %+v", l, want)
	}
	if err := checkLayout(l, int64(len(b))); err != nil {
		t.Errorf("checkLayout: %v", err)
	}
}

func TestValidate(t *testing.T) {
	const B = BlockSize
	sample := sampleFITS()
	prim, img, tab := primaryCards(), imageCards(), bintableCards()
	primHDU := hduBytes(prim, primaryData())
	imgHDU := hduBytes(img, imageData())
	tabHDU := hduBytes(tab, bintableData())
	// endOffset finds the END card of the header starting at off.
	endOffset := func(b []byte, off int) int {
		for i := off; ; i += CardSize {
			if string(b[i:i+CardSize]) == endCard {
				return i
			}
		}
	}
	emptyPrimary := []string{card("SIMPLE  =                    T"), intCard("BITPIX", 8), intCard("NAXIS", 0)}
	fill36 := append([]string{}, emptyPrimary...)
	for len(fill36) < CardsPerBlock {
		fill36 = append(fill36, card("COMMENT filler"))
	}

	tests := []struct {
		name  string
		file  []byte
		check string // "" means valid
		hdu   int
		nHDU  int // for valid files: expected HDU count
	}{
		{name: "sample", file: sample, nHDU: 3},
		{name: "primary only", file: primHDU, nHDU: 1},
		{name: "empty primary", file: hduBytes(emptyPrimary, nil), nHDU: 1},
		{name: "empty primary plus table", file: concat(hduBytes(emptyPrimary, nil), tabHDU), nHDU: 2},
		{name: "random groups", file: randomGroupsFITS(), nHDU: 1},
		{name: "zero-length axis without GROUPS has no data",
			file: hduBytes(replaceCard(prim, "NAXIS1", intCard("NAXIS1", 0)), nil), nHDU: 1},
		{name: "free-format integers", file: concat(primHDU, hduBytes(replaceCard(img, "NAXIS1", card("NAXIS1  = 5")), imageData())), nHDU: 2},
		{name: "36 cards then END in second block", file: hduBytes(fill36, nil), nHDU: 1},
		{name: "empty file", file: nil, check: CheckBlockSize, hdu: -1},
		{name: "size not multiple of 2880", file: append(append([]byte{}, sample...), "extra"...), check: CheckBlockSize, hdu: -1},
		{name: "truncated last data block", file: sample[:len(sample)-B], check: CheckTruncatedData, hdu: 2},
		{name: "truncated to headers only", file: concat(primHDU, headerBytes(img, false)), check: CheckTruncatedData, hdu: 1},
		{name: "truncated inside primary data", file: concat(headerBytes(replaceCard(prim, "NAXIS2", intCard("NAXIS2", 1000)), false), make([]byte, B)),
			check: CheckTruncatedData, hdu: 0},
		{name: "garbage block at end", file: concat(sample, bytes.Repeat([]byte{0}, B)), check: CheckTrailingData, hdu: 3},
		{name: "text block at end", file: concat(sample, headerBytes([]string{card("HELLO")}, true)), check: CheckTrailingData, hdu: 3},
		{name: "missing END in single HDU", file: headerBytes(emptyPrimary, true), check: CheckMissingEnd, hdu: 0},
		{name: "missing END before data", file: mutate(sample, func(b []byte) []byte {
			return setCard(b, 0, len(prim), "")
		}), check: CheckMissingEnd, hdu: 0},
		{name: "missing END before extension", file: concat(headerBytes(emptyPrimary, true), imgHDU), check: CheckMissingEnd, hdu: 0},
		{name: "missing END in extension", file: mutate(sample, func(b []byte) []byte {
			copy(b[endOffset(b, 5*B):], card(""))
			return b
		}), check: CheckMissingEnd, hdu: 2},
		{name: "END not blank", file: mutate(sample, func(b []byte) []byte {
			copy(b[endOffset(b, 0):], card("END     / no"))
			return b
		}), check: CheckEndCard, hdu: 0},
		{name: "NUL header padding", file: mutate(sample, func(b []byte) []byte {
			e := endOffset(b, 0) + CardSize
			for i := e; i < B; i++ {
				b[i] = 0
			}
			return b
		}), check: CheckHeaderPadding, hdu: 0},
		{name: "non-ASCII byte in header", file: mutate(sample, func(b []byte) []byte {
			b[2*B+20*CardSize+12] = 0xe9
			return b
		}), check: CheckNonASCII, hdu: 1},
		{name: "tab in header", file: mutate(sample, func(b []byte) []byte {
			b[6*CardSize+9] = '\t'
			return b
		}), check: CheckNonASCII, hdu: 0},
		{name: "bad BITPIX", file: concat(hduBytes(replaceCard(prim, "BITPIX", intCard("BITPIX", 12)), primaryData())), check: CheckBitpix, hdu: 0},
		{name: "non-integer BITPIX", file: concat(primHDU, hduBytes(replaceCard(img, "BITPIX", strCard("BITPIX", "32")), imageData())), check: CheckBitpix, hdu: 1},
		{name: "BITPIX without value indicator", file: hduBytes(replaceCard(prim, "BITPIX", card("BITPIX                 16")), primaryData()),
			check: CheckBitpix, hdu: 0},
		{name: "NAXIS2 missing", file: hduBytes(replaceCard(prim, "NAXIS2", ""), primaryData()), check: CheckMandatory, hdu: 0},
		{name: "NAXISn missing in extension", file: concat(primHDU, hduBytes(replaceCard(img, "NAXIS3", ""), imageData())), check: CheckMandatory, hdu: 1},
		{name: "NAXIS before BITPIX", file: hduBytes([]string{card("SIMPLE  =                    T"), intCard("NAXIS", 0), intCard("BITPIX", 8)}, nil),
			check: CheckMandatory, hdu: 0},
		{name: "header ends before NAXIS", file: hduBytes([]string{card("SIMPLE  =                    T"), intCard("BITPIX", 8)}, nil),
			check: CheckMandatory, hdu: 0},
		{name: "NAXIS too large", file: hduBytes(replaceCard(emptyPrimary, "NAXIS", intCard("NAXIS", 1000)), nil), check: CheckNaxis, hdu: 0},
		{name: "negative NAXIS1", file: hduBytes(replaceCard(prim, "NAXIS1", intCard("NAXIS1", -10)), primaryData()), check: CheckNaxisN, hdu: 0},
		{name: "NAXIS1 overflows int64", file: hduBytes(replaceCard(prim, "NAXIS1", card("NAXIS1  = 99999999999999999999")), primaryData()),
			check: CheckNaxisN, hdu: 0},
		{name: "huge axes", file: hduBytes(replaceCard(replaceCard(prim, "NAXIS1", intCard("NAXIS1", 1<<62)), "NAXIS2", intCard("NAXIS2", 1<<62)), primaryData()),
			check: CheckTruncatedData, hdu: 0},
		{name: "huge PCOUNT", file: concat(primHDU, hduBytes(replaceCard(tab, "PCOUNT", intCard("PCOUNT", 1<<63-1)), bintableData())),
			check: CheckTruncatedData, hdu: 1},
		{name: "free-format SIMPLE", file: hduBytes(replaceCard(emptyPrimary, "SIMPLE", card("SIMPLE  = T")), nil), check: CheckSimple, hdu: 0},
		{name: "SIMPLE = F", file: hduBytes(replaceCard(emptyPrimary, "SIMPLE", boolCard("SIMPLE", false)), nil), check: CheckSimple, hdu: 0},
		{name: "no SIMPLE", file: hduBytes(emptyPrimary[1:], nil), check: CheckSimple, hdu: 0},
		{name: "extension without XTENSION", file: concat(primHDU, hduBytes(img[1:], imageData())), check: CheckTrailingData, hdu: 1},
		{name: "XTENSION not a string", file: concat(primHDU, hduBytes(replaceCard(img, "XTENSION", intCard("XTENSION", 3)), imageData())),
			check: CheckXtension, hdu: 1},
		{name: "PCOUNT missing", file: concat(primHDU, hduBytes(replaceCard(img, "PCOUNT", ""), imageData())), check: CheckMandatory, hdu: 1},
		{name: "negative PCOUNT", file: concat(primHDU, hduBytes(replaceCard(tab, "PCOUNT", intCard("PCOUNT", -1)), bintableData())), check: CheckPcount, hdu: 1},
		{name: "IMAGE with PCOUNT", file: concat(primHDU, hduBytes(replaceCard(img, "PCOUNT", intCard("PCOUNT", 4)), imageData())), check: CheckPcount, hdu: 1},
		{name: "IMAGE with GCOUNT 2", file: concat(primHDU, hduBytes(replaceCard(img, "GCOUNT", intCard("GCOUNT", 2)), imageData())), check: CheckGcount, hdu: 1},
		{name: "BINTABLE with BITPIX 16", file: concat(primHDU, hduBytes(replaceCard(tab, "BITPIX", intCard("BITPIX", 16)), bintableData())), check: CheckBitpix, hdu: 1},
		{name: "BINTABLE without TFIELDS", file: concat(primHDU, hduBytes(replaceCard(tab, "TFIELDS", ""), bintableData())), check: CheckTfields, hdu: 1},
		{name: "random groups without GCOUNT", file: mutate(randomGroupsFITS(), func(b []byte) []byte {
			return setCard(b, 0, 9, "")
		}), check: CheckGroups, hdu: 0},
		{name: "random groups with short data", file: hduBytes([]string{
			card("SIMPLE  =                    T"), intCard("BITPIX", -64), intCard("NAXIS", 2), intCard("NAXIS1", 0), intCard("NAXIS2", 100),
			boolCard("GROUPS", true), intCard("PCOUNT", 10), intCard("GCOUNT", 10)}, make([]byte, 100)),
			check: CheckTruncatedData, hdu: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Validate(bytes.NewReader(tc.file), int64(len(tc.file)))
			if tc.check == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if err := checkLayout(l, int64(len(tc.file))); err != nil {
					t.Errorf("inconsistent layout: %v", err)
				}
				if tc.nHDU != 0 && len(l.HDUs) != tc.nHDU {
					t.Errorf("got %d HDUs, want %d", len(l.HDUs), tc.nHDU)
				}
				return
			}
			if l != nil {
				t.Errorf("got layout %+v with error, want nil", l)
			}
			t.Logf("%v", err)
			ce, ok := IsCheckError(err)
			if !ok {
				t.Fatalf("got error %v (%T), want *CheckError %q", err, err, tc.check)
			}
			if ce.Check != tc.check || ce.HDU != tc.hdu {
				t.Errorf("got check %q HDU %d (%v), want check %q HDU %d", ce.Check, ce.HDU, err, tc.check, tc.hdu)
			}
			if ce.Offset < 0 || ce.Offset > int64(len(tc.file)) {
				t.Errorf("got offset %d, want within [0, %d]", ce.Offset, len(tc.file))
			}
			if !strings.Contains(err.Error(), tc.check) {
				t.Errorf("got message %q, want it to name check %q", err.Error(), tc.check)
			}
		})
	}
}

func TestValidateRandomGroupsLayout(t *testing.T) {
	b := randomGroupsFITS()
	l, err := Validate(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	h := l.HDUs[0]
	if !h.Groups || h.PCount != 4 || h.GCount != 5 || h.DataLen != 200 {
		t.Errorf("got Groups=%v PCount=%d GCount=%d DataLen=%d, want true 4 5 200", h.Groups, h.PCount, h.GCount, h.DataLen)
	}
}

func TestValidateZImageFlag(t *testing.T) {
	cards := append(bintableCards(), boolCard("ZIMAGE", true), strCard("ZCMPTYPE", "RICE_1"))
	b := concat(hduBytes([]string{card("SIMPLE  =                    T"), intCard("BITPIX", 8), intCard("NAXIS", 0)}, nil),
		hduBytes(cards, bintableData()))
	l, err := Validate(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if !l.HDUs[1].ZImage || l.HDUs[0].ZImage {
		t.Errorf("got ZImage %v,%v, want false,true", l.HDUs[0].ZImage, l.HDUs[1].ZImage)
	}
}

// errReaderAt fails every read.
type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

func TestValidateReadErrorIsNotCheckError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Validate(errReaderAt{boom}, 2*BlockSize)
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want wrapped boom", err)
	}
	if _, ok := IsCheckError(err); ok {
		t.Errorf("got CheckError %v, want a read error", err)
	}
	// A reader shorter than the declared size is a read failure too.
	b := sampleFITS()
	_, err = Validate(bytes.NewReader(b[:BlockSize]), int64(len(b)))
	if _, ok := IsCheckError(err); ok || !errors.Is(err, io.EOF) {
		t.Errorf("got %v, want wrapped io.EOF", err)
	}
}

// countingReaderAt records the bytes read.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes int64
	calls int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes += int64(n)
	c.calls++
	return n, err
}

func TestReadHeader(t *testing.T) {
	b := sampleFITS()
	want := sampleLayout()
	var off int64
	for i, wh := range want.HDUs {
		cr := &countingReaderAt{r: bytes.NewReader(b)}
		h, next, err := ReadHeader(cr, off)
		if err != nil {
			t.Fatalf("HDU %d: got error %v, want nil", i, err)
		}
		if next != wh.DataOffset || h.Offset != wh.HeaderOffset || h.Len() != wh.HeaderLen {
			t.Errorf("HDU %d: got offset %d len %d next %d, want %d %d %d", i, h.Offset, h.Len(), next, wh.HeaderOffset, wh.HeaderLen, wh.DataOffset)
		}
		if cr.bytes != wh.HeaderLen {
			t.Errorf("HDU %d: read %d bytes, want only the header's %d", i, cr.bytes, wh.HeaderLen)
		}
		x, _ := h.StringValue("XTENSION")
		if x != wh.XTension {
			t.Errorf("HDU %d: got XTENSION %q, want %q", i, x, wh.XTension)
		}
		off = wh.End()
	}
	if _, _, err := ReadHeader(bytes.NewReader(b), off); err != io.EOF {
		t.Errorf("at end of file: got %v, want io.EOF", err)
	}
	// A header cut off mid-block, and one cut off at a block boundary.
	cut := headerBytes(imageCards(), false)
	if _, _, err := ReadHeader(bytes.NewReader(cut[:BlockSize+100]), 0); !isCheck(err, CheckTruncatedHeader) {
		t.Errorf("header cut mid-block: got %v, want %s", err, CheckTruncatedHeader)
	}
	if _, _, err := ReadHeader(bytes.NewReader(cut[:BlockSize]), 0); !isCheck(err, CheckMissingEnd) {
		t.Errorf("header cut at block: got %v, want %s", err, CheckMissingEnd)
	}
	boom := errors.New("boom")
	if _, _, err := ReadHeader(errReaderAt{boom}, 0); !errors.Is(err, boom) {
		t.Errorf("read error: got %v, want wrapped boom", err)
	}
}

func isCheck(err error, check string) bool {
	ce, ok := IsCheckError(err)
	return ok && ce.Check == check
}

func TestParseHeaderValues(t *testing.T) {
	buf := headerBytes([]string{
		card("SIMPLE  =                    T / file conforms"),
		intCard("BITPIX", -64),
		card("NAXIS   =                    0 / no data"),
		card("OBJECT  = 'O''Brien''s / not a comment' / the target"),
		card("LEADING = '  x   '"),
		card("EMPTY   = ''"),
		card("EXPTIME =              1.5D+01 / seconds"),
		card("RA      = -12.25"),
		card("FLAG    =                    F"),
		card("UNDEF   =                      / undefined value"),
		card("COMMENT = this is not a value"),
		card("HISTORY created by a test"),
		card("LONGSTR = 'first part &'"),
		card("CONTINUE  'second part&'"),
		card("CONTINUE  ' end'"),
		card("HIERARCH ESO DET  CHIP = 'CCD 7' / hierarchical"),
		card("NOVALUE   just text"),
		card("BADSTR  = 'unterminated"),
	}, false)
	h, err := ParseHeader(append(buf, bytes.Repeat([]byte{0xff}, 100)...))
	if err != nil {
		t.Fatalf("ParseHeader: got %v, want nil", err)
	}
	if h.Blocks != 1 || len(h.Cards) != 18 {
		t.Errorf("got %d blocks %d cards, want 1 and 18", h.Blocks, len(h.Cards))
	}
	str := func(key, want string) {
		t.Helper()
		got, err := h.StringValue(key)
		if err != nil || got != want {
			t.Errorf("StringValue(%s): got %q, %v, want %q", key, got, err, want)
		}
	}
	str("OBJECT", "O'Brien's / not a comment")
	str("leading", "  x")
	str("EMPTY", "")
	str("LONGSTR", "first part second part end")
	str("HIERARCH ESO DET CHIP", "CCD 7")
	str("hierarch  eso det chip", "CCD 7")

	if c, _ := h.Lookup("OBJECT"); c.Comment != "the target" {
		t.Errorf("OBJECT comment: got %q, want %q", c.Comment, "the target")
	}
	if c, _ := h.Lookup("COMMENT"); c.HasValue || c.Comment != "= this is not a value" {
		t.Errorf("COMMENT card: got HasValue=%v Comment=%q, want false %q", c.HasValue, c.Comment, "= this is not a value")
	}
	if c, _ := h.Lookup("NOVALUE"); c.HasValue || c.Comment != "just text" {
		t.Errorf("NOVALUE card: got HasValue=%v Comment=%q, want false %q", c.HasValue, c.Comment, "just text")
	}
	if c, _ := h.Lookup("UNDEF"); !c.HasValue || c.Value != "" || c.Comment != "undefined value" {
		t.Errorf("UNDEF card: got %+v, want valued, empty value, comment", c)
	}
	if n, err := h.IntValue("BITPIX"); err != nil || n != -64 {
		t.Errorf("IntValue(BITPIX): got %d, %v, want -64", n, err)
	}
	if n, err := h.IntValue("NAXIS"); err != nil || n != 0 {
		t.Errorf("IntValue(NAXIS): got %d, %v, want 0", n, err)
	}
	if f, err := h.FloatValue("EXPTIME"); err != nil || f != 15 {
		t.Errorf("FloatValue(EXPTIME): got %v, %v, want 15", f, err)
	}
	if f, err := h.FloatValue("RA"); err != nil || f != -12.25 {
		t.Errorf("FloatValue(RA): got %v, %v, want -12.25", f, err)
	}
	if f, err := h.FloatValue("BITPIX"); err != nil || f != -64 {
		t.Errorf("FloatValue(BITPIX): got %v, %v, want -64", f, err)
	}
	if v, err := h.BoolValue("SIMPLE"); err != nil || !v {
		t.Errorf("BoolValue(SIMPLE): got %v, %v, want true", v, err)
	}
	if v, err := h.BoolValue("FLAG"); err != nil || v {
		t.Errorf("BoolValue(FLAG): got %v, %v, want false", v, err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"string as int", func() error { _, err := h.IntValue("OBJECT"); return err }()},
		{"float as int", func() error { _, err := h.IntValue("RA"); return err }()},
		{"int as bool", func() error { _, err := h.BoolValue("BITPIX"); return err }()},
		{"int as string", func() error { _, err := h.StringValue("BITPIX"); return err }()},
		{"string as float", func() error { _, err := h.FloatValue("OBJECT"); return err }()},
		{"hex as float", func() error { _, err := (Card{Keyword: "X", HasValue: true, Value: "0x1p3"}).FloatValue(); return err }()},
		{"undefined as float", func() error { _, err := h.FloatValue("UNDEF"); return err }()},
		{"unterminated string", func() error { _, err := h.StringValue("BADSTR"); return err }()},
	} {
		if tc.err == nil {
			t.Errorf("%s: got nil error, want a type error", tc.name)
		}
		if errors.Is(tc.err, ErrKeyNotFound) {
			t.Errorf("%s: got ErrKeyNotFound, want a type error", tc.name)
		}
	}
	if _, err := h.IntValue("MISSING"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing key: got %v, want ErrKeyNotFound", err)
	}
	if h.Has("MISSING") || !h.Has("naxis") {
		t.Errorf("Has: got MISSING=%v naxis=%v, want false true", h.Has("MISSING"), h.Has("naxis"))
	}
}

func TestParseHeaderErrors(t *testing.T) {
	good := headerBytes([]string{card("SIMPLE  =                    T")}, false)
	if _, err := ParseHeader(good[:100]); !isCheck(err, CheckTruncatedHeader) {
		t.Errorf("short buffer: got %v, want %s", err, CheckTruncatedHeader)
	}
	if _, err := ParseHeader(headerBytes([]string{card("SIMPLE  =                    T")}, true)); !isCheck(err, CheckMissingEnd) {
		t.Errorf("no END: got %v, want %s", err, CheckMissingEnd)
	}
	if _, err := ParseHeader(nil); !isCheck(err, CheckMissingEnd) {
		t.Errorf("empty: got %v, want %s", err, CheckMissingEnd)
	}
}

func TestHeaderTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 28 MB header")
	}
	var b []byte
	blk := headerBytes([]string{card("COMMENT filler")}, true)
	for i := 0; i < MaxHeaderBlocks+1; i++ {
		b = append(b, blk...)
	}
	copy(b, card("SIMPLE  =                    T"))
	_, _, err := ReadHeader(bytes.NewReader(b), 0)
	if !isCheck(err, CheckHeaderTooLarge) {
		t.Errorf("got %v, want %s", err, CheckHeaderTooLarge)
	}
}

func TestApplies(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fits, gzip bool
	}{
		{"calexp.fits", true, false},
		{"dir.fits/raw_01.FITS", true, false},
		{"x.fit", true, false},
		{"x.FTS", true, false},
		{"x.fits.fz", true, false},
		{"/a/b/X.Fits.FZ", true, false},
		{"x.fits.gz", false, true},
		{"x.FIT.GZ", false, true},
		{"x.fts.gz", false, true},
		{"x.fits.bz2", false, false},
		{"x.fitsx", false, false},
		{"x.fz", false, false},
		{"x.txt", false, false},
		{"fits", false, false},
		{"x.fits/", false, false},
		{"", false, false},
	} {
		if got := Applies(tc.name); got != tc.fits {
			t.Errorf("Applies(%q): got %v, want %v", tc.name, got, tc.fits)
		}
		if got := AppliesGzip(tc.name); got != tc.gzip {
			t.Errorf("AppliesGzip(%q): got %v, want %v", tc.name, got, tc.gzip)
		}
	}
}

func TestValidateGzip(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(sampleFITS())
	w.Close()
	var empty bytes.Buffer
	w = gzip.NewWriter(&empty)
	w.Close()
	for _, tc := range []struct {
		name  string
		file  []byte
		check string
	}{
		{"gzip of FITS", gz.Bytes(), ""},
		{"gzip of nothing", empty.Bytes(), ""},
		{"plain FITS", sampleFITS(), CheckGzipMagic},
		{"too short", gz.Bytes()[:17], CheckGzipSize},
		{"empty", nil, CheckGzipSize},
		{"not deflate", mutate(gz.Bytes(), func(b []byte) []byte { b[2] = 7; return b }), CheckGzipMethod},
	} {
		err := ValidateGzip(bytes.NewReader(tc.file), int64(len(tc.file)))
		if tc.check == "" {
			if err != nil {
				t.Errorf("%s: got %v, want nil", tc.name, err)
			}
			continue
		}
		if !isCheck(err, tc.check) {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.check)
		}
	}
	boom := errors.New("boom")
	if err := ValidateGzip(errReaderAt{boom}, 100); !errors.Is(err, boom) {
		t.Errorf("read error: got %v, want wrapped boom", err)
	}
}

func TestHDUIndexRoundTrip(t *testing.T) {
	b := sampleFITS()
	l, err := Validate(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	s := HDUIndex(l)
	if want := "v1:3:1.3w,2.6o,1.1f"; s != want {
		t.Errorf("HDUIndex: got %q, want %q", s, want)
	}
	got, total, err := ParseHDUIndexTotal(s)
	if err != nil {
		t.Fatalf("ParseHDUIndexTotal(%q): got %v", s, err)
	}
	if want := l.Ranges(); !reflect.DeepEqual(got, want) || total != 3 {
		t.Errorf("round trip: got %+v total %d, want %+v total 3", got, total, want)
	}
	if got[len(got)-1].End() != l.Size {
		t.Errorf("last End: got %d, want %d", got[len(got)-1].End(), l.Size)
	}
}

// syntheticLayout builds a consistent layout of n HDUs with large data.
func syntheticLayout(n int) *Layout {
	l := &Layout{}
	var off int64
	for i := 0; i < n; i++ {
		h := HDU{Index: i, HeaderOffset: off, HeaderLen: int64(1+i%3) * BlockSize}
		h.DataOffset = h.HeaderOffset + h.HeaderLen
		h.DataLen = int64(i) * 987_654_321 // up to ~10 GB for a dozen HDUs
		if i > 0 {
			h.XTension = "IMAGE"
		}
		l.HDUs = append(l.HDUs, h)
		off = h.End()
	}
	l.Size = off
	return l
}

func TestHDUIndexLength(t *testing.T) {
	for _, n := range []int{1, 2, 12, 16, 20, 100, 1000} {
		l := syntheticLayout(n)
		s := HDUIndex(l)
		if len(s) > MaxHDUIndexLen {
			t.Errorf("%d HDUs: got length %d, want <= %d", n, len(s), MaxHDUIndexLen)
		}
		got, total, err := ParseHDUIndexTotal(s)
		if err != nil {
			t.Fatalf("%d HDUs: ParseHDUIndexTotal(%q): %v", n, s, err)
		}
		if total != n {
			t.Errorf("%d HDUs: got total %d, want %d", n, total, n)
		}
		if n <= 12 && len(got) != n {
			t.Errorf("%d HDUs: got %d entries in %q, want all %d", n, len(got), s, n)
		}
		if want := l.Ranges()[:len(got)]; !reflect.DeepEqual(got, want) {
			t.Errorf("%d HDUs: got %+v, want %+v", n, got, want)
		}
		if len(got) < n && len(s)+30 < MaxHDUIndexLen {
			t.Errorf("%d HDUs: truncated to %d entries with %d bytes unused", n, len(got), MaxHDUIndexLen-len(s))
		}
	}
}

func TestParseHDUIndexErrors(t *testing.T) {
	for _, s := range []string{
		"", "v1", "v1:", "v1:3", "v2:1:1.0", "V1:1:1.0", "v1:0:1.0", "v1:-1:1.0", "v1:x:1.0",
		"v1:1:", "v1:1:1", "v1:1:1.", "v1:1:.5", "v1:1:0.5", "v1:1:1.-5", "v1:1:1.+5", "v1:1:1.A",
		"v1:1:1.0,1.0", "v1:2:1.0,,", "v1:2:1.0;1.0", "v1:1:1.0 ", " v1:1:1.0",
		"v1:1:1y2p0e5tf4ew.0", "v1:2:1.zzzzzzzzzzzz,1.zzzzzzzzzzzz", "v1:99999999999:1.0",
		"v1:1:1.zzzzzzzzzzzzzzzzzzzz",
	} {
		if r, err := ParseHDUIndex(s); err == nil {
			t.Errorf("ParseHDUIndex(%q): got %+v, want error", s, r)
		}
	}
}

func TestMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"off", ModeOff, true}, {"WARN", ModeWarn, true}, {" refuse ", ModeRefuse, true},
		{"", ModeOff, false}, {"strict", ModeOff, false},
	} {
		got, err := ParseMode(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMode(%q): got %v, %v, want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	var m Mode
	if err := m.Set("refuse"); err != nil || m != ModeRefuse || m.String() != "refuse" {
		t.Errorf("Set(refuse): got %v, %v, want refuse", m, err)
	}
	if s := Mode(7).String(); s != "Mode(7)" {
		t.Errorf("Mode(7).String(): got %q, want %q", s, "Mode(7)")
	}
}
