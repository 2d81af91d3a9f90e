"""pipe_tasks ingest RegistryContext rebuild of registry.sqlite3:
tempfile.mkstemp(prefix="registry.sqlite3", dir=repo) -> shutil.copyfile(
registry, tmp) (when one exists) -> sqlite3.connect(tmp) + inserts ->
commit/close -> os.unlink(registry) -> os.rename(tmp, registry) ->
chmod(0664). Raws are ingested with --mode link (absolute symlinks to the
input files) and --mode copy (shutil.copy). SQLite writes its -journal
next to the temp (fdatasync of the journal, of the directory and of the
db). The Go side checks that no -journal/-wal object and no temp name is
left in Swift. Remount phase: one more ingest on top of the registry that
now exists only in Swift."""

import glob
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402
import make_repo  # noqa: E402


def ingest(run, repo, visits, mode):
    registry = os.path.join(repo, "registry.sqlite3")
    fd, tmp = tempfile.mkstemp(prefix="registry.sqlite3", dir=repo)
    os.close(fd)
    existed = os.path.exists(registry)
    if existed:
        shutil.copyfile(registry, tmp)
    conn = sqlite3.connect(tmp)
    if not existed:
        conn.execute("create table raw (id integer primary key autoincrement, visit int, filter text, "
                     "ccd int, taiObs text, expTime double, unique(visit, ccd))")
        conn.execute("create table raw_visit (visit int, filter text, taiObs text, expTime double, unique(visit))")
    outdir = os.path.join(repo, "raw")
    bl.safe_makedir(outdir)
    for visit, filt, src in visits:
        out = os.path.join(outdir, "raw_v%d_f%s%s" % (visit, filt, src[src.index("."):]))
        if mode == "link":
            os.symlink(os.path.abspath(src), out)
        else:
            shutil.copy(src, out)
        for ccd in make_repo.CCDS:
            conn.execute("insert into raw (visit, filter, ccd, taiObs, expTime) values (?, ?, ?, ?, ?)",
                         (visit, filt, ccd, "2017-01-01T00:00:00", 30.0))
        conn.execute("insert into raw_visit values (?, ?, ?, ?)", (visit, filt, "2017-01-01T00:00:00", 30.0))
    conn.commit()
    conn.close()
    if existed:
        os.unlink(registry)
    os.rename(tmp, registry)
    os.chmod(registry, 0o664)
    run.check(not os.path.lexists(tmp), "temp registry gone", tmp)


def check(run, repo, nvisits, after_remount=False):
    registry = os.path.join(repo, "registry.sqlite3")
    if after_remount and bl.backend() == "swifttest":
        # The chmod after the rename is a POST: swifttest keeps the old
        # content type in listings, which is what a fresh mount reads.
        run.skip_check("mode of the registry after remount: swifttest does not apply a POST's "
                       "new content type to listings")
    else:
        run.mode_is(registry, 0o664)
    conn = sqlite3.connect(registry)
    conn.text_factory = str
    run.eq(conn.execute("SELECT count(*) FROM raw").fetchone()[0], nvisits * len(make_repo.CCDS), "raw rows")
    run.eq(conn.execute("SELECT count(DISTINCT visit) FROM raw_visit").fetchone()[0], nvisits, "visits")
    run.eq(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
    conn.close()
    run.listdir_is(repo, ["raw", "registry.sqlite3"])
    run.check(not glob.glob(registry + "?*"), "no registry temp or side file", glob.glob(registry + "?*"))


def inputs(run, first, ext):
    out = []
    for i, (visit, filt) in enumerate(make_repo.VISITS):
        out.append((first + i, filt, os.path.join(run.repo, "raw", "raw_v%d_f%s%s" % (visit, filt, ext))))
    return out


def go(run):
    os.umask(0o022)
    repo = run.base
    if run.phase == "live":
        bl.safe_makedir(repo)
        ingest(run, repo, inputs(run, 1, ".fits.gz"), "link")
        check(run, repo, 3)
        ingest(run, repo, inputs(run, 4, ".fits"), "copy")
        check(run, repo, 6)
        links = sorted(glob.glob(os.path.join(repo, "raw", "*.fits.gz")))
        run.eq(len(links), 3, "linked raws")
        for p in links:
            run.check(os.path.islink(p) and os.path.isabs(os.readlink(p)), "absolute link", p)
            run.eq(bl.md5_of(p), bl.md5_of(os.readlink(p)), "linked raw reads the input")
        for visit, filt, src in inputs(run, 4, ".fits"):
            dst = os.path.join(repo, "raw", "raw_v%d_f%s.fits" % (visit, filt))
            run.eq(bl.md5_of(dst), bl.md5_of(src), "copied raw")
        run.save({"visits": 6})
    else:
        n = run.load()["visits"]
        check(run, repo, n, after_remount=True)
        ingest(run, repo, inputs(run, n + 1, ".fits"), "copy")
        check(run, repo, n + 3)
        run.save({"visits": n + 3})


if __name__ == "__main__":
    bl.main("ingest", go)
