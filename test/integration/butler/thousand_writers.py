"""TestOneThousandWriters: min(1000, 0.8 * RLIMIT_NOFILE) forked processes,
released together, each update one repositoryCfg.yaml under flock:

 * counter.yaml: a read-modify-write under SafeLockedFileForWrite
   (LOCK_EX, read on a second fd, O_TRUNC write on a third) incrementing a
   counter: the final count proves that no update was lost, i.e. that the
   lock excluded and every O_TRUNC+write was seen by the next reader;
 * same/repositoryCfg.yaml: the Butler's own case, every process puts the
   same cfg (read under LOCK_SH, stop if unchanged, else the LOCK_EX path):
   exactly one process writes.

Optional argument: the number of writers (default the cap above)."""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402


def the_cfg():
    import fractions
    return bl.RepositoryCfg(None, fractions.Fraction, {"calibRoot": None}, ["../input"], None)


def writer(counter, same):
    with bl.LockedWrite(counter) as lw:
        text = lw.read()
        if text:
            cfg = bl.cfg_load(text)
        else:
            cfg = the_cfg()
            cfg.mapperArgs = {"count": 0}
        cfg.mapperArgs["count"] += 1
        lw.write(bl.cfg_dump(cfg))
    if bl.read_cfg(same) == the_cfg():
        return False
    with bl.LockedWrite(same) as lw:
        text = lw.read()
        if text and bl.cfg_load(text) == the_cfg():
            return False
        sys.stderr.write("writer pid %d writes the cfg: under LOCK_EX it read %d bytes (fstat size %d) at %.3f\n"
                         % (os.getpid(), len(text), os.fstat(lw._r.fileno()).st_size, time.time()))
        lw.write(bl.cfg_dump(the_cfg()))
    return True


def go(run):
    os.umask(0o022)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = min(1000, int(0.8 * soft))
    if run.phase == "remount":
        # The remount phase proves the cfg came back from Swift and that
        # the lock still serialises updates of a file first downloaded;
        # 200 writers do that at a fifth of the cost.
        n = min(n, 200)
    if run.args:
        n = min(n, int(run.args[0]))
    run.info["writers"] = n
    counter = os.path.join(run.base, "counter", "repositoryCfg.yaml")
    same = os.path.join(run.base, "same", "repositoryCfg.yaml")
    bl.safe_makedir(os.path.dirname(counter))
    bl.safe_makedir(os.path.dirname(same))
    before = 0
    if run.phase == "remount":
        before = run.load()["count"]
        run.eq(bl.read_cfg(counter).mapperArgs["count"], before, "count from Swift")
        run.eq(bl.read_cfg(same), the_cfg(), "same cfg from Swift")
    # yaml and the cfg class are loaded before forking: children start at once
    bl.cfg_load(bl.cfg_dump(the_cfg()))
    r, w = os.pipe()
    pids = []
    t0 = time.monotonic()
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            code = 1
            try:
                os.read(r, 1)
                code = 10 if writer(counter, same) else 0
            except BaseException as e:
                sys.stderr.write("writer %d: %r\n" % (i, e))
            finally:
                os._exit(code)
        pids.append(pid)
    forked = time.monotonic() - t0
    os.close(r)
    os.close(w)  # go
    codes = []
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        codes.append(os.waitstatus_to_exitcode(st))
    run.info["fork_seconds"] = round(forked, 2)
    run.info["run_seconds"] = round(time.monotonic() - t0 - forked, 2)
    failed = len([c for c in codes if c not in (0, 10)])
    wrote = codes.count(10)
    os.stat(counter)  # the real error, if any (exists() would hide it)
    got = bl.read_cfg(counter).mapperArgs["count"]
    want_wrote = 0 if run.phase == "remount" else 1
    run.info.update(failed=failed, wrote_same=wrote)
    run.save({"count": got})
    run.eq((failed, wrote, got), (0, want_wrote, before + n),
           "(writers that failed, writers that wrote the unchanged cfg, counter after %d locked "
           "read-modify-writes starting at %d)" % (n, before))
    run.eq(bl.read_cfg(same), the_cfg(), "same cfg")
    for p in (counter, same):
        run.listdir_is(os.path.dirname(p), ["repositoryCfg.yaml"])
        run.mode_is(p, 0o644)
    run.info["count"] = got


if __name__ == "__main__":
    bl.main("thousand_writers", go)
