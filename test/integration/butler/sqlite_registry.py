"""SqliteRegistry reads: exists(registry.sqlite3), sqlite3.connect(path)
(default URI: opened O_RDWR|O_CREAT), conn.text_factory = str, only SELECT
DISTINCT queries (pread of pages, F_RDLCK/F_UNLCK per query, stat of
-journal and -wal). Also the getLocalFile idiom (open(path) kept open,
never read) and four concurrent reader processes. Nothing may be written:
the Go side checks that Swift's object is unchanged and that no -journal or
-wal object ever appears."""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402
import make_repo  # noqa: E402

VISITS = make_repo.REGISTRY_VISITS


def queries(conn):
    """(sql, params, expected rows) as SqliteRegistry.lookup would issue."""
    return [
        ("SELECT DISTINCT visit FROM raw WHERE filter=? ORDER BY visit", ("g",),
         [(v,) for v, f in VISITS if f == "g"]),
        ("SELECT DISTINCT filter FROM raw ORDER BY filter", (), sorted({(f,) for _, f in VISITS})),
        ("SELECT DISTINCT ccd FROM raw WHERE visit=? AND filter=? ORDER BY ccd", (2, "r"),
         [(c,) for c in make_repo.CCDS]),
        ("SELECT DISTINCT raw.visit, raw_visit.taiObs FROM raw, raw_visit WHERE raw.visit=raw_visit.visit "
         "AND raw.ccd=? ORDER BY raw.visit", (1,),
         [(v, "2016-01-0%dT00:00:00" % v) for v, _ in VISITS]),
        ("SELECT DISTINCT visit, filter, expTime FROM raw_visit WHERE visit IN (?, ?) ORDER BY visit", (1, 3),
         [(v, f, 15.0 * v) for v, f in VISITS if v in (1, 3)]),
    ]


def query_all(run, path, rounds, get_local_file=False):
    run.check(os.path.exists(path), "exists(registry)")
    # CameraMapper: getLocalFile opens the registry for its name, never
    # reads it and leaves it open; SqliteRegistry then connects.
    keep = open(path) if get_local_file else None
    try:
        conn = sqlite3.connect(path)
        conn.text_factory = str
        try:
            for _ in range(rounds):
                for sql, params, want in queries(conn):
                    got = conn.execute(sql, params).fetchall()
                    run.eq(got, want, sql)
        finally:
            conn.close()
    finally:
        if keep is not None:
            keep.close()


def readers(run, path, n, rounds):
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            try:
                query_all(run, path, rounds)
                os._exit(0)
            except BaseException as e:
                sys.stderr.write("reader %d: %s\n" % (i, e))
                os._exit(1)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    run.eq(codes, [0] * n, "concurrent reader exits")


def go(run):
    path = os.path.join(run.repo, "registry.sqlite3")
    before = os.stat(path)
    run.part("queries", query_all, run, path, 20)
    run.part("concurrent readers", readers, run, path, 4, 20)
    run.part("getLocalFile then connect", query_all, run, path, 5, True)
    after = os.stat(path)
    run.eq((after.st_size, after.st_ino, after.st_mtime_ns, after.st_nlink),
           (before.st_size, before.st_ino, before.st_mtime_ns, 1), "registry stat unchanged by queries")
    conn = sqlite3.connect(path)
    pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    run.eq(after.st_size, pages, "st_size == page_count * page_size")
    for side in ("-journal", "-wal", "-shm"):
        run.check(not os.path.lexists(path + side), "no side file", side)
    names = os.listdir(run.repo)
    run.check(not [n for n in names if n.startswith("registry.sqlite3") and n != "registry.sqlite3"],
              "no registry side files in the listing", names)
    run.info["registry_bytes"] = after.st_size


if __name__ == "__main__":
    bl.main("sqlite_registry", go)
