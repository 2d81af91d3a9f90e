"""glob as PosixStorage uses it: a literal name (no wildcard) is an lstat,
so a dangling symlink matches; wildcards list the directory (getdents).
The "[n]" HDU selector is stripped before globbing. PosixRegistry scans by
chdir(root) + relative glob + chdir(back). obs_base 13 looks for repo-local
_policy.* by glob."""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402
import make_repo  # noqa: E402


def search(root, path):
    """PosixStorage.search without parents: strip [n], glob."""
    m = re.match(r"(.*)\[\d+\]$", path)
    if m:
        path = m.group(1)
    return sorted(glob.glob(os.path.join(root, path)))


def go(run):
    b = run.base
    if run.phase == "live":
        bl.safe_makedir(os.path.join(b, "raw"))
        os.symlink("/nonexistent/raw_v7_fz.fits", os.path.join(b, "raw", "raw_v7_fz.fits"))
        os.symlink("raw_v8_fz.fits.missing", os.path.join(b, "raw", "raw_v8_fz.fits"))
        with open(os.path.join(b, "raw", "raw_v1_fg.fits"), "wb") as f:
            f.write(bl.minimal_fits(VISIT=1, FILTER="g"))
    repo = run.repo
    raws = ["raw/raw_v%d_f%s.fits.gz" % vf for vf in make_repo.VISITS]
    run.eq(search(repo, "raw/raw_v*_f*.fits.gz"), [os.path.join(repo, r) for r in raws], "wildcard glob")
    run.eq(search(repo, "raw/raw_v?_f[gr].fits"), [os.path.join(repo, "raw/raw_v1_fg.fits"),
                                                    os.path.join(repo, "raw/raw_v2_fr.fits")], "? and [] wildcards")
    run.eq(search(repo, raws[0]), [os.path.join(repo, raws[0])], "literal glob, existing")
    run.eq(search(repo, "raw/raw_v1_fg.fits[1]"), [os.path.join(repo, "raw/raw_v1_fg.fits")], "HDU selector stripped")
    run.eq(search(repo, "raw/raw_v9_fg.fits.gz"), [], "literal glob, missing")
    run.eq(search(repo, "calexp/*"), [], "wildcard glob in an empty directory")
    run.eq(search(repo, "nodir/*.fits"), [], "wildcard glob under a missing directory")
    run.eq(search(repo, "_policy.*"), [os.path.join(repo, "_policy.yaml")], "_policy.* lookup")
    run.eq(search(repo, "_mapper"), [os.path.join(repo, "_mapper")], "literal _mapper")
    # dangling symlinks: a literal glob matches (lstat), exists() does not
    for name in ("raw_v7_fz.fits", "raw_v8_fz.fits"):
        p = os.path.join(b, "raw", name)
        run.eq(glob.glob(p), [p], "literal glob of dangling " + name)
        run.check(not os.path.exists(p), "exists() of dangling", name)
    run.eq([os.path.basename(p) for p in search(b, "raw/raw_v*_f*.fits")],
           ["raw_v1_fg.fits", "raw_v7_fz.fits", "raw_v8_fz.fits"], "wildcard glob lists dangling links too")
    # PosixRegistry/FsScanner: chdir(root), relative glob, chdir(back)
    back = os.getcwd()
    os.chdir(repo)
    try:
        rel = sorted(glob.glob("raw/*.fits*"))
        run.eq(os.getcwd(), os.path.realpath(repo), "getcwd after chdir(root)")
    finally:
        os.chdir(back)
    run.eq(len(rel), 2 * len(make_repo.VISITS), "relative scan under chdir")
    run.check(all(not os.path.isabs(r) for r in rel), "relative names", rel)


if __name__ == "__main__":
    bl.main("glob_idioms", go)
