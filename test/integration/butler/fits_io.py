"""FITS on the mount:

 * astropy write through SafeFilename (temp, writeto(overwrite=True),
   rename, chmod);
 * the afw/cfitsio write: remove the temp, fopen(name, "r") must fail with
   ENOENT, fopen(name, "w+b"), 2880-byte blocks written with a placeholder
   header, seek back to rewrite the header, rename, chmod;
 * header-only reads: astropy.io.fits.open(path, memmap=True), headers of
   HDUs 0-2 only, HDUList left open (PosixRegistry.lookupFitsMetadata,
   CameraMapper _md/_bbox/_len);
 * cfitsio-style seek reads: header blocks, seek over data units, read
   rows of a sub-image;
 * .fits.gz whole reads: astropy (data compared) and cfitsio's probe
   (2 bytes, seek to EOF-4 for the size, then the whole file).
Remount phase: everything read again from an empty cache, and the datasets
rewritten over objects that exist only in Swift."""

import glob
import gzip
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402
import make_repo  # noqa: E402

KEEP = []  # HDULists left open, as the Butler does


def expected_bytes(visit, filt):
    b = io.BytesIO()
    make_repo.hdulist(visit, filt).writeto(b)
    return b.getvalue()


def astropy_write(run, final, visit, filt):
    bl.safe_filename(final, lambda tmp: make_repo.hdulist(visit, filt).writeto(tmp, overwrite=True), run)


def afw_write(run, final, visit, filt):
    data = expected_bytes(visit, filt)
    nhdr = data.index(b"END" + b" " * 77) // 2880 + 1  # blocks of the primary header

    def writer(tmp):
        os.remove(tmp)  # boost::filesystem::remove
        run.raises(FileNotFoundError, None, lambda: open(tmp, "rb"), "fopen(r) probe of the removed temp")
        with open(tmp, "w+b") as f:
            f.write(b" " * (2880 * nhdr))  # placeholder header
            for off in range(2880 * nhdr, len(data), 2880):
                f.write(data[off:off + 2880])
            f.seek(0)
            f.write(data[:2880 * nhdr])  # header rewritten in place
            f.seek(0, os.SEEK_END)
    bl.safe_filename(final, writer, run)
    run.eq(bl.md5_of(final), bl.md5_bytes(data), "afw-style file content")


def check_dataset(run, path, visit, filt):
    from astropy.io import fits
    import numpy as np
    run.mode_is(path, 0o644)
    with fits.open(path, memmap=True) as h:
        run.eq(len(h), 3, "HDUs in " + run.rel(path))
        run.check(np.array_equal(h[0].data, make_repo.pixels(visit)), "pixels of " + run.rel(path))
        run.check(np.array_equal(h[1].data, make_repo.variance(visit)), "variance of " + run.rel(path))
        run.eq(list(h[2].data["id"]), list(range(visit * 100, visit * 100 + 10)), "catalog ids")
        run.eq(h[0].header["VISIT"], visit, "VISIT")
    run.eq(bl.md5_of(path), bl.md5_bytes(expected_bytes(visit, filt)), "bytes of " + run.rel(path))


def header_reads(run):
    from astropy.io import fits
    for path in sorted(glob.glob(os.path.join(run.repo, "raw", "raw_v*_f*.fits"))):
        h = fits.open(path, memmap=True)
        KEEP.append(h)  # not closed
        visit = h[0].header["VISIT"]
        for k, v in make_repo.header_of(visit, h[0].header["FILTER"]).items():
            run.eq(h[0].header[k], v, "header %s of %s" % (k, run.rel(path)))
        run.eq((h[1].header["NAXIS1"], h[1].header["NAXIS2"]), (64, 48), "_bbox from hdu 1")
        run.eq(h[2].header["NAXIS2"], 10, "_len from hdu 2")
        run.eq(h[2].header["TTYPE2"], "coord_ra", "_schema from hdu 2")


