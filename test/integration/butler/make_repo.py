"""Builds the synthetic Butler v1 input repository the idiom scripts read:

    repo/_mapper                         "lsst.obs.test.TestMapper"
    repo/_policy.yaml                    repo-local policy (glob _policy.*)
    repo/registry.sqlite3                tables raw and raw_visit (sqlite3)
    repo/raw/raw_v<visit>_f<filter>.fits.gz   astropy, gzip (obs_test raws)
    repo/raw/raw_v<visit>_f<filter>.fits      astropy: image + variance + catalog HDUs
    repo/calexp/                         empty directory (an output root)

Every pixel and header value is a function of the visit (see pixels(),
header_of()), so readers recompute what they must find. Written straight
onto the mount (live phase) the way obs_test's genInputRegistry.py and a
plain copy would; the remount phase checks it all again.
"""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402

VISITS = [(1, "g"), (2, "r"), (3, "i")]
REGISTRY_VISITS = [(v, "gri"[(v - 1) % 3]) for v in range(1, 7)]  # registry knows more visits than files
CCDS = [0, 1]
MAPPER = "lsst.obs.test.TestMapper\n"
POLICY = "camera: test\nexposures:\n  raw:\n    template: raw/raw_v%(visit)d_f%(filter)s.fits.gz\n"


def pixels(visit):
    import numpy as np
    y, x = np.mgrid[0:48, 0:64]
    return ((x * 7 + y * 3 + visit * 11) % 3000).astype(">i2")


def variance(visit):
    import numpy as np
    return (pixels(visit).astype(">f4") / 4.0 + np.float32(visit))


def catalog(visit):
    import numpy as np
    from astropy.io import fits
    ids = np.arange(10, dtype=">i8") + visit * 100
    ra = np.linspace(10.0, 11.0, 10) + visit
    dec = np.linspace(-5.0, -4.0, 10)
    return fits.BinTableHDU.from_columns([
        fits.Column(name="id", format="K", array=ids),
        fits.Column(name="coord_ra", format="D", array=ra),
        fits.Column(name="coord_dec", format="D", array=dec)], name="CATALOG")


def header_of(visit, filt):
    return {"VISIT": visit, "FILTER": filt, "CCD": 0, "EXPTIME": 15.0 * visit,
            "DATE-OBS": "2016-01-0%dT00:00:00" % visit, "OBSERVAT": "LSST-TEST"}


def hdulist(visit, filt, extensions=True):
    from astropy.io import fits
    prim = fits.PrimaryHDU(pixels(visit))
    for k, v in header_of(visit, filt).items():
        prim.header[k] = v
    hdus = [prim]
    if extensions:
        hdus.append(fits.ImageHDU(variance(visit), name="VARIANCE"))
        hdus.append(catalog(visit))
    return fits.HDUList(hdus)


def make_registry(path):
    conn = sqlite3.connect(path)
    conn.execute("create table raw (id integer primary key autoincrement, visit int, filter text, "
                 "ccd int, taiObs text, expTime double, unique(visit, ccd))")
    conn.execute("create table raw_visit (visit int, filter text, taiObs text, expTime double, unique(visit))")
    for visit, filt in REGISTRY_VISITS:
        tai = "2016-01-0%dT00:00:00" % visit
        for ccd in CCDS:
            conn.execute("insert into raw (visit, filter, ccd, taiObs, expTime) values (?, ?, ?, ?, ?)",
                         (visit, filt, ccd, tai, 15.0 * visit))
        conn.execute("insert into raw_visit values (?, ?, ?, ?)", (visit, filt, tai, 15.0 * visit))
    conn.commit()
    conn.close()


def build(run):
    repo = run.repo
    bl.safe_makedir(os.path.join(repo, "raw"))
    bl.safe_makedir(os.path.join(repo, "calexp"))
    with open(os.path.join(repo, "_mapper"), "w") as f:
        f.write(MAPPER)
    with open(os.path.join(repo, "_policy.yaml"), "w") as f:
        f.write(POLICY)
    for visit, filt in VISITS:
        base = os.path.join(repo, "raw", "raw_v%d_f%s" % (visit, filt))
        hdulist(visit, filt, extensions=False).writeto(base + ".fits.gz")
        hdulist(visit, filt).writeto(base + ".fits")
    make_registry(os.path.join(repo, "registry.sqlite3"))
    # The repository as the Butler finds it.
    want = ["_mapper", "_policy.yaml", "calexp", "raw", "registry.sqlite3"]
    run.listdir_is(repo, want)
    run.listdir_is(os.path.join(repo, "calexp"), [])
    run.eq(len(os.listdir(os.path.join(repo, "raw"))), 2 * len(VISITS), "raw files")
    run.info["files"] = sorted(os.path.relpath(os.path.join(d, n), run.root)
                               for d, _, ns in os.walk(repo) for n in ns)


if __name__ == "__main__":
    bl.main("make_repo", build)
