"""Python's open() of a regular file calls isatty() = ioctl(TCGETS); the
mount must answer with ENOTTY (not hang, not another error). Checked on
files opened for reading (cached and not), writing, and a directory."""

import errno
import fcntl
import os
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402


def tcgets(run, fd, what):
    e = run.raises(OSError, errno.ENOTTY, lambda: fcntl.ioctl(fd, termios.TCGETS, bytes(64)), "TCGETS on " + what)
    run.check(not os.isatty(fd), "isatty false", what)
    return e


def go(run):
    b = run.base
    p = os.path.join(b, "f_%s.txt" % run.phase)
    bl.safe_makedir(b)
    with open(p, "w") as f:  # text mode: TextIOWrapper asks isatty()
        run.eq(f.line_buffering, False, "line buffering (isatty false)")
        tcgets(run, f.fileno(), "a file open for writing")
        f.write("tty?\n")
    with open(p) as f:
        tcgets(run, f.fileno(), "a file open for reading")
        run.eq(f.read(), "tty?\n", "read")
    for name in ("_mapper", "raw/raw_v1_fg.fits.gz"):
        with open(os.path.join(run.repo, name), "rb") as f:
            tcgets(run, f.fileno(), name)
    fd = os.open(run.repo, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tcgets(run, fd, "a directory")
    finally:
        os.close(fd)


if __name__ == "__main__":
    bl.main("ioctl_tcgets", go)
