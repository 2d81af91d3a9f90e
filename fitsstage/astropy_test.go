package fitsstage

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// astropyScript writes FITS files with astropy into argv[1] and prints, as
// JSON, astropy's own view of each file's HDU locations.
const astropyScript = `
import json, sys, os
import numpy as np
from astropy.io import fits

out = sys.argv[1]

def info(path):
    with fits.open(path, disable_image_compression=True) as hdul:
        hdul.verify("exception")
        res = []
        for i, h in enumerate(hdul):
            fi = hdul.fileinfo(i)
            res.append({"hdrLoc": fi["hdrLoc"], "datLoc": fi["datLoc"], "datSpan": fi["datSpan"],
                        "xtension": h.header.get("XTENSION", ""), "extname": h.header.get("EXTNAME", "")})
        return res

# Primary image, image extension with a two-block header, binary table
# with a variable-length array column (heap, PCOUNT > 0).
prim = fits.PrimaryHDU(np.arange(70, dtype=np.int16).reshape(7, 10))
prim.header["OBSERVER"] = "x" * 100  # long string: CONTINUE cards
prim.header["HIERARCH ESO DET CHIP NAME"] = "CCD 7"
img = fits.ImageHDU(np.linspace(0, 1, 60, dtype=np.float32).reshape(3, 4, 5), name="SCI")
for i in range(40):
    img.header.add_history("step %d" % i)
vla = np.array([np.arange(n, dtype=np.int32) for n in (1, 5, 3)], dtype=object)
tab = fits.BinTableHDU.from_columns([
    fits.Column(name="ID", format="J", array=np.array([1, 2, 3], dtype=np.int32)),
    fits.Column(name="NAME", format="8A", array=np.array(["a", "bb", "ccc"])),
    fits.Column(name="VALS", format="PJ()", array=vla),
], name="CAT")
hdul = fits.HDUList([prim, img, tab])
hdul.writeto(os.path.join(out, "mef.fits"))
hdul.writeto(os.path.join(out, "mef.fits.gz"))

# Tile-compressed image (a BINTABLE with ZIMAGE = T).
comp = fits.CompImageHDU(np.arange(64 * 48, dtype=np.int32).reshape(48, 64),
                         compression_type="RICE_1", name="COMP")
fits.HDUList([fits.PrimaryHDU(), comp]).writeto(os.path.join(out, "comp.fits.fz"))

# Random groups: NAXIS1 = 0, GROUPS = T, PCOUNT = 4, GCOUNT = 5.
gdata = fits.GroupData(np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 1, 2, 3),
                       parnames=["UU", "VV", "WW", "DATE"],
                       pardata=[np.arange(5, dtype=np.float32)] * 4, bitpix=-32)
fits.GroupsHDU(gdata).writeto(os.path.join(out, "groups.fits"))

# Header-only primary.
fits.PrimaryHDU().writeto(os.path.join(out, "empty.fits"))

json.dump({name: info(os.path.join(out, name))
           for name in ("mef.fits", "comp.fits.fz", "groups.fits", "empty.fits")}, sys.stdout)
`

const python = "/usr/bin/python3"

type astropyHDU struct {
	HdrLoc   int64  `json:"hdrLoc"`
	DatLoc   int64  `json:"datLoc"`
	DatSpan  int64  `json:"datSpan"`
	XTension string `json:"xtension"`
	ExtName  string `json:"extname"`
}

