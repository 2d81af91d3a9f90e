"""cwd inside the mount: chdir + getcwd (RepositoryArgs absolutises roots
with os.getcwd()), relative exists/open/readline/glob/stat, relative writes
(SafeFilename with a relative name), chdir(".."), and chdir through a
symlinked directory. Run again after the remount."""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402
import make_repo  # noqa: E402


def go(run):
    os.umask(0o022)
    b = run.base
    if run.phase == "live":
        bl.safe_makedir(os.path.join(b, "work"))
        os.symlink("../repo", os.path.join(b, "repolink"))
    start = os.getcwd()
    try:
        os.chdir(run.repo)
        run.eq(os.getcwd(), run.repo, "getcwd in the mount")
        run.eq(os.path.abspath("raw"), os.path.join(run.repo, "raw"), "abspath against cwd")
        run.check(os.path.exists("_mapper") and os.path.exists("registry.sqlite3"), "relative exists")
        with open("_mapper") as f:
            run.eq(f.readline(), make_repo.MAPPER, "relative readline")
        run.eq(len(glob.glob("raw/*")), 2 * len(make_repo.VISITS), "relative glob")
        run.eq(os.stat("raw/raw_v1_fg.fits").st_size, os.stat(os.path.join(run.repo, "raw/raw_v1_fg.fits")).st_size,
               "relative stat")
        os.chdir("..")
        run.eq(os.getcwd(), run.root, "chdir(..)")
        os.chdir(os.path.join(run.idiom, "work"))
        run.eq(os.getcwd(), os.path.join(b, "work"), "chdir to a relative path")
        name = "out_%s.txt" % run.phase
        bl.safe_filename(name, lambda tmp: open(tmp, "w").write(run.phase))
        run.eq(os.path.relpath(os.path.realpath(name), b), "work/" + name, "relative write landed in cwd")
        os.chdir(os.path.join(b, "repolink"))
        run.eq(os.getcwd(), run.repo, "getcwd after chdir through a symlink is the resolved path")
        run.check(os.path.exists("_mapper"), "relative exists via a symlinked cwd")
    finally:
        os.chdir(start)
    want = ["out_live.txt"] + (["out_remount.txt"] if run.phase == "remount" else [])
    run.listdir_is(os.path.join(b, "work"), want)
    for n in want:
        with open(os.path.join(b, "work", n)) as f:
            run.eq(f.read(), n[4:-4], "content of " + n)
        run.mode_is(os.path.join(b, "work", n), 0o644)


if __name__ == "__main__":
    bl.main("cwd", go)
