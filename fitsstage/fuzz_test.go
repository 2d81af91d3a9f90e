package fitsstage

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// The fuzzers work on a compact encoding of FITS files rather than on the
// files themselves. A FITS file is at least 2880 bytes and mostly padding;
// the Go fuzzer minimises every new interesting input with an O(n²) pass,
// which for inputs of that size eats the whole fuzzing time. expand turns a
// short input into a file:
//
//	'\n'  pads with blanks to the next card (80-byte) boundary, or adds
//	      a blank card when already at one
//	'\f'  pads with blanks to the next block (2880-byte) boundary
//	'\v'  pads with zeros to the next block boundary, or adds a whole
//	      block of zeros when already at one (a data block)
//
// Every other byte is copied, and the result is padded with zeros to a
// whole block. Every file is reachable except ones containing those three
// control bytes; the block-size check is reached through the raw input,
// which is validated too. The output is capped at a little over 256 KiB.
func expand(b []byte) []byte {
	const maxOut = 256 << 10
	out := make([]byte, 0, 2*BlockSize)
	pad := func(unit int, c byte, whole bool) {
		n := unit - len(out)%unit
		if n == unit && !whole {
			return
		}
		for ; n > 0; n-- {
			out = append(out, c)
		}
	}
	for _, c := range b {
		if len(out) > maxOut {
			break
		}
		switch c {
		case '\n':
			pad(CardSize, ' ', true)
		case '\f':
			pad(BlockSize, ' ', false)
		case '\v':
			pad(BlockSize, 0, true)
		default:
			out = append(out, c)
		}
	}
	pad(BlockSize, 0, false)
	return out
}

// compactHDU encodes one HDU for expand: the cards, END unless noEnd, blank
// header padding and dataBlocks zero-filled data blocks.
func compactHDU(cards []string, noEnd bool, dataBlocks int) []byte {
	var b []byte
	for _, c := range cards {
		c = strings.TrimRight(c, " ")
		b = append(b, c...)
		if len(c) < CardSize {
			b = append(b, '\n')
		}
	}
	if !noEnd {
		b = append(b, "END\n"...)
	}
	b = append(b, '\f')
	for ; dataBlocks > 0; dataBlocks-- {
		b = append(b, '\v')
	}
	return b
}

