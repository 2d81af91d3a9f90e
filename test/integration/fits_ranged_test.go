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
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncw/swift/v2/swifttest"

	"github.com/swiftfs/swiftfs/fitsstage"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// TestFITSRangedReads opens a ~256 MiB FITS object on a fresh mount and
// reads its last block, the header of its last HDU (located with the HDU
// index in the object's metadata) and a block in the middle, right away:
// each read is served by a ranged GET of its own while the download of the
// whole object (8 chunks of 32 MiB, 4 streams) goes on, then the whole
// content is read and compared.
func TestFITSRangedReads(t *testing.T) {
	useRangedSwifttest(t)
	container, c := newContainer(t)
	data, idx := bigFITS(t, []int64{100<<20 + 123, 150<<20 + 4567, 5<<20 + 89})
	size := int64(len(data))
	sum := md5.Sum(data)
	start := time.Now()
	_, err := c.Put(context.Background(), "big.fits", bytes.NewReader(data), size, swiftclient.PutOptions{
		ContentType: "application/fits", MD5: hex.EncodeToString(sum[:]),
		Meta: map[string]string{strings.ToLower(fitsstage.MetadataKey): idx}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uploaded %d bytes in %v", size, time.Since(start).Round(time.Millisecond))

	m := startMount(t, container, "")
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

// useRangedSwifttest makes this test use a swifttest server of its own
// behind a proxy that answers ranged GETs as Swift does (206 with
// Content-Range; swifttest answers 200 with the partial body, which the
// client reads as a whole object). The real-Swift tier is left as it is.
func useRangedSwifttest(t *testing.T) {
	t.Helper()
	if backend != "swifttest" {
		return
	}
	srv, err := swifttest.NewSwiftServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	up, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &rangeProxy{up: up}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	p.self = ps.URL
	saved := env
	env = []string{"ST_AUTH=" + ps.URL + "/v1.0", "ST_USER=" + swifttest.TEST_ACCOUNT, "ST_KEY=" + swifttest.TEST_ACCOUNT}
	t.Cleanup(func() { env = saved })
}

// rangeProxy forwards to swifttest and turns its answers to ranged GETs of
// objects into Swift's. Requests are served one at a time up to the
// answer's headers (swifttest has data races between concurrent
// requests); bodies stream concurrently.
type rangeProxy struct {
	up   *url.URL
	self string
	mu   sync.Mutex
}

func (p *rangeProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			p.mu.Unlock()
		}
	}
	defer unlock()
	var first, last, size int64 = -1, -1, -1
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" && strings.Count(r.URL.Path, "/") >= 4 {
		if st, n := p.head(r); st == http.StatusOK {
			size = n
			f, l, ok := parseByteRange(r.Header.Get("Range"))
			if ok && f >= size {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				http.Error(w, "Requested Range Not Satisfiable", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			if ok {
				if l < 0 || l >= size {
					l = size - 1
				}
				first, last = f, l
				r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
			}
		}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = p.up.Scheme
			pr.Out.URL.Host = p.up.Host
			pr.Out.Host = p.up.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			if su := resp.Header.Get("X-Storage-Url"); su != "" {
				resp.Header.Set("X-Storage-Url", strings.Replace(su, p.up.Scheme+"://"+p.up.Host, p.self, 1))
			}
			if first >= 0 && resp.StatusCode == http.StatusOK {
				resp.StatusCode = http.StatusPartialContent
				resp.Status = "206 Partial Content"
				resp.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
			}
			if r.Method == http.MethodGet {
				unlock() // the body streams while other requests go on
			}
			return nil
		},
		FlushInterval: -1,
	}
	rp.ServeHTTP(w, r)
}

// head asks swifttest for the object's status and size.
func (p *rangeProxy) head(r *http.Request) (int, int64) {
	u := *p.up
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	req, err := http.NewRequestWithContext(r.Context(), http.MethodHead, u.String(), nil)
	if err != nil {
		return 0, 0
	}
	req.Header.Set("X-Auth-Token", r.Header.Get("X-Auth-Token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0
	}
	resp.Body.Close()
	n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return resp.StatusCode, n
}

// parseByteRange reads "bytes=first-" or "bytes=first-last" (last -1 when
// open).
func parseByteRange(v string) (first, last int64, ok bool) {
	v, found := strings.CutPrefix(v, "bytes=")
	if !found {
		return 0, 0, false
	}
	f, l, found := strings.Cut(v, "-")
	if !found || f == "" {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	last = -1
	if l != "" {
		if last, err = strconv.ParseInt(l, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return first, last, true
}
