//go:build integration && linux

package integration

import (
	"bytes"
	"context"
	"crypto/md5"
	binenc "encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/fitsstage"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// TestFITSRangedReads opens a ~256 MiB FITS object on a fresh mount and
// reads its last block, the header of its last HDU (located with the HDU
// index in the object's metadata) and a block in the middle, right away:
// each read is served by ranged GETs of its own while the download of the
// whole object goes on, then the whole content is read and compared.
//
// Written by swiftfs, the file is an SLO of 32 MiB segments (above
// --slo-threshold): a read waits for its segment, fetched at once by
// demand streams and checked against the manifest, not for the whole
// object. A plain object (written by another tool) is served that way
// only with --verify=lazy (by default a read of it waits for its whole
// MD5: 2.9 s for this one on the shared SAIO).
func TestFITSRangedReads(t *testing.T) {
	for _, swiftfsWritten := range []bool{true, false} {
		name := "plain object, --verify=lazy"
		if swiftfsWritten {
			name = "written by swiftfs (SLO)"
		}
		t.Run(name, func(t *testing.T) {
			if swiftfsWritten && backend == "swifttest" {
				// The real-Swift tier (it-v1) runs it.
				t.Skip("swifttest lists an SLO with the size of its manifest (swiftclienttest's NoSLOListingSize)")
			}
			testFITSRangedReads(t, swiftfsWritten)
		})
	}
}

func testFITSRangedReads(t *testing.T, swiftfsWritten bool) {
	container, c := newContainer(t)
	data, idx := bigFITS(t, []int64{100<<20 + 123, 150<<20 + 4567, 5<<20 + 89})
	size := int64(len(data))
	sum := md5.Sum(data)
	start := time.Now()
	var flags []string
	if swiftfsWritten {
		w := startMount(t, container, "")
		if err := os.WriteFile(w.path("big.fits"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		w.sync()
		w.stop()
		info, err := c.Stat(context.Background(), "big.fits")
		if err != nil || !info.SLO || info.Size != size {
			t.Fatalf("written through the mount: %+v, %v; want an SLO of %d bytes", info, err, size)
		}
		m, err := c.Manifest(context.Background(), "big.fits")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("written through the mount and uploaded (%d segments) in %v", len(m.Segments), time.Since(start).Round(time.Millisecond))
	} else {
		_, err := c.Put(context.Background(), "big.fits", bytes.NewReader(data), size, swiftclient.PutOptions{
			ContentType: "application/fits", MD5: hex.EncodeToString(sum[:]),
			Meta: map[string]string{strings.ToLower(fitsstage.MetadataKey): idx}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("uploaded %d bytes in %v", size, time.Since(start).Round(time.Millisecond))
		flags = []string{"--verify=lazy"}
	}

	m := startMount(t, container, "", flags...)
	f, err := os.Open(m.path("big.fits"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opened := time.Now()
	readAt := func(what string, off int64, n int) {
		t.Helper()
		buf := make([]byte, n)
		t0 := time.Now()
		got, err := f.ReadAt(buf, off)
		if err != nil || got != n {
			t.Fatalf("%s: read %d bytes at %d: %d, %v", what, n, off, got, err)
		}
		t.Logf("%s (%d bytes at %d): %v", what, n, off, time.Since(t0).Round(time.Microsecond))
		if !bytes.Equal(buf, data[off:off+int64(n)]) {
			t.Errorf("%s: content differs from the object's bytes %d-%d", what, off, off+int64(n))
		}
	}
	readAt("last FITS block", size-fitsstage.BlockSize, fitsstage.BlockSize)

	// HDU n by the index in the object's metadata, as a reader that knows
	// it would jump there.
	info, err := c.Stat(context.Background(), "big.fits")
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := fitsstage.ParseHDUIndex(info.Meta[strings.ToLower(fitsstage.MetadataKey)])
	if err != nil || len(ranges) != 4 {
		t.Fatalf("HDU index %q: %v, %d HDUs, want 4", info.Meta[strings.ToLower(fitsstage.MetadataKey)], err, len(ranges))
	}
	last := ranges[3]
	t0 := time.Now()
	h, next, err := fitsstage.ReadHeader(f, last.HeaderOffset)
	if err != nil || next != last.DataOffset {
		t.Fatalf("header of HDU 3 at %d: next %d, %v, want next %d", last.HeaderOffset, next, err, last.DataOffset)
	}
	t.Logf("header of HDU 3 at %d (%d blocks): %v", last.HeaderOffset, h.Blocks, time.Since(t0).Round(time.Microsecond))
	if x, _ := h.StringValue("XTENSION"); x != "IMAGE" {
		t.Errorf("HDU 3: XTENSION %q, want IMAGE", x)
	}
	if n, _ := h.IntValue("NAXIS1"); n != last.DataLen {
		t.Errorf("HDU 3: NAXIS1 %d, want %d", n, last.DataLen)
	}
	readAt("first data block of HDU 3", last.DataOffset, fitsstage.BlockSize)
	readAt("a block in the middle", size/2/fitsstage.BlockSize*fitsstage.BlockSize, fitsstage.BlockSize)
	t.Logf("reads done %v after open", time.Since(opened).Round(time.Millisecond))

	// They were fetched on demand, not by the streams going there.
	var demands []string
	for _, l := range strings.Split(m.log.String(), "\n") {
		if strings.Contains(l, "read ahead of the download") {
			demands = append(demands, l)
		}
	}
	if len(demands) == 0 {
		t.Errorf("no read fetched its range on demand (log has no %q)", "read ahead of the download")
	}
	t.Logf("ranges fetched on demand:\n%s", strings.Join(demands, "\n"))

	h5 := md5.New()
	if _, err := io.Copy(h5, io.NewSectionReader(f, 0, size)); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h5.Sum(nil)); got != hex.EncodeToString(sum[:]) {
		t.Errorf("whole content: MD5 %s, want %s", got, hex.EncodeToString(sum[:]))
	}
	t.Logf("whole object read through the mount %v after open", time.Since(opened).Round(time.Millisecond))
}

// bigFITS builds a FITS file: an empty primary HDU and one 8-bit IMAGE
// extension per data length, with pseudo-random data; it returns the file
// and its HDU index.
func bigFITS(t *testing.T, lens []int64) ([]byte, string) {
	t.Helper()
	card := func(key, val string) string {
		if strings.HasPrefix(val, "'") {
			return fmt.Sprintf("%-8s= %-70s", key, val)
		}
		return fmt.Sprintf("%-8s= %20s%50s", key, val, "")
	}
	header := func(cards ...string) []byte {
		s := strings.Join(cards, "") + fmt.Sprintf("%-80s", "END")
		if r := len(s) % fitsstage.BlockSize; r != 0 {
			s += strings.Repeat(" ", fitsstage.BlockSize-r)
		}
		return []byte(s)
	}
	pad := func(n int64) int64 { return (n + fitsstage.BlockSize - 1) / fitsstage.BlockSize * fitsstage.BlockSize }
	total := int64(fitsstage.BlockSize)
	for _, n := range lens {
		total += fitsstage.BlockSize + pad(n)
	}
	data := make([]byte, 0, total)
	data = append(data, header(card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0"), card("EXTEND", "T"))...)
	for i, n := range lens {
		data = append(data, header(card("XTENSION", "'IMAGE   '"), card("BITPIX", "8"), card("NAXIS", "1"),
			card("NAXIS1", strconv.FormatInt(n, 10)), card("PCOUNT", "0"), card("GCOUNT", "1"))...)
		var seed [32]byte
		binenc.LittleEndian.PutUint64(seed[:], uint64(i+1))
		unit := make([]byte, pad(n)) // zero padding after the data
		rand.NewChaCha8(seed).Read(unit[:n])
		data = append(data, unit...)
	}
	l, err := fitsstage.Validate(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("test FITS file: %v", err)
	}
	return data, fitsstage.HDUIndex(l)
}
