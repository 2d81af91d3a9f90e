"""Shared helpers of the Butler idiom scripts (test/integration/butler).

Every script is run as

    /usr/bin/python3 <idiom>.py MOUNTROOT PHASE STATEDIR [extra args]

PHASE is "live" (the first mount: perform the idiom, check it) or "remount"
(a fresh mount with an empty cache on the same container: check what the
live phase left, then perform the idiom again on data that now exists only
in Swift). STATEDIR is a local directory (not on the mount) where a live
phase keeps what its remount phase must know.

A script prints one JSON object on its last stdout line and exits 0, or
prints the failure to stderr (and a JSON object with "ok": false) and exits
1. The idioms re-implement, in our own code, the filesystem behaviour of the
legacy LSST Butler described in butler-posix-contract.md section 2; no LSST
code is copied here.
"""

import errno
import fcntl
import filecmp
import hashlib
import json
import os
import sys
import tempfile
import time
import traceback


class Failure(Exception):
    pass


class NoState(Exception):
    """The live phase left no state for this remount phase."""


class Run:
    """One run of one idiom script: arguments, checks, state, result."""

    def __init__(self, idiom):
        if len(sys.argv) < 4:
            sys.stderr.write("usage: %s MOUNTROOT live|remount STATEDIR [args]\n" % sys.argv[0])
            sys.exit(2)
        self.idiom = idiom
        self.root = os.path.abspath(sys.argv[1])
        self.phase = sys.argv[2]
        if self.phase not in ("live", "remount", "noop"):
            sys.stderr.write("phase must be live, remount or noop\n")
            sys.exit(2)
        self.statedir = sys.argv[3]
        self.args = sys.argv[4:]
        self.checks = 0
        self.info = {}
        self.failures = []
        self.repo = os.path.join(self.root, "repo")
        self.base = os.path.join(self.root, idiom)
        self.started = time.time()

    # --- checks -----------------------------------------------------------
    def check(self, cond, what, *detail):
        if not cond:
            msg = what
            if detail:
                msg += ": " + " ".join(repr(d) for d in detail)
            raise Failure(msg)
        self.checks += 1

    def eq(self, got, want, what):
        if got != want:
            raise Failure("%s: got %r, want %r" % (what, got, want))
        self.checks += 1

    def mode_is(self, path, want, what=None):
        got = os.lstat(path).st_mode & 0o7777
        self.eq(oct(got), oct(want), what or ("mode of " + self.rel(path)))

    def raises(self, exc_type, err_no, fn, what):
        try:
            fn()
        except exc_type as e:
            if err_no is not None and getattr(e, "errno", None) != err_no:
                raise Failure("%s: got errno %s (%s), want %s" % (what, getattr(e, "errno", None), e, errno.errorcode[err_no]))
            self.checks += 1
            return e
        raise Failure("%s: no %s raised" % (what, exc_type.__name__))

    def listdir_is(self, path, want, what=None):
        self.eq(sorted(os.listdir(path)), sorted(want), what or ("entries of " + self.rel(path)))

    def skip_check(self, reason):
        """Records a check left out (the Go side reports it with t.Skip)."""
        self.info.setdefault("skipped", []).append(reason)

    def rel(self, path):
        return os.path.relpath(path, self.root)

    # --- state between phases ---------------------------------------------
    def state_path(self):
        return os.path.join(self.statedir, self.idiom + ".json")

    def save(self, state):
        with open(self.state_path(), "w") as f:
            json.dump(state, f)

    def load(self):
        if not os.path.exists(self.state_path()):
            raise NoState("the live phase of %s left no state (it failed before saving it)" % self.idiom)
        with open(self.state_path()) as f:
            return json.load(f)

    def part(self, name, fn, *args):
        """Runs one part of an idiom; a failure is recorded (and reported
        at the end) without stopping the other parts. A part listed in
        KNOWN_BUGS still runs; its failure is reported as left out, with
        the bug, so that CI stays meaningful for the rest."""
        try:
            return fn(*args)
        except Exception as e:
            bug = KNOWN_BUGS.get("%s:%s" % (self.idiom, name))
            if bug:
                sys.stderr.write("%s (%s phase), part %s failed (known bug: %s): %s\n" % (
                    self.idiom, self.phase, name, bug, e))
                self.skip_check("part %s: known bug: %s (%s)" % (name, bug, e))
                return None
            sys.stderr.write("%s (%s phase), part %s FAILED: %s\n%s\n" % (
                self.idiom, self.phase, name, e, traceback.format_exc()))
            self.failures.append("%s: %s" % (name, e))
            return None