// fuzzSeeds are compact encodings of valid and invalid files. They use
// free-format values (valid except for SIMPLE) to keep the inputs short,
// which keeps the fuzzer's minimisation of new inputs fast.
func fuzzSeeds() [][]byte {
	shorten := func(cards []string) []string {
		out := make([]string, len(cards))
		for i, c := range cards {
			out[i] = c
			if i > 0 && c[8:10] == "= " && !strings.Contains(c, "'") {
				out[i] = c[:10] + strings.TrimSpace(c[10:])
			}
		}
		return out
	}
	ff := func(key string, v int64) string { return fmt.Sprintf("%-8s= %d", key, v) }
	prim := shorten(primaryCards())
	img := shorten(imageCards()[:9])
	for len(img) < CardsPerBlock+2 { // blank cards push the header into a second block
		img = append(img, "")
	}
	tab := shorten(bintableCards())
	empty := []string{card("SIMPLE  =                    T"), ff("BITPIX", 8), ff("NAXIS", 0)}
	groups := []string{card("SIMPLE  =                    T"), ff("BITPIX", -32), ff("NAXIS", 3), ff("NAXIS1", 0),
		ff("NAXIS2", 3), ff("NAXIS3", 2), "GROUPS  = T", ff("PCOUNT", 4), ff("GCOUNT", 5)}
	zimage := append(append([]string{}, tab...), "ZIMAGE  = T")
	nonASCII := append(append([]string{}, prim...), "COMMENT caf\xe9")
	sample := concat(compactHDU(prim, false, 1), compactHDU(img, false, 1), compactHDU(tab, false, 1))
	return [][]byte{
		// valid
		sample,
		compactHDU(prim, false, 1),
		compactHDU(groups, false, 1),
		compactHDU(empty, false, 0),
		concat(compactHDU(empty, false, 0), compactHDU(zimage, false, 1)),
		// invalid
		sample[:len(sample)-1],                    // truncated data
		append(append([]byte{}, sample...), '\v'), // trailing zero block
		concat(sample, []byte("JUNK\f")),          // trailing text block
		compactHDU(empty, true, 0),                // missing END
		concat(compactHDU(empty, true, 0), compactHDU(img, false, 1)),
		compactHDU(nonASCII, false, 1),
		compactHDU(replaceCard(prim, "BITPIX", ff("BITPIX", 12)), false, 1),
		compactHDU(replaceCard(prim, "NAXIS2", ""), false, 1),
		compactHDU(replaceCard(replaceCard(prim, "NAXIS1", ff("NAXIS1", math.MaxInt64)), "NAXIS2", ff("NAXIS2", 2)), false, 0),
		compactHDU(replaceCard(replaceCard(prim, "NAXIS1", ff("NAXIS1", 1<<32)), "NAXIS2", ff("NAXIS2", 1<<32)), false, 0),
		concat(compactHDU(prim, false, 1), compactHDU(replaceCard(replaceCard(tab, "PCOUNT", ff("PCOUNT", math.MaxInt64)), "GCOUNT", ff("GCOUNT", math.MaxInt64)), false, 0)),
		concat(compactHDU(prim, false, 1), compactHDU(replaceCard(img, "GCOUNT", ff("GCOUNT", 0)), false, 0)),
		compactHDU(replaceCard(empty, "NAXIS", ff("NAXIS", 999)), false, 0),
	}
}

// TestFuzzSeeds checks that the compact seeds expand to the files they
// stand for.
func TestFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds()
	want := sampleLayout()
	b := expand(seeds[0])
	got, err := Validate(bytes.NewReader(b), int64(len(b)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("expanded sample seed: got %+v, %v, want %+v", got, err, want)
	}
	for i, s := range seeds {
		b := expand(s)
		_, err := Validate(bytes.NewReader(b), int64(len(b)))
		if valid := i < 5; valid != (err == nil) {
			t.Errorf("seed %d: got error %v, want valid=%v", i, err, valid)
		}
	}
	if got := expand([]byte("A\n\nB\f\v\v")); len(got) != 3*BlockSize || got[1] != ' ' || got[2*CardSize] != 'B' ||
		got[2*CardSize+1] != ' ' || got[BlockSize-1] != ' ' || got[BlockSize] != 0 {
		t.Errorf("expand: got %d bytes %q..., want 3 blocks", len(got), got[:2*CardSize+2])
	}
	for i, s := range seeds {
		if len(s) > maxFuzzInput {
			t.Errorf("seed %d is %d bytes, longer than the %d the fuzzers look at", i, len(s), maxFuzzInput)
		}
	}
}

// checkValidate validates b and checks the properties every result must
// have.
func checkValidate(t *testing.T, b []byte) {
	size := int64(len(b))
	r := bytes.NewReader(b)
	l, err := Validate(r, size)
	if err != nil {
		// bytes.Reader cannot fail within size, so every error must be a
		// verdict on the content.
		ce, ok := IsCheckError(err)
		if !ok {
			t.Fatalf("got non-CheckError %v (%T)", err, err)
		}
		if l != nil {
			t.Fatalf("got layout %+v together with error %v", l, err)
		}
		if ce.Check == "" || ce.Msg == "" || ce.Offset < 0 || ce.Offset > size || ce.HDU < -1 {
			t.Fatalf("malformed CheckError %+v", ce)
		}
		return
	}
	if err := checkLayout(l, size); err != nil {
		t.Fatalf("inconsistent layout: %v\n%+v", err, l)
	}
	for _, h := range l.HDUs {
		hdr, next, err := ReadHeader(r, h.HeaderOffset)
		if err != nil || next != h.DataOffset || hdr.Len() != h.HeaderLen {
			t.Fatalf("ReadHeader(%d): got next %d len %d err %v, want %d %d", h.HeaderOffset, next, hdr.Len(), err, h.DataOffset, h.HeaderLen)
		}
	}
	s := HDUIndex(l)
	if len(s) > MaxHDUIndexLen {
		t.Fatalf("HDUIndex length %d > %d", len(s), MaxHDUIndexLen)
	}
	ranges, total, err := ParseHDUIndexTotal(s)
	if err != nil {
		t.Fatalf("ParseHDUIndexTotal(%q): %v", s, err)
	}
	if total != len(l.HDUs) || !reflect.DeepEqual(ranges, l.Ranges()[:len(ranges)]) {
		t.Fatalf("HDU index %q: got %+v total %d, want prefix of %+v", s, ranges, total, l.Ranges())
	}
}

