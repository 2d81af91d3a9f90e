"""put(..., doBackup=True): find the first free name foo~n (literal glob /
exists), shutil.copy(foo, foo~n) (open O_RDONLY, O_WRONLY|O_CREAT|O_TRUNC,
sendfile loop, chmod = copymode), then write the new foo through
SafeFilename. Also the 12.x variant: makedirs(backup dir) + shutil.copy
into another directory. The source mode 0640 (umask 027) must carry over.
Remount phase: the copies and modes survived, one more backup round copies
a file that exists only in Swift."""

import glob
import os
import pickle
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402


def payload(v):
    # > 64 KiB so that sendfile loops
    return pickle.dumps({"version": v, "blob": bytes(range(256)) * (300 + v)}, protocol=2)


def put(run, final, v):
    old = os.umask(0o027)
    try:
        if glob.glob(final):
            n = 1
            while glob.glob(final + "~%d" % n):
                n += 1
            shutil.copy(final, final + "~%d" % n)
            bdir = os.path.join(run.base, "backup12", "v1")
            bl.safe_makedir(bdir)
            shutil.copy(final, os.path.join(bdir, os.path.basename(final) + "~%d" % n))
        bl.safe_filename(final, lambda tmp: open(tmp, "wb").write(payload(v)), run)
    finally:
        os.umask(old)


def verify(run, final, v):
    with open(final, "rb") as f:
        run.eq(f.read(), payload(v), "current " + run.rel(final))
    run.mode_is(final, 0o640)
    names = [os.path.basename(final)]
    for n in range(1, v):
        for p in (final + "~%d" % n,
                  os.path.join(run.base, "backup12", "v1", os.path.basename(final) + "~%d" % n)):
            with open(p, "rb") as f:
                run.eq(f.read(), payload(n), "backup " + run.rel(p))
            run.mode_is(p, 0o640, "mode carried by shutil.copy to " + run.rel(p))
        names.append(os.path.basename(final) + "~%d" % n)
    run.listdir_is(os.path.dirname(final), names)


def go(run):
    final = os.path.join(run.base, "calexp", "v1", "calexp_v1_fg.pickle")
    if run.phase == "live":
        for v in (1, 2, 3):
            put(run, final, v)
            verify(run, final, v)
        run.save({"v": 3})
    else:
        v = run.load()["v"]
        verify(run, final, v)
        put(run, final, v + 1)
        verify(run, final, v + 1)
        run.save({"v": v + 1})


if __name__ == "__main__":
    bl.main("backup_copy", go)
