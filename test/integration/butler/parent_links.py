"""_parent symlink chains (Butler v1 output repositories):

 * abs/out/_parent -> os.path.abspath(repo)  (CameraMapper: absolute target,
   then exists(dst) and realpath(dst) == realpath(src));
 * rel/a/_parent -> ../b, rel/b/_parent -> ../c, rel/c holds _mapper
   (obs_test policyInRepo data: relative chains); getMapperClass walks
   root/_parent/_parent/... until _mapper exists;
 * mixed/d/_parent -> <abs path of rel/a> (absolute into a relative chain);
 * dir/_parent is a real directory (daf_persistence test data), readlink
   fails with EINVAL and the Butler falls back to the directory;
 * dangling/_parent -> ../nowhere: exists False, lexists True, and a
   literal glob matches it;
 * outlink -> realout: an output repository that is itself a symlink to a
   directory (test_repositoryCfg testSymLinkInPath), written through.
readlink/realpath/glob (literal and wildcard) through all of them.
Remount phase: targets come back verbatim; the absolute ones embed the old
mount path (documented limitation) and are checked as text, then followed
with the old mount root replaced by the new one."""

import errno
import glob
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import butlerlib as bl  # noqa: E402
import make_repo  # noqa: E402


def mapper_root(root):
    """getMapperClass: follow root/_parent until a _mapper exists."""
    hops = 0
    while not os.path.exists(os.path.join(root, "_mapper")):
        parent = os.path.join(root, "_parent")
        if not os.path.exists(parent):
            return None, hops
        root = parent
        hops += 1
    return root, hops


def parent_symlink_path(root):
    """getParentSymlinkPath: readlink of root/_parent, or the directory."""
    p = os.path.join(root, "_parent")
    try:
        return os.readlink(p)
    except OSError as e:
        if e.errno == errno.EINVAL and os.path.isdir(p):
            return p
        if e.errno == errno.ENOENT:
            return None
        raise


def layout(run, old_root=None):
    """Returns {link relative path: target text} as created in the live
    phase (absolute targets under old_root, the live mount root)."""
    r = old_root or run.root
    b = os.path.join(r, run.idiom)
    return {
        "abs/out/_parent": os.path.join(r, "repo"),
        "rel/a/_parent": "../b",
        "rel/b/_parent": "../c",
        "mixed/d/_parent": os.path.join(b, "rel", "a"),
        "dangling/_parent": "../nowhere",
        "outlink": "realout",
    }


def create(run):
    b = run.base
    for d in ("abs/out", "rel/a", "rel/b", "rel/c/raw", "mixed/d", "dir/_parent", "dangling", "realout"):
        bl.safe_makedir(os.path.join(b, d))
    with open(os.path.join(b, "rel/c/_mapper"), "w") as f:
        f.write("lsst.obs.test.TestMapper\n")
    with open(os.path.join(b, "rel/c/raw/raw_v9_fz.fits"), "wb") as f:
        f.write(bl.minimal_fits(VISIT=9, FILTER="z"))
    with open(os.path.join(b, "dir/_parent/_mapper"), "w") as f:
        f.write("lsst.obs.test.TestMapper\n")
    # CameraMapper(root, outputRoot): absolute _parent, then checks.
    src = run.repo
    dst = os.path.join(b, "abs/out/_parent")
    os.symlink(os.path.abspath(src), dst)
    run.check(os.path.exists(dst), "exists(_parent) right after symlink")
    run.eq(os.path.realpath(dst), os.path.realpath(src), "realpath(dst) == realpath(src)")
    for link, target in layout(run).items():
        if link != "abs/out/_parent":
            os.symlink(target, os.path.join(b, link))
    # write a dataset through the symlinked output repository
    final = os.path.join(b, "outlink/calexp/calexp_v1.pickle")
    bl.safe_filename(final, lambda tmp: open(tmp, "wb").write(pickle.dumps({"v": 1})))