// maxFuzzInput bounds the compact inputs the fuzzers look at: longer ones
// add nothing and make minimisation (quadratic in the input length) slow.
const maxFuzzInput = 2048

// FuzzValidate checks that Validate never panics, only reports content
// problems as *CheckError, and that any Layout it returns is consistent
// with the file size and survives the HDU index round trip.
func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		checkValidate(t, expand(b))
		checkValidate(t, b)
	})
}

func FuzzParseHDUIndex(f *testing.F) {
	for _, s := range []string{"v1:3:1.3w,2.6o,1.1f", "v1:1:1.0", "v1:20:1.0,2.abc", "v1:1:1.zzzzzzzzzzzz", "v2:1:1.0", "v1:2:1.0,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ranges, total, err := ParseHDUIndexTotal(s)
		if err != nil {
			return
		}
		if len(ranges) == 0 || len(ranges) > total {
			t.Fatalf("%q: got %d ranges for total %d", s, len(ranges), total)
		}
		var off int64
		for i, r := range ranges {
			if r.HeaderOffset != off || r.DataOffset <= r.HeaderOffset || (r.DataOffset-r.HeaderOffset)%BlockSize != 0 ||
				r.DataLen < 0 || r.End() < r.DataOffset || r.End()%BlockSize != 0 {
				t.Fatalf("%q: bad range %d: %+v", s, i, r)
			}
			off = r.End()
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		b = expand(b)
		h, err := ParseHeader(b)
		if err != nil {
			if _, ok := IsCheckError(err); !ok {
				t.Fatalf("got non-CheckError %v", err)
			}
			return
		}
		if h.Len() > int64(len(b)) || h.Blocks < 1 {
			t.Fatalf("header of %d blocks from %d bytes", h.Blocks, len(b))
		}
		for _, c := range h.Cards {
			if len(c.Raw) != CardSize || !strings.HasPrefix(c.Raw, strings.SplitN(c.Keyword, " ", 2)[0]) {
				t.Fatalf("bad card %+v", c)
			}
			_, _ = c.StringValue()
			_, _ = c.IntValue()
			_, _ = c.FloatValue()
			_, _ = c.BoolValue()
		}
	})
}

// TestValidateHostileAllocations checks that headers declaring enormous
// data units are rejected without allocating anything near their size.
func TestValidateHostileAllocations(t *testing.T) {
	cards := []string{card("SIMPLE  =                    T"), intCard("BITPIX", -64), intCard("NAXIS", 999)}
	for i := 1; i <= 999; i++ {
		cards = append(cards, intCard("NAXIS"+strconv.Itoa(i), math.MaxInt64))
	}
	b := hduBytes(cards, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Validate(bytes.NewReader(b), int64(len(b)))
	runtime.ReadMemStats(&after)
	if !isCheck(err, CheckTruncatedData) {
		t.Errorf("got %v, want %s", err, CheckTruncatedData)
	}
	// The header is ~80 KB; parsing it costs a small multiple of that.
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("allocated %d bytes, want < 4 MiB", got)
	}
}
