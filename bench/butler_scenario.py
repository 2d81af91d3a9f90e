#!/usr/bin/python3
"""Bench workload 10: a Butler processing run, timed phase by phase, on a
mount and on local disk (bench/README.md).

    butler_scenario.py make SRC N    write an input repository of N raw FITS
                                     files and its registry.sqlite3 to SRC
    butler_scenario.py run SRC DST   the timed run into the empty directory
                                     DST; prints one JSON object of seconds

The run, with the filesystem calls of the legacy Butler (the idioms of
test/integration/butler, whose butlerlib it uses):
  copy      the input repository copied into DST/repo (shutil.copytree:
            mkdir, create, write, utime, chmod per file)
  registry  the repository root probed (_mapper, repositoryCfg.yaml,
            _parent, the registry's -journal and -wal), then SELECT DISTINCT
            queries on registry.sqlite3, a few per raw file
  headers   per raw file: exists() of the name and of its .gz and .fz
            variants (the two are missing), the primary header read with
            astropy
  outputs   per raw file: exists(final) (missing), the output directory
            made if absent, then SafeFilename: a temp file in the target
            directory, the FITS written to it, rename over final, chmod
Nothing waits for Swift: durability is workload 6's subject.
"""

import json
import os
import shutil
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "integration", "butler"))
import butlerlib as bl  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402

FILTERS = "gri"


def raw_name(visit, ccd):
    return os.path.join("raw", "v%04d" % visit, "raw_v%04d_c%02d.fits" % (visit, ccd))


def rows(n):
    """(visit, ccd, filter) of n raw files: 9 CCDs per visit."""
    return [(1 + i // 9, i % 9, FILTERS[(i // 9) % 3]) for i in range(n)]


def make(src, n):
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "_mapper"), "w") as f:
        f.write("lsst.obs.test.TestMapper\n")
    db = sqlite3.connect(os.path.join(src, "registry.sqlite3"))
    db.execute("create table raw (id integer primary key, visit int, ccd int, filter text, taiObs text)")
    db.execute("create table raw_visit (visit int primary key, filter text, expTime double)")
    for visit, ccd, filt in rows(n):
        p = os.path.join(src, raw_name(visit, ccd))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        hdr = fits.Header([("VISIT", visit), ("CCD", ccd), ("FILTER", filt), ("EXPTIME", 15.0)])
        data = (np.arange(128 * 128, dtype=np.int16).reshape(128, 128) + visit + ccd).astype(np.int16)
        fits.PrimaryHDU(data, hdr).writeto(p, overwrite=True)
        db.execute("insert into raw (visit, ccd, filter, taiObs) values (?, ?, ?, ?)",
                   (visit, ccd, filt, "2016-01-01T00:00:%02d" % (visit % 60)))
        db.execute("insert or ignore into raw_visit values (?, ?, ?)", (visit, filt, 15.0))
    db.commit()
    db.close()


def run(src, dst):
    t = {}
    t0 = time.perf_counter()
    repo = os.path.join(dst, "repo")
    shutil.copytree(src, repo, symlinks=True)
    t["copy"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    reg = os.path.join(repo, "registry.sqlite3")
    for name in ("_mapper", "repositoryCfg.yaml", "_parent", "registry.sqlite3",
                 "registry.sqlite3-journal", "registry.sqlite3-wal"):
        os.path.exists(os.path.join(repo, name))
    conn = sqlite3.connect(reg)
    conn.text_factory = str
    found = []
    for (visit,) in conn.execute("SELECT DISTINCT visit FROM raw ORDER BY visit").fetchall():
        conn.execute("SELECT DISTINCT filter, expTime FROM raw_visit WHERE visit=?", (visit,)).fetchall()
        for ccd, filt in conn.execute("SELECT DISTINCT ccd, filter FROM raw WHERE visit=? ORDER BY ccd",
                                      (visit,)).fetchall():
            conn.execute("SELECT DISTINCT taiObs FROM raw WHERE visit=? AND ccd=?", (visit, ccd)).fetchall()
            found.append((visit, ccd, filt))
    conn.close()
    t["registry"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    headers = []
    for visit, ccd, filt in found:
        p = os.path.join(repo, raw_name(visit, ccd))
        if not os.path.exists(p):
            raise SystemExit("missing raw file " + p)
        for alt in (p + ".gz", p + ".fz"):
            if os.path.exists(alt):
                raise SystemExit("unexpected " + alt)
        h = fits.getheader(p)
        if h["VISIT"] != visit or h["CCD"] != ccd:
            raise SystemExit("wrong header in " + p)
        headers.append(h)
    t["headers"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    for (visit, ccd, filt), h in zip(found, headers):
        final = os.path.join(repo, "rerun", "r1", "calexp", "v%04d" % visit, "calexp_v%04d_c%02d.fits" % (visit, ccd))
        if os.path.exists(final):
            raise SystemExit("unexpected " + final)
        bl.safe_makedir(os.path.dirname(final))
        data = np.full((64, 64), visit * 100 + ccd, dtype=np.float32)
        bl.safe_filename(final, lambda tmp: fits.PrimaryHDU(data, h).writeto(tmp, overwrite=True))
    t["outputs"] = time.perf_counter() - t3
    t["total"] = time.perf_counter() - t0
    t["files"] = len(found)
    print(json.dumps({k: round(v, 4) for k, v in t.items()}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