def verify(run, old_root=None):
    b = run.base
    want = layout(run, old_root)
    for link, target in want.items():
        p = os.path.join(b, link)
        run.eq(os.readlink(p), target, "readlink " + link)
        run.check(os.path.islink(p), "lstat is S_IFLNK", link)
        run.check(os.path.lexists(p), "lexists", link)
        run.eq(glob.glob(p), [p], "literal glob of " + link)
    # Absolute links: followed with the live root (live) or re-based (remount).
    abs_parent = os.path.join(b, "abs/out/_parent")
    if old_root is None:
        run.check(os.path.exists(abs_parent), "absolute _parent resolves")
        run.eq(os.path.realpath(abs_parent), os.path.realpath(run.repo), "realpath of absolute _parent")
        root, hops = mapper_root(os.path.join(b, "abs/out"))
        run.eq((root, hops), (abs_parent, 1), "getMapperClass through the absolute _parent")
        with open(os.path.join(root, "_mapper")) as f:
            run.eq(f.readline(), make_repo.MAPPER, "_mapper through the absolute _parent")
        got = sorted(glob.glob(os.path.join(b, "abs/out/_parent/raw/raw_v*_f*.fits.gz")))
        run.eq([os.path.basename(g) for g in got],
               ["raw_v%d_f%s.fits.gz" % vf for vf in make_repo.VISITS], "wildcard glob through the absolute _parent")
        # mixed: absolute link into the relative chain, three hops
        root, hops = mapper_root(os.path.join(b, "mixed/d"))
        run.eq(hops, 3, "hops from mixed/d")
        run.eq(os.path.realpath(root), os.path.realpath(os.path.join(b, "rel/c")), "realpath mixed/d/_parent^3")
    else:
        rebased = os.readlink(abs_parent).replace(old_root, run.root, 1)
        run.eq(os.path.realpath(rebased), os.path.realpath(run.repo), "absolute target re-based on the new mount")
        with open(os.path.join(rebased, "_mapper")) as f:
            run.eq(f.readline(), make_repo.MAPPER, "_mapper through the re-based target")
    # Relative chain: resolves wherever the container is mounted.
    root, hops = mapper_root(os.path.join(b, "rel/a"))
    run.eq((root, hops), (os.path.join(b, "rel/a/_parent/_parent"), 2), "getMapperClass over rel/a")
    run.eq(os.path.realpath(root), os.path.join(os.path.realpath(b), "rel/c"), "realpath of rel/a/_parent/_parent")
    run.eq(glob.glob(os.path.join(b, "rel/a/_parent/_parent/raw/*.fits")),
           [os.path.join(b, "rel/a/_parent/_parent/raw/raw_v9_fz.fits")], "wildcard glob through the chain")
    lit = os.path.join(b, "rel/a/_parent/_parent/_mapper")
    run.eq(glob.glob(lit), [lit], "literal glob through the chain")
    run.eq(sorted(glob.glob(os.path.join(b, "rel/*/_parent"))),
           [os.path.join(b, "rel/a/_parent"), os.path.join(b, "rel/b/_parent")], "wildcard glob of _parent links")
    # The cwd quirk: readlink text absolutised against the process cwd.
    cwd = os.getcwd()
    try:
        os.chdir(os.path.join(b, "rel/a"))
        first = os.path.abspath(parent_symlink_path("."))
        run.eq(first, os.path.join(os.path.realpath(b), "rel/b"), "relative _parent against cwd")
    finally:
        os.chdir(cwd)
    # A directory named _parent.
    run.eq(parent_symlink_path(os.path.join(b, "dir")), os.path.join(b, "dir/_parent"), "directory _parent")
    run.eq(mapper_root(os.path.join(b, "dir"))[1], 1, "hops through a directory _parent")
    # Dangling.
    d = os.path.join(b, "dangling/_parent")
    run.check(not os.path.exists(d), "dangling _parent counts as absent")
    run.eq(mapper_root(os.path.join(b, "dangling")), (None, 0), "getMapperClass with a dangling _parent")
    run.eq(os.path.realpath(d), os.path.join(os.path.realpath(b), "nowhere"), "realpath of the dangling link")
    # Output repository that is a symlink to a directory.
    run.eq(os.listdir(os.path.join(b, "outlink/calexp")), ["calexp_v1.pickle"], "written through outlink")
    run.eq(os.listdir(os.path.join(b, "realout/calexp")), ["calexp_v1.pickle"], "and lands in realout")
    with open(os.path.join(b, "outlink/calexp/calexp_v1.pickle"), "rb") as f:
        run.eq(pickle.load(f), {"v": 1}, "dataset read through outlink")
    run.mode_is(os.path.join(b, "realout/calexp/calexp_v1.pickle"), 0o644)


def go(run):
    os.umask(0o022)
    if run.phase == "live":
        create(run)
        verify(run)
        run.save({"old_root": run.root})
    else:
        verify(run, run.load()["old_root"])


if __name__ == "__main__":
    bl.main("parent_links", go)