# Parts that fail because of open swiftfs bugs (docs/SEMANTICS.md, "Known
# gaps"), as "idiom:part": reason. They still run; a failure is reported as
# "left out: known bug".
# None at present.
KNOWN_BUGS = {}


def main(idiom, fn):
    """Run fn(run) and report as described in the module doc."""
    run = Run(idiom)
    try:
        fn(run)
        if run.failures:
            raise Failure("%d part(s) failed: %s" % (len(run.failures), " | ".join(run.failures)))
    except NoState as e:
        run.skip_check(str(e))
    except Exception as e:  # report every failure the same way
        tb = traceback.format_exc()
        sys.stderr.write("%s (%s phase) FAILED: %s\n%s" % (idiom, run.phase, e, tb))
        print(json.dumps({"idiom": idiom, "phase": run.phase, "ok": False, "error": str(e)}))
        sys.stdout.flush()
        os._exit(1)
    res = {"idiom": idiom, "phase": run.phase, "ok": True, "checks": run.checks,
           "seconds": round(time.time() - run.started, 3)}
    res.update(run.info)
    print(json.dumps(res, sort_keys=True))
    sys.stdout.flush()


# --- the Butler's idioms (our own re-implementation) ----------------------

def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 16), b""):
            h.update(b)
    return h.hexdigest()


def backend():
    """The Swift behind the mount: "real" or "swifttest" (the Go test passes it)."""
    return os.environ.get("SWIFTFS_TEST_BACKEND") or "real"


def write_back_delay():
    """The mount's --write-back-delay in seconds (the Go test passes it)."""
    return float(os.environ.get("SWIFTFS_TEST_WRITE_BACK_DELAY", "0.2"))


def minimal_fits(**cards):
    """A valid FITS file with an empty primary HDU and the given cards."""
    def card(k, v):
        if isinstance(v, bool):
            v = "%20s" % ("T" if v else "F")
        elif isinstance(v, int):
            v = "%20d" % v
        else:
            v = ("'%-8s'" % v).ljust(20)
        return ("%-8s= %s" % (k, v)).ljust(80)
    hdr = card("SIMPLE", True) + card("BITPIX", 8) + card("NAXIS", 0)
    for k, v in cards.items():
        hdr += card(k, v)
    hdr += "END".ljust(80)
    return (hdr + " " * (-len(hdr) % 2880)).encode("ascii")


def md5_bytes(b):
    return hashlib.md5(b).hexdigest()


def safe_makedir(d):
    """makedirs tolerating EEXIST (a directory made concurrently)."""
    if d and not os.path.exists(d):
        try:
            os.makedirs(d)
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise


def set_file_mode(path):
    """chmod to what a plain open() would have given: ~umask & 0666."""
    umask = os.umask(0o077)
    os.umask(umask)
    os.chmod(path, (~umask) & 0o666)


def new_temp(final, mode="w"):
    """NamedTemporaryFile(dir=<final's dir>, prefix=<final's name>, delete=False):
    O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, name <final><8 chars>."""
    outdir, outname = os.path.split(final)
    safe_makedir(outdir)
    return tempfile.NamedTemporaryFile(mode=mode, dir=outdir, prefix=outname, delete=False)


def safe_filename(final, writer, run=None):
    """The SafeFilename idiom: temp in the target dir, closed, reopened by
    name by the writer, renamed over final, chmod(~umask & 0666).
    Returns the temp name."""
    t = new_temp(final)
    tmp = t.name
    t.close()
    if run is not None:
        run.mode_is(tmp, 0o600, "mode of the fresh temp file " + run.rel(tmp))
        run.eq(len(os.path.basename(tmp)) - len(os.path.basename(final)), 8, "temp name suffix length")
    writer(tmp)
    os.rename(tmp, final)
    set_file_mode(final)
    if run is not None:
        run.check(not os.path.lexists(tmp), "temp name gone after rename", tmp)
    return tmp


class WriteOnceCompareSame:
    """FileForWriteOnceCompareSame: write a temp; symlink(temp, final) is an
    atomic create-if-absent; on success rename(temp, final) over the fresh
    symlink and chmod; on EEXIST compare contents and remove the temp.
    .outcome is "created", "same" or raises RuntimeError when different."""

    def __init__(self, final):
        self.final = final
        self.outcome = None
        self.detail = ""

    def __enter__(self):
        self.tmp = new_temp(self.final)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        self.tmp.close()
        if exc_type is not None:
            os.remove(self.tmp.name)
            return False
        try:
            os.symlink(self.tmp.name, self.final)
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise
            same = filecmp.cmp(self.tmp.name, self.final, shallow=False)
            if not same:
                self.detail = _describe_pair(self.tmp.name, self.final)
            os.remove(self.tmp.name)
            if not same:
                self.outcome = "different"
                raise RuntimeError("written file %s differs from the existing one" % self.final)
            self.outcome = "same"
            return False
        os.rename(self.tmp.name, self.final)
        set_file_mode(self.final)
        self.outcome = "created"
        return False


