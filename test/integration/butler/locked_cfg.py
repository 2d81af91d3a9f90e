"""repositoryCfg.yaml update (14.0+ SafeLockedFileForWrite): read under
flock(LOCK_SH); if unchanged stop. Else open('a') (O_APPEND|O_CREAT) +
flock(LOCK_EX), a second fd open('r') reads the current cfg, a third fd
open('w') (O_TRUNC) writes yaml.dump; closed w, r, lock. A shorter cfg
replaces a longer one (the truncation is shared by all fds). A reader under
flock(LOCK_SH) in another process blocks until the writer closes and then
sees the new cfg. Phase "noop": the unchanged paths only (the Go side checks
that Swift's object was not rewritten)."""

import fcntl
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402


def cfg(n, parents):
    import fractions
    return bl.RepositoryCfg(None, fractions.Fraction, {"calibRoot": None, "n": n}, parents, None)


LONG = ["../input/with/a/rather/long/relative/path/%d" % i for i in range(8)]
SHORT = ["../input"]


def check_file(run, path, want):
    with bl.LockedRead(path) as f:
        text = f.read()
    run.eq(text, bl.cfg_dump(want), "file text of " + run.rel(path))
    run.eq(bl.read_cfg(path), want, "cfg read back")
    run.mode_is(path, 0o644)
    run.listdir_is(os.path.dirname(path), ["repositoryCfg.yaml"])


def blocked_reader(run, path, new):
    """A reader process blocks on flock(SH) while we hold LOCK_EX, then sees
    the new content. The child is forked before the lock is taken (a child
    forked while holding an flock would share the lock)."""
    r1, w1 = os.pipe()  # parent -> child: "locked"
    r2, w2 = os.pipe()  # child -> parent: result
    pid = os.fork()
    if pid == 0:
        os.close(w1)
        os.close(r2)
        try:
            os.read(r1, 1)
            f = open(path, "r")
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                nb = "got"
            except BlockingIOError:
                nb = "busy"
            t0 = time.monotonic()
            fcntl.flock(f, fcntl.LOCK_SH)
            waited = time.monotonic() - t0
            text = f.read()
            f.close()
            os.write(w2, ("%s %.3f\n" % (nb, waited)).encode() + text.encode())
            os._exit(0)
        except BaseException as e:
            os.write(w2, ("error %r\n" % e).encode())
            os._exit(1)
    os.close(r1)
    os.close(w2)
    hold = 0.6
    with bl.LockedWrite(path) as lw:
        os.write(w1, b"x")
        time.sleep(hold)
        old = bl.cfg_load(lw.read())
        run.check(old != new, "the cfg changes")
        lw.write(bl.cfg_dump(new))
    os.close(w1)
    out = b""
    while True:
        b = os.read(r2, 65536)
        if not b:
            break
        out += b
    os.close(r2)
    _, st = os.waitpid(pid, 0)
    head, _, text = out.decode().partition("\n")
    run.eq(os.waitstatus_to_exitcode(st), 0, "reader exit (%s)" % head)
    nb, waited = head.split()
    run.eq(nb, "busy", "LOCK_SH|LOCK_NB while the writer holds LOCK_EX")
    run.check(float(waited) >= hold * 0.5, "reader blocked until the writer closed", waited)
    run.eq(text, bl.cfg_dump(new), "what the blocked reader read")
    run.info["reader_waited"] = float(waited)


def noop(run, path, want):
    st = os.stat(path)
    run.eq(bl.write_cfg(path, want), False, "write of an unchanged cfg")
    # The LOCK_EX path without a write: open('a') + open('r'), nothing written.
    with bl.LockedWrite(path) as lw:
        run.eq(bl.cfg_load(lw.read()), want, "read under LOCK_EX")
    st2 = os.stat(path)
    run.eq((st2.st_ino, st2.st_size, st2.st_mtime_ns), (st.st_ino, st.st_size, st.st_mtime_ns),
           "stat after unchanged writes")
    check_file(run, path, want)


def go(run):
    os.umask(0o022)
    path = os.path.join(run.base, "repositoryCfg.yaml")
    if run.phase == "live":
        run.check(not os.path.exists(path), "no cfg yet")
        run.eq(bl.write_cfg(path, cfg(1, LONG)), True, "first write")
        check_file(run, path, cfg(1, LONG))
        run.eq(bl.write_cfg(path, cfg(1, LONG)), False, "unchanged write")
        run.eq(bl.write_cfg(path, cfg(2, SHORT)), True, "shorter cfg")
        check_file(run, path, cfg(2, SHORT))
        blocked_reader(run, path, cfg(3, LONG))
        check_file(run, path, cfg(3, LONG))
        run.save({"n": 3})
    elif run.phase == "noop":
        noop(run, path, cfg(run.load()["n"], LONG))
    else:
        n = run.load()["n"]
        check_file(run, path, cfg(n, LONG))
        noop(run, path, cfg(n, LONG))
        run.eq(bl.write_cfg(path, cfg(n + 1, SHORT)), True, "shorter cfg over the object from Swift")
        check_file(run, path, cfg(n + 1, SHORT))
        blocked_reader(run, path, cfg(n + 2, LONG))
        check_file(run, path, cfg(n + 2, LONG))
        run.save({"n": n + 2})


if __name__ == "__main__":
    bl.main("locked_cfg", go)