// TestAstropyFiles validates files written by astropy, the library the
// LSST stack's Python tooling uses, and compares the layout with astropy's.
func TestAstropyFiles(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import astropy, numpy").CombinedOutput(); err != nil {
		t.Skipf("astropy is not available (%s -c 'import astropy' failed: %v: %s); install the Debian package python3-astropy to run this test",
			python, err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	cmd := exec.Command(python, "-c", astropyScript, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("astropy script: %v\n%s", err, stderr.String())
	}
	var want map[string][]astropyHDU
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("decoding astropy output %q: %v", out, err)
	}
	if len(want) != 4 {
		t.Fatalf("astropy described %d files, want 4", len(want))
	}
	for name, hdus := range want {
		t.Run(name, func(t *testing.T) {
			if !Applies(name) {
				t.Errorf("Applies(%q): got false, want true", name)
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l, err := Validate(f, int64(len(b)))
			if err != nil {
				t.Fatalf("Validate: got %v, want nil", err)
			}
			if err := checkLayout(l, int64(len(b))); err != nil {
				t.Errorf("inconsistent layout: %v", err)
			}
			if len(l.HDUs) != len(hdus) {
				t.Fatalf("got %d HDUs, astropy has %d", len(l.HDUs), len(hdus))
			}
			for i, w := range hdus {
				g := l.HDUs[i]
				if g.HeaderOffset != w.HdrLoc || g.DataOffset != w.DatLoc || g.DataPaddedLen() != w.DatSpan {
					t.Errorf("HDU %d: got header %d data %d span %d, astropy says %d %d %d",
						i, g.HeaderOffset, g.DataOffset, g.DataPaddedLen(), w.HdrLoc, w.DatLoc, w.DatSpan)
				}
				if g.XTension != w.XTension || g.ExtName != w.ExtName {
					t.Errorf("HDU %d: got XTENSION %q EXTNAME %q, astropy says %q %q", i, g.XTension, g.ExtName, w.XTension, w.ExtName)
				}
			}
			switch name {
			case "comp.fits.fz":
				if !l.HDUs[1].ZImage || l.HDUs[1].PCount == 0 {
					t.Errorf("compressed HDU: got ZImage %v PCOUNT %d, want true and a heap", l.HDUs[1].ZImage, l.HDUs[1].PCount)
				}
			case "groups.fits":
				if h := l.HDUs[0]; !h.Groups || h.PCount != 4 || h.GCount != 5 || h.DataLen != 4*5*(4+2*3) {
					t.Errorf("groups: got Groups %v PCOUNT %d GCOUNT %d DataLen %d, want true 4 5 200", h.Groups, h.PCount, h.GCount, h.DataLen)
				}
			case "mef.fits":
				h, _, err := ReadHeader(f, 0)
				if err != nil {
					t.Fatalf("ReadHeader: %v", err)
				}
				if s, err := h.StringValue("OBSERVER"); err != nil || s != strings.Repeat("x", 100) {
					t.Errorf("CONTINUE string: got %q, %v, want 100 x", s, err)
				}
				if s, err := h.StringValue("HIERARCH ESO DET CHIP NAME"); err != nil || s != "CCD 7" {
					t.Errorf("HIERARCH: got %q, %v, want %q", s, err, "CCD 7")
				}
			}

			// The HDU index round-trips to astropy's offsets.
			ranges, err := ParseHDUIndex(HDUIndex(l))
			if err != nil {
				t.Fatalf("ParseHDUIndex: %v", err)
			}
			for i, r := range ranges {
				if r.HeaderOffset != hdus[i].HdrLoc || r.DataOffset != hdus[i].DatLoc || r.End()-r.DataOffset != hdus[i].DatSpan {
					t.Errorf("index HDU %d: got %+v, astropy says %+v", i, r, hdus[i])
				}
			}

			// Damaged copies are rejected.
			if len(b) > BlockSize {
				_, err := Validate(bytes.NewReader(b[:len(b)-BlockSize]), int64(len(b)-BlockSize))
				if !isCheck(err, CheckTruncatedData) && !isCheck(err, CheckMissingEnd) {
					t.Errorf("truncated by one block: got %v, want %s", err, CheckTruncatedData)
				}
			}
			junk := append(append([]byte{}, b...), make([]byte, BlockSize)...)
			if _, err := Validate(bytes.NewReader(junk), int64(len(junk))); !isCheck(err, CheckTrailingData) {
				t.Errorf("zero block appended: got %v, want %s", err, CheckTrailingData)
			}
		})
	}

	gz := filepath.Join(dir, "mef.fits.gz")
	b, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	if Applies(gz) || !AppliesGzip(gz) {
		t.Errorf("Applies/AppliesGzip(%q): got %v/%v, want false/true", gz, Applies(gz), AppliesGzip(gz))
	}
	if err := ValidateGzip(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Errorf("ValidateGzip(astropy .fits.gz): got %v, want nil", err)
	}
}