def parse_header(f):
    cards = {}
    nblocks = 0
    while True:
        block = f.read(2880)
        if len(block) != 2880:
            raise bl.Failure("short header block at %d" % f.tell())
        nblocks += 1
        for i in range(0, 2880, 80):
            card = block[i:i + 80].decode("ascii")
            key = card[:8].strip()
            if key == "END":
                return cards, nblocks
            if card[8:10] == "= ":
                cards[key] = card[10:].split("/")[0].strip()


def cfitsio_reads(run, path, visit):
    """Header blocks, seek over data units, sub-image rows (_sub)."""
    import numpy as np
    with open(path, "rb") as f:
        hdr, _ = parse_header(f)
        data_start = f.tell()
        bitpix, n1, n2 = int(hdr["BITPIX"]), int(hdr["NAXIS1"]), int(hdr["NAXIS2"])
        nbytes = abs(bitpix) // 8 * n1 * n2
        # sub-image: rows 10-19, columns 5-24
        rows = []
        for y in range(10, 20):
            f.seek(data_start + (y * n1 + 5) * 2)
            rows.append(np.frombuffer(f.read(40), dtype=">i2"))
        run.check(np.array_equal(np.array(rows), make_repo.pixels(visit)[10:20, 5:25]), "sub-image rows", path)
        f.seek(data_start + nbytes + (-nbytes % 2880))  # over the data unit
        hdr1, _ = parse_header(f)
        run.eq(hdr1.get("EXTNAME"), "'VARIANCE'", "EXTNAME of hdu 1 after seeking")
        end = f.seek(0, os.SEEK_END)
        run.eq(end % 2880, 0, "file size multiple of 2880")


def gz_reads(run):
    from astropy.io import fits
    import numpy as np
    for visit, filt in make_repo.VISITS:
        path = os.path.join(run.repo, "raw", "raw_v%d_f%s.fits.gz" % (visit, filt))
        with fits.open(path) as h:
            run.check(np.array_equal(h[0].data, make_repo.pixels(visit)), "gz pixels", path)
            run.eq(h[0].header["FILTER"], filt, "gz FILTER")
        with open(path, "rb") as f:  # cfitsio mem_compress_open
            run.eq(f.read(2), b"\x1f\x8b", "gzip magic")
            f.seek(-4, os.SEEK_END)
            size = int.from_bytes(f.read(4), "little")
            f.seek(0)
            whole = gzip.decompress(f.read())
        run.eq(len(whole), size, "gzip ISIZE")
        run.check(whole.startswith(b"SIMPLE  ="), "decompressed FITS")


def go(run):
    os.umask(0o022)
    b = run.base
    calexp = os.path.join(b, "calexp/v1/calexp_v1_fg.fits")
    postisr = os.path.join(b, "postISRCCD/v2/postISRCCD_v2_fr.fits")
    if run.phase == "live":
        astropy_write(run, calexp, 1, "g")
        afw_write(run, postisr, 2, "r")
        v = 0
    else:
        v = run.load()["shift"]
    check_dataset(run, calexp, 1 + v, "g")
    check_dataset(run, postisr, 2 + v, "r")
    run.listdir_is(os.path.dirname(calexp), [os.path.basename(calexp)])
    run.listdir_is(os.path.dirname(postisr), [os.path.basename(postisr)])
    header_reads(run)
    for visit, filt in make_repo.VISITS:
        cfitsio_reads(run, os.path.join(run.repo, "raw", "raw_v%d_f%s.fits" % (visit, filt)), visit)
    gz_reads(run)
    if run.phase == "remount":
        # rewrite both over objects that exist only in Swift
        astropy_write(run, calexp, 11, "g")
        afw_write(run, postisr, 12, "r")
        check_dataset(run, calexp, 11, "g")
        check_dataset(run, postisr, 12, "r")
        v = 10
    run.save({"shift": v})
    run.info["kept_open"] = len(KEEP)


if __name__ == "__main__":
    bl.main("fits_io", go)
