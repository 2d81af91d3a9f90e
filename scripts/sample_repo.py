#!/usr/bin/python3
"""Writes a small Butler-style repository (v1 layout) into a directory:
_mapper, raw FITS files (plain and gzip), a registry.sqlite3 describing
them, and an output repository whose _parent symlink points back.
Standard library only: FITS files are written by hand (2880-byte blocks)."""
import gzip, os, sqlite3, struct, sys

def card(k, v, comment=""):
    if isinstance(v, bool):
        val = "%20s" % ("T" if v else "F")
    elif isinstance(v, int):
        val = "%20d" % v
    else:
        val = ("'%-8s'" % v).ljust(20)
    return ("%-8s= %s / %s" % (k, val, comment))[:80].ljust(80)

def fits_image(w, h, visit, filt):
    cards = [card("SIMPLE", True), card("BITPIX", 16), card("NAXIS", 2), card("NAXIS1", w),
             card("NAXIS2", h), card("VISIT", visit), card("FILTER", filt), "END".ljust(80)]
    hdr = "".join(cards).encode("ascii")
    hdr += b" " * (-len(hdr) % 2880)
    data = b"".join(struct.pack(">h", (x * 7 + y * 3 + visit) % 3000) for y in range(h) for x in range(w))
    data += b"\0" * (-len(data) % 2880)
    return hdr + data

def main(root):
    os.makedirs(os.path.join(root, "raw"), exist_ok=True)
    with open(os.path.join(root, "_mapper"), "w") as f:
        f.write("lsst.obs.test.TestMapper\n")
    db = sqlite3.connect(os.path.join(root, "registry.sqlite3"))
    db.execute("create table raw (id integer primary key, visit int, filter text, ccd int)")
    for visit, filt in [(1, "g"), (2, "r"), (3, "i")]:
        data = fits_image(64, 48, visit, filt)
        name = os.path.join(root, "raw", "raw_v%d_f%s.fits.gz" % (visit, filt))
        with gzip.open(name, "wb") as f:
            f.write(data)
        with open(os.path.join(root, "raw", "raw_v%d_f%s.fits" % (visit, filt)), "wb") as f:
            f.write(data)
        db.execute("insert into raw (visit, filter, ccd) values (?, ?, 0)", (visit, filt))
    db.commit()
    db.close()
    out = os.path.join(root, "output")
    os.makedirs(out, exist_ok=True)
    if not os.path.lexists(os.path.join(out, "_parent")):
        os.symlink("..", os.path.join(out, "_parent"))
    print("sample repository written to", root)

if __name__ == "__main__":
    main(sys.argv[1])
