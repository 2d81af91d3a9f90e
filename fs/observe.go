package fs

import (
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// OpObserver is told about every request of the kernel that the file
// system answers (MountOptions.Observer): op is the request's name in lower
// case ("lookup", "read", "write", ...), latency the time to answer, errno
// the answer (0: success; ENOENT for a lookup of a missing name is an
// answer like any other). Requests go-fuse answers itself (INIT, xattrs,
// which are switched off) are not reported. Its method is called from many
// goroutines at once and must be quick.
type OpObserver interface {
	FUSEOp(op string, latency time.Duration, errno syscall.Errno)
}

// mountObserved is gofs.Mount with the raw file system wrapped in
// observedFS when obs is set: go-fuse has no hook that every request
// passes, but the raw file system below the node API is one place.
func mountObserved(dir string, root gofs.InodeEmbedder, opts *gofs.Options, obs OpObserver) (*fuse.Server, error) {
	if obs == nil {
		return gofs.Mount(dir, root, opts)
	}
	raw := &observedFS{next: gofs.NewNodeFS(root, opts), obs: obs}
	srv, err := fuse.NewServer(raw, dir, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, err
	}
	return srv, nil
}

// observedFS passes every request to next and reports it. It does not
// embed next: every method is written out, so that a method go-fuse adds to
// RawFileSystem fails the build here instead of going unobserved.
type observedFS struct {
	next fuse.RawFileSystem
	obs  OpObserver
}

var _ fuse.RawFileSystem = (*observedFS)(nil)

func (o *observedFS) done(op string, start time.Time, st *fuse.Status) {
	o.obs.FUSEOp(op, time.Since(start), syscall.Errno(*st))
}

func (o *observedFS) String() string      { return o.next.String() }
func (o *observedFS) SetDebug(debug bool) { o.next.SetDebug(debug) }
func (o *observedFS) Init(s *fuse.Server) { o.next.Init(s) }
func (o *observedFS) OnUnmount()          { o.next.OnUnmount() }

func (o *observedFS) Forget(nodeid, nlookup uint64) {
	start := time.Now()
	o.next.Forget(nodeid, nlookup)
	o.obs.FUSEOp("forget", time.Since(start), 0)
}

func (o *observedFS) Release(cancel <-chan struct{}, input *fuse.ReleaseIn) {
	start := time.Now()
	o.next.Release(cancel, input)
	o.obs.FUSEOp("release", time.Since(start), 0)
}

func (o *observedFS) ReleaseDir(input *fuse.ReleaseIn) {
	start := time.Now()
	o.next.ReleaseDir(input)
	o.obs.FUSEOp("releasedir", time.Since(start), 0)
}

func (o *observedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) (st fuse.Status) {
	start := time.Now()
	st = o.next.Lookup(cancel, header, name, out)
	seen := st
	if st == fuse.OK && out.NodeId == 0 {
		// A missing name answered as a negative entry the kernel may
		// cache: counted as the ENOENT it stands for (the kernel still
		// gets the entry).
		seen = fuse.ENOENT
	}
	o.done("lookup", start, &seen)
	return st
}

func (o *observedFS) GetAttr(cancel <-chan struct{}, input *fuse.GetAttrIn, out *fuse.AttrOut) (st fuse.Status) {
	defer o.done("getattr", time.Now(), &st)
	return o.next.GetAttr(cancel, input, out)
}

func (o *observedFS) SetAttr(cancel <-chan struct{}, input *fuse.SetAttrIn, out *fuse.AttrOut) (st fuse.Status) {
	defer o.done("setattr", time.Now(), &st)
	return o.next.SetAttr(cancel, input, out)
}

func (o *observedFS) Mknod(cancel <-chan struct{}, input *fuse.MknodIn, name string, out *fuse.EntryOut) (st fuse.Status) {
	defer o.done("mknod", time.Now(), &st)
	return o.next.Mknod(cancel, input, name, out)
}

func (o *observedFS) Mkdir(cancel <-chan struct{}, input *fuse.MkdirIn, name string, out *fuse.EntryOut) (st fuse.Status) {
	defer o.done("mkdir", time.Now(), &st)
	return o.next.Mkdir(cancel, input, name, out)
}

func (o *observedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) (st fuse.Status) {
	defer o.done("unlink", time.Now(), &st)
	return o.next.Unlink(cancel, header, name)
}

func (o *observedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) (st fuse.Status) {
	defer o.done("rmdir", time.Now(), &st)
	return o.next.Rmdir(cancel, header, name)
}

func (o *observedFS) Rename(cancel <-chan struct{}, input *fuse.RenameIn, oldName string, newName string) (st fuse.Status) {
	defer o.done("rename", time.Now(), &st)
	return o.next.Rename(cancel, input, oldName, newName)
}

func (o *observedFS) Link(cancel <-chan struct{}, input *fuse.LinkIn, filename string, out *fuse.EntryOut) (st fuse.Status) {
	defer o.done("link", time.Now(), &st)
	return o.next.Link(cancel, input, filename, out)
}

func (o *observedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, pointedTo string, linkName string, out *fuse.EntryOut) (st fuse.Status) {
	defer o.done("symlink", time.Now(), &st)
	return o.next.Symlink(cancel, header, pointedTo, linkName, out)
}

func (o *observedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) (out []byte, st fuse.Status) {
	defer o.done("readlink", time.Now(), &st)
	return o.next.Readlink(cancel, header)
}

func (o *observedFS) Access(cancel <-chan struct{}, input *fuse.AccessIn) (st fuse.Status) {
	defer o.done("access", time.Now(), &st)
	return o.next.Access(cancel, input)
}

func (o *observedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (sz uint32, st fuse.Status) {
	defer o.done("getxattr", time.Now(), &st)
	return o.next.GetXAttr(cancel, header, attr, dest)
}

func (o *observedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (sz uint32, st fuse.Status) {
	defer o.done("listxattr", time.Now(), &st)
	return o.next.ListXAttr(cancel, header, dest)
}

func (o *observedFS) SetXAttr(cancel <-chan struct{}, input *fuse.SetXAttrIn, attr string, data []byte) (st fuse.Status) {
	defer o.done("setxattr", time.Now(), &st)
	return o.next.SetXAttr(cancel, input, attr, data)
}

func (o *observedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) (st fuse.Status) {
	defer o.done("removexattr", time.Now(), &st)
	return o.next.RemoveXAttr(cancel, header, attr)
}

func (o *observedFS) Create(cancel <-chan struct{}, input *fuse.CreateIn, name string, out *fuse.CreateOut) (st fuse.Status) {
	defer o.done("create", time.Now(), &st)
	return o.next.Create(cancel, input, name, out)
}

func (o *observedFS) Tmpfile(cancel <-chan struct{}, input *fuse.CreateIn, out *fuse.CreateOut) (st fuse.Status) {
	defer o.done("tmpfile", time.Now(), &st)
	return o.next.Tmpfile(cancel, input, out)
}

func (o *observedFS) Open(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) (st fuse.Status) {
	defer o.done("open", time.Now(), &st)
	return o.next.Open(cancel, input, out)
}

func (o *observedFS) Read(cancel <-chan struct{}, input *fuse.ReadIn, buf []byte) (res fuse.ReadResult, st fuse.Status) {
	defer o.done("read", time.Now(), &st)
	return o.next.Read(cancel, input, buf)
}

func (o *observedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) (st fuse.Status) {
	defer o.done("lseek", time.Now(), &st)
	return o.next.Lseek(cancel, in, out)
}

func (o *observedFS) GetLk(cancel <-chan struct{}, input *fuse.LkIn, out *fuse.LkOut) (st fuse.Status) {
	defer o.done("getlk", time.Now(), &st)
	return o.next.GetLk(cancel, input, out)
}

func (o *observedFS) SetLk(cancel <-chan struct{}, input *fuse.LkIn) (st fuse.Status) {
	defer o.done("setlk", time.Now(), &st)
	return o.next.SetLk(cancel, input)
}

func (o *observedFS) SetLkw(cancel <-chan struct{}, input *fuse.LkIn) (st fuse.Status) {
	defer o.done("setlkw", time.Now(), &st)
	return o.next.SetLkw(cancel, input)
}

func (o *observedFS) Write(cancel <-chan struct{}, input *fuse.WriteIn, data []byte) (written uint32, st fuse.Status) {
	defer o.done("write", time.Now(), &st)
	return o.next.Write(cancel, input, data)
}

func (o *observedFS) Writev(cancel <-chan struct{}, input *fuse.WriteIn, data [][]byte) (written uint32, st fuse.Status) {
	defer o.done("write", time.Now(), &st)
	return o.next.Writev(cancel, input, data)
}

func (o *observedFS) CopyFileRange(cancel <-chan struct{}, input *fuse.CopyFileRangeIn) (written uint32, st fuse.Status) {
	defer o.done("copy_file_range", time.Now(), &st)
	return o.next.CopyFileRange(cancel, input)
}

func (o *observedFS) Ioctl(cancel <-chan struct{}, input *fuse.IoctlIn, inbuf []byte, output *fuse.IoctlOut, outbuf []byte) (st fuse.Status) {
	defer o.done("ioctl", time.Now(), &st)
	return o.next.Ioctl(cancel, input, inbuf, output, outbuf)
}

func (o *observedFS) Flush(cancel <-chan struct{}, input *fuse.FlushIn) (st fuse.Status) {
	defer o.done("flush", time.Now(), &st)
	return o.next.Flush(cancel, input)
}

func (o *observedFS) Fsync(cancel <-chan struct{}, input *fuse.FsyncIn) (st fuse.Status) {
	defer o.done("fsync", time.Now(), &st)
	return o.next.Fsync(cancel, input)
}

func (o *observedFS) Fallocate(cancel <-chan struct{}, input *fuse.FallocateIn) (st fuse.Status) {
	defer o.done("fallocate", time.Now(), &st)
	return o.next.Fallocate(cancel, input)
}

func (o *observedFS) OpenDir(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) (st fuse.Status) {
	defer o.done("opendir", time.Now(), &st)
	return o.next.OpenDir(cancel, input, out)
}

func (o *observedFS) ReadDir(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) (st fuse.Status) {
	defer o.done("readdir", time.Now(), &st)
	return o.next.ReadDir(cancel, input, out)
}

func (o *observedFS) ReadDirPlus(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) (st fuse.Status) {
	defer o.done("readdirplus", time.Now(), &st)
	return o.next.ReadDirPlus(cancel, input, out)
}

func (o *observedFS) FsyncDir(cancel <-chan struct{}, input *fuse.FsyncIn) (st fuse.Status) {
	defer o.done("fsyncdir", time.Now(), &st)
	return o.next.FsyncDir(cancel, input)
}

func (o *observedFS) StatFs(cancel <-chan struct{}, input *fuse.InHeader, out *fuse.StatfsOut) (st fuse.Status) {
	defer o.done("statfs", time.Now(), &st)
	return o.next.StatFs(cancel, input, out)
}

func (o *observedFS) Statx(cancel <-chan struct{}, input *fuse.StatxIn, out *fuse.StatxOut) (st fuse.Status) {
	defer o.done("statx", time.Now(), &st)
	return o.next.Statx(cancel, input, out)
}