def _describe_pair(tmp, final):
    """What a loser saw when filecmp said different (for the report)."""
    out = []
    for p in (tmp, final):
        try:
            st = os.lstat(p)
            d = "%s: lstat mode %o size %d" % (os.path.basename(p), st.st_mode, st.st_size)
            if os.path.islink(p):
                d += " -> %r" % os.readlink(p)
            with open(p, "rb") as f:
                d += ", read %d bytes" % len(f.read())
        except OSError as e:
            d = "%s: %s" % (os.path.basename(p), e)
        out.append(d)
    return "; ".join(out)


class LockedRead:
    """open('r') + flock(LOCK_SH), released by close."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.f = open(self.name, "r")
        fcntl.flock(self.f, fcntl.LOCK_SH)
        return self.f

    def __exit__(self, *a):
        self.f.close()
        return False


class LockedWrite:
    """SafeLockedFileForWrite: open('a') (creates) + flock(LOCK_EX); a second
    fd open('r') reads the current content; a third fd open('w') (O_TRUNC)
    is opened only when writing; closed in the order w, r, lock fd."""

    def __init__(self, name):
        self.name = name
        self._w = None

    def __enter__(self):
        safe_makedir(os.path.dirname(self.name))
        self._lock = open(self.name, "a")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._r = open(self.name, "r")
        return self

    def read(self):
        self._r.seek(0)
        return self._r.read()

    def write(self, data):
        if self._w is None:
            self._w = open(self.name, "w")
        self._w.write(data)

    def __exit__(self, *a):
        if self._w is not None:
            self._w.close()
        self._r.close()
        self._lock.close()
        return False


# --- repositoryCfg.yaml ----------------------------------------------------

def _yaml():
    import yaml
    return yaml


def cfg_class():
    yaml = _yaml()

    class RepositoryCfg(yaml.YAMLObject):
        """Stands for the Butler's RepositoryCfg: a tagged YAML object whose
        mapper is a class reference (!!python/name:), so that loading needs
        yaml's unsafe loader, as the Butler's does."""
        yaml_tag = "!RepositoryCfg_v1"
        yaml_loader = [yaml.UnsafeLoader, yaml.Loader] + ([yaml.CUnsafeLoader] if hasattr(yaml, "CUnsafeLoader") else [])

        def __init__(self, root, mapper, mapperArgs, parents, policy):
            self.root, self.mapper, self.mapperArgs = root, mapper, mapperArgs
            self.parents, self.policy = parents, policy

        def __eq__(self, other):
            return isinstance(other, RepositoryCfg) and self.__dict__ == other.__dict__

    if hasattr(yaml, "CDumper"):
        yaml.CDumper.add_representer(RepositoryCfg, RepositoryCfg.to_yaml)
    return RepositoryCfg


_CFG = None


def _cfg_cls():
    global _CFG
    if _CFG is None:
        _CFG = cfg_class()
    return _CFG


def RepositoryCfg(*a):
    return _cfg_cls()(*a)


def cfg_dump(cfg):
    yaml = _yaml()
    return yaml.dump(cfg, Dumper=getattr(yaml, "CDumper", yaml.Dumper))


def cfg_load(text):
    _cfg_cls()
    yaml = _yaml()
    return yaml.load(text, Loader=getattr(yaml, "CUnsafeLoader", yaml.UnsafeLoader))


def read_cfg(path):
    """repositoryCfg read: exists, open('r') + flock(SH), yaml.load."""
    if not os.path.exists(path):
        return None
    with LockedRead(path) as f:
        return cfg_load(f)


def write_cfg(path, cfg):
    """repositoryCfg write: read under LOCK_SH, stop if unchanged; else the
    SafeLockedFileForWrite rewrite (stop there too if unchanged).
    Returns True when it wrote."""
    if read_cfg(path) == cfg:
        return False
    with LockedWrite(path) as f:
        text = f.read()
        if text and cfg_load(text) == cfg:
            return False
        f.write(cfg_dump(cfg))
    return True
