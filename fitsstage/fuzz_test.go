package fitsstage

import (
	"bytes"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fuzzSeeds are valid and invalid files for the fuzzers' corpora.
func fuzzSeeds() [][]byte {
	prim, img, tab := primaryCards(), imageCards(), bintableCards()
	primHDU := hduBytes(prim, primaryData())
	empty := []string{card("SIMPLE  =                    T"), intCard("BITPIX", 8), intCard("NAXIS", 0), boolCard("EXTEND", true)}
	sample := sampleFITS()
	zimage := append(append([]string{}, tab...), boolCard("ZIMAGE", true), strCard("ZCMPTYPE", "RICE_1"))
	return [][]byte{
		sample,
		primHDU,
		randomGroupsFITS(),
		hduBytes(empty, nil),
		concat(hduBytes(empty, nil), hduBytes(zimage, bintableData())),
		sample[:len(sample)-BlockSize],
		append(append([]byte{}, sample...), make([]byte, BlockSize)...),
		append(append([]byte{}, sample...), "x"...),
		headerBytes(empty, true),
		concat(headerBytes(empty, true), hduBytes(img, imageData())),
		hduBytes(replaceCard(prim, "BITPIX", intCard("BITPIX", 12)), primaryData()),
		hduBytes(replaceCard(prim, "NAXIS2", ""), primaryData()),
		hduBytes(replaceCard(replaceCard(prim, "NAXIS1", intCard("NAXIS1", math.MaxInt64)), "NAXIS2", intCard("NAXIS2", 2)), nil),
		hduBytes(replaceCard(replaceCard(prim, "NAXIS1", intCard("NAXIS1", 1<<32)), "NAXIS2", intCard("NAXIS2", 1<<32)), nil),
		concat(primHDU, hduBytes(replaceCard(replaceCard(tab, "PCOUNT", intCard("PCOUNT", math.MaxInt64)), "GCOUNT", intCard("GCOUNT", math.MaxInt64)), nil)),
		concat(primHDU, hduBytes(replaceCard(img, "GCOUNT", intCard("GCOUNT", 0)), nil)),
		hduBytes(replaceCard(empty, "NAXIS", intCard("NAXIS", 999)), nil),
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		size := int64(len(b))
		r := bytes.NewReader(b)
		l, err := Validate(r, size)
		if err != nil {
			// bytes.Reader cannot fail within size, so every error must
			// be a verdict on the content.
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
