"""SafeFilename (every PosixStorage write): NamedTemporaryFile(dir=<target
dir>, prefix=<name>, delete=False) (0600, O_EXCL), closed, reopened by name
by the writer (pickle 'wb', config 'w'), rename(tmp, final) replacing any
existing final, chmod(final, ~umask & 0666). Three umasks give three modes.
Remount phase: modes and contents survived; rename over datasets that now
exist only in Swift."""

import errno
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402

# (relative path, umask, kind)
DATASETS = [
    ("calexp/v1/calexp_v1_fg.pickle", 0o022, "pickle"),
    ("config/processCcd.py", 0o002, "config"),
    ("boost/v1/src_v1.boost", 0o027, "binary"),
]


def content(kind, version):
    if kind == "pickle":
        return pickle.dumps({"visit": 1, "filter": "g", "version": version, "values": list(range(version * 10))},
                           protocol=2)
    if kind == "config":
        return ("import lsst.pipe.tasks.processCcd\nassert type(config)\nconfig.version = %d\n" % version).encode()
    return bytes((i * version) % 256 for i in range(4096 + version))


def write(run, rel, umask, kind, version, quiet=False):
    final = os.path.join(run.base, rel)
    old = os.umask(umask)
    try:
        def writer(tmp):
            if kind == "pickle":
                with open(tmp, "wb") as f:  # O_WRONLY|O_CREAT|O_TRUNC on the temp
                    pickle.dump(pickle.loads(content(kind, version)), f, protocol=2)
            elif kind == "config":
                with open(tmp, "w") as f:
                    f.write(content(kind, version).decode())
            else:
                with open(tmp, "wb") as f:
                    f.write(content(kind, version))
        bl.safe_filename(final, writer, None if quiet else run)
    finally:
        os.umask(old)
    if not quiet:
        verify(run, rel, umask, kind, version)


def verify(run, rel, umask, kind, version):
    final = os.path.join(run.base, rel)
    run.check(os.path.isfile(final) and not os.path.islink(final), "regular file", rel)
    run.mode_is(final, ~umask & 0o666)
    with open(final, "rb") as f:
        got = f.read()
    if kind == "pickle":
        run.eq(pickle.loads(got), pickle.loads(content(kind, version)), "unpickled " + rel)
    else:
        run.eq(got, content(kind, version), "content of " + rel)
    # exactly one entry: the dataset, no temp name left behind
    run.listdir_is(os.path.dirname(final), [os.path.basename(final)])
    st, fst = os.stat(final), None
    with open(final, "rb") as f:
        fst = os.fstat(f.fileno())
    run.eq((st.st_ino, st.st_size, st.st_nlink), (fst.st_ino, len(got), 1), "stat vs fstat of " + rel)


def republish_under_readers(run, rel, umask, kind, first, n):
    """Another process keeps opening and reading the dataset while it is
    republished n times (each a SafeFilename rename over the previous
    version, some while that version is still pending upload, some after),
    and for write-back delay + 1.5 s after the last one (through its
    upload). Every read must give one complete version: rename replaces
    the name atomically for local observers."""
    import time
    final = os.path.join(run.base, rel)
    if not os.path.exists(final):
        write(run, rel, umask, kind, first - 1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.set_blocking(r, False)
        stats = {"reads": 0, "bad": 0, "first_bad": ""}
        deadline = None
        while deadline is None or time.monotonic() < deadline:
            if deadline is None:
                try:
                    if os.read(r, 1) == b"":
                        deadline = time.monotonic() + bl.write_back_delay() + 1.5
                except BlockingIOError:
                    pass
            try:
                with open(final, "rb") as f:
                    data = f.read()
                stats["reads"] += 1
                try:
                    v = pickle.loads(data)["version"]
                    if data != content(kind, v):
                        raise ValueError("not version %d" % v)
                except Exception as e:
                    stats["bad"] += 1
                    stats["first_bad"] = stats["first_bad"] or "%d bytes (%s)" % (len(data), e)
            except OSError as e:
                k = errno.errorcode.get(e.errno, str(e.errno))
                stats[k] = stats.get(k, 0) + 1
            time.sleep(0.003)  # leave the 2 cores to the writer and the daemon
        sys.stdout.write("READER %r\n" % stats)
        sys.stdout.flush()
        os._exit(0 if set(stats) == {"reads", "bad", "first_bad"} and stats["bad"] == 0 else 1)
    os.close(r)
    for v in range(first, first + n):
        write(run, rel, umask, kind, v, quiet=True)
        time.sleep(0.04 * (v % 5))  # 0-160 ms: before, during and after uploads
    os.close(w)
    _, st = os.waitpid(pid, 0)
    run.eq(os.waitstatus_to_exitcode(st), 0, "reader during %d republications of %s (its errors by errno and "
           "wrong contents: see the READER line on stdout)" % (n, rel))
    verify(run, rel, umask, kind, first + n - 1)
    return first + n - 1


def go(run):
    rel0, umask0, kind0 = DATASETS[0]
    if run.phase == "live":
        def datasets():
            for rel, umask, kind in DATASETS:
                write(run, rel, umask, kind, 1)
            # Writing a dataset again replaces it (rename over an existing file).
            for rel, umask, kind in DATASETS:
                write(run, rel, umask, kind, 2)
        run.part("datasets", datasets)
        run.part("readers", republish_under_readers, run, "readers/" + rel0, umask0, kind0, 2, 25)
        run.save({"version": 2, "readers": 26})
    else:
        st = run.load()
        v = st["version"]

        def datasets():
            for rel, umask, kind in DATASETS:
                verify(run, rel, umask, kind, v)
            for rel, umask, kind in DATASETS:
                write(run, rel, umask, kind, v + 1)

        def readers():
            verify(run, "readers/" + rel0, umask0, kind0, st["readers"])
            republish_under_readers(run, "readers/" + rel0, umask0, kind0, st["readers"] + 1, 25)
        run.part("datasets", datasets)
        run.part("readers", readers)
        run.save({"version": v + 1, "readers": st["readers"] + 25})
    run.info["datasets"] = [os.path.join(run.idiom, d[0]) for d in DATASETS]


if __name__ == "__main__":
    bl.main("safe_filename", go)
