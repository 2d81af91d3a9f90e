"""FileForWriteOnceCompareSame (13.0 putRepositoryCfg): write a temp, then
symlink(temp, final) as an atomic create-if-absent, rename(temp, final)
over that fresh symlink, chmod. On EEXIST: filecmp.cmp(temp, final,
shallow=False), remove the temp, fail if different. The directory then
holds exactly one entry. Also races of forked writers: exactly one creates.
Remount phase: the EEXIST paths against a final that exists only in Swift."""

import filecmp
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402

RACERS = 16


def cfg_text(tag):
    return "!RepositoryCfg_v1\nmapper: !!python/name:fractions.Fraction ''\nparents: []\nroot: null\ntag: %s\n" % tag


def put(final, text, why=None):
    w = bl.WriteOnceCompareSame(final)
    try:
        with w as f:
            f.write(text)
    except RuntimeError:
        if why is not None:
            why.append(w.detail)
        return "different"
    except OSError:
        # A racer that failed removes its temp, so that its failure is
        # reported once and not again by the directory checks; unless final
        # is the symlink to it (a winner).
        tmp = getattr(getattr(w, "tmp", None), "name", None)
        if tmp and os.path.lexists(tmp) and not (os.path.islink(final) and os.readlink(final) == tmp):
            os.remove(tmp)
        raise
    return w.outcome


def check_single(run, final, text):
    run.listdir_is(os.path.dirname(final), [os.path.basename(final)])
    run.check(os.path.isfile(final) and not os.path.islink(final), "final is a regular file, not the symlink", final)
    run.mode_is(final, 0o644)
    with open(final) as f:
        run.eq(f.read(), text, "content of " + run.rel(final))


def race(run, final, same):
    """RACERS forked processes write final at once (released together by
    closing a pipe). Returns the outcomes and the winner's text."""
    r, w = os.pipe()
    pids = []
    for i in range(RACERS):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)  # EOF when the parent closes its end
            try:
                why = []
                out = put(final, cfg_text("race" if same else "racer%d" % i), why)
                if same and out == "different":
                    sys.stderr.write("racer %d: filecmp said different: %s\n" % (i, why[0]))
                os._exit({"created": 10, "same": 11, "different": 12}[out])
            except BaseException as e:
                sys.stderr.write("racer %d: %r\n" % (i, e))
                os._exit(1)
        pids.append(pid)
    os.close(r)
    os.close(w)
    codes = []
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        codes.append(os.waitstatus_to_exitcode(st))
    run.check(all(c in (10, 11, 12) for c in codes), "every racer finished", codes)
    run.eq(codes.count(10), 1, "racers that created %s (outcomes %s)" % (run.rel(final), sorted(codes)))
    if same:
        run.eq(codes.count(11), RACERS - 1, "racers that found the same content")
    else:
        run.eq(codes.count(12), RACERS - 1, "racers that found different content")
    with open(final) as f:
        text = f.read()
    if not same:
        run.check(text.startswith(cfg_text("racer")[:-1]), "content is one racer's", text)
    check_single(run, final, text if not same else cfg_text("race"))
    return text


def slow_losers(run, final, text):
    """Losers that take their time: each writes its temp, then reaches
    symlink() (EEXIST), filecmp and os.remove(temp) a little later, swept
    across the mount's write-back delay so that some removals land while
    the temp's upload is in flight. The removed temps must not come back
    (the Go side lists Swift after a sync)."""
    import time
    if not os.path.exists(final):
        run.eq(put(final, text), "created", "first write of " + run.rel(final))
    delay = bl.write_back_delay()
    for i in range(12):
        t = bl.new_temp(final)
        t.write(text)
        t.close()
        time.sleep(max(0.0, delay - 0.02) + i * 0.015)
        run.raises(FileExistsError, None, lambda: os.symlink(t.name, final), "symlink over the existing final")
        run.check(filecmp.cmp(t.name, final, shallow=False), "filecmp of a slow loser", t.name)
        os.remove(t.name)
        run.check(not os.path.lexists(t.name), "removed temp gone", t.name)
    check_single(run, final, text)


def go(run):
    os.umask(0o022)
    final = os.path.join(run.base, "single", "repositoryCfg.yaml")
    d = lambda name: os.path.join(run.base, name, "repositoryCfg.yaml")  # noqa: E731
    if run.phase == "live":
        def single():
            run.eq(put(final, cfg_text("first")), "created", "first write")
            check_single(run, final, cfg_text("first"))
            run.eq(put(final, cfg_text("first")), "same", "second write, same content (EEXIST, filecmp)")
            check_single(run, final, cfg_text("first"))
            run.eq(put(final, cfg_text("other")), "different", "write of different content")
            check_single(run, final, cfg_text("first"))
        run.part("single", single)
        run.part("race-same", race, run, d("race-same"), True)
        winner = run.part("race-diff", race, run, d("race-diff"), False)
        run.part("slow-losers", slow_losers, run, d("slow-losers"), cfg_text("slow"))
        run.save({"winner": winner})
    else:
        st = run.load()

        def persisted():
            check_single(run, final, cfg_text("first"))
            check_single(run, d("race-same"), cfg_text("race"))
            if st["winner"] is not None:
                check_single(run, d("race-diff"), st["winner"])
            run.eq(put(final, cfg_text("first")), "same", "same content against the object in Swift")
            run.eq(put(final, cfg_text("other")), "different", "different content against the object in Swift")
            check_single(run, final, cfg_text("first"))

        def fresh():
            run.eq(put(d("after-remount"), cfg_text("fresh")), "created", "new final after remount")
            check_single(run, d("after-remount"), cfg_text("fresh"))
        run.part("persisted", persisted)
        run.part("fresh", fresh)
        run.part("race-remount", race, run, d("race-remount"), False)
        run.part("slow-losers", slow_losers, run, d("slow-losers"), cfg_text("slow"))


if __name__ == "__main__":
    bl.main("write_once", go)
