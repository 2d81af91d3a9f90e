"""os.makedirs of empty output roots (safeMakeDir, PosixStorage(create=True),
CameraMapper outputRoot), visible at once: exists/isdir right after, EEXIST
tolerated on a second call, empty listings, modes 0777 & ~umask for every
level. Remount phase: the empty directories and their modes are in Swift
(marker objects), not only in the first mount's memory."""

import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402

# (path, umask): every level created with that umask
ROOTS = [("out/rerun/alice/calexp", 0o022), ("shared/rerun/bob", 0o002), ("private/calib", 0o077)]


def verify(run):
    for rel, umask in ROOTS:
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            p = os.path.join(run.base, *parts[:i])
            run.check(os.path.exists(p) and os.path.isdir(p), "exists and isdir", p)
            run.mode_is(p, 0o777 & ~umask)
        leaf = os.path.join(run.base, rel)
        run.listdir_is(leaf, [])
        run.check(not os.path.exists(os.path.join(leaf, "registry.sqlite3")), "probe in the empty root")
        run.check(not os.path.exists(os.path.join(leaf, "repositoryCfg.yaml")), "probe in the empty root")
    run.listdir_is(run.base, ["out", "shared", "private"])


def go(run):
    if run.phase == "live":
        bl.safe_makedir(run.base)
        for rel, umask in ROOTS:
            old = os.umask(umask)
            try:
                p = os.path.join(run.base, rel)
                run.check(not os.path.exists(p), "absent before makedirs", p)
                bl.safe_makedir(p)
                run.check(os.path.exists(p), "exists() right after makedirs", p)
                bl.safe_makedir(p)  # tolerated
                run.raises(FileExistsError, errno.EEXIST, lambda: os.makedirs(p), "plain makedirs again")
                run.raises(FileExistsError, errno.EEXIST, lambda: os.mkdir(p), "mkdir of an existing dir")
            finally:
                os.umask(old)
    verify(run)
    if run.phase == "remount":
        # a new empty root next to the old ones after the remount
        p = os.path.join(run.base, "out", "rerun", "carol")
        old = os.umask(0o022)
        try:
            bl.safe_makedir(p)
        finally:
            os.umask(old)
        run.check(os.path.isdir(p), "new root after remount")
        run.listdir_is(os.path.join(run.base, "out", "rerun"), ["alice", "carol"])


if __name__ == "__main__":
    bl.main("makedirs", go)
