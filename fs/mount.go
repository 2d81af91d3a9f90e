package fs

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// MountOptions are the kernel-facing settings of a mount.
type MountOptions struct {
	AllowOther bool
	FsName     string // the source shown in /proc/mounts ("container:prefix")
	Debug      bool
	Observer   OpObserver // told about every request answered (observe.go); nil: none
	NoExec     bool       // the mount refuses execve of its files (mount option noexec)
}

// Mount mounts f at dir and serves it until the returned server is
// unmounted. Settings measured to matter (docs/DESIGN.md): 1 MiB requests,
// no xattrs (ENOSYS at once, else `ls -l` is 10× slower), kernel-local
// locks (flock and fcntl locks work between processes of this host).
func Mount(dir string, f *FS, mo MountOptions) (*fuse.Server, error) {
	ttl := f.kernelTTL()
	neg := ttl
	opts := &gofs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:    mo.AllowOther,
			FsName:        mo.FsName,
			Name:          "swiftfs",
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
			DisableXAttrs: true,
			Debug:         mo.Debug,
			DirectMount:   true,
			// go-fuse would try to splice every read reply through a pipe,
			// which cannot hold 1 MiB plus a header at the default
			// pipe-max-size: each read failed over to a copy and logged.
			DisableSplice: true,
			Logger:        log.New(slogWriter{f}, "", 0),
			Options:       []string{"default_permissions"},
		},
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &neg,
		UID:             f.opts.UID,
		GID:             f.opts.GID,
		Logger:          log.New(slogWriter{f}, "", 0),
		RootStableAttr:  &gofs.StableAttr{Ino: 1, Mode: syscall.S_IFDIR},
	}
	if f.opts.ReadOnly {
		opts.MountOptions.Options = append(opts.MountOptions.Options, "ro")
	}
	if mo.NoExec {
		opts.MountOptions.Options = append(opts.MountOptions.Options, "noexec")
	}
	srv, err := mountObserved(dir, f.root, opts, mo.Observer)
	if err != nil {
		return nil, fmt.Errorf("mounting %s: %w", dir, err)
	}
	raiseReadAhead(dir, f)
	return srv, nil
}

type slogWriter struct{ f *FS }

func (w slogWriter) Write(p []byte) (int, error) {
	w.f.log.Debug(strings.TrimSpace(string(p)), "source", "go-fuse")
	return len(p), nil
}

// raiseReadAhead sets the mount's bdi read_ahead_kb to 1 MiB (root only),
// so that sequential reads use 1 MiB FUSE requests.
func raiseReadAhead(dir string, f *FS) {
	var st syscall.Stat_t
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Stat(dir, &st); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	major, minor := (st.Dev>>8)&0xfff, (st.Dev&0xff)|((st.Dev>>12)&0xfff00)
	p := filepath.Join("/sys/class/bdi", fmt.Sprintf("%d:%d", major, minor), "read_ahead_kb")
	if err := os.WriteFile(p, []byte("1024"), 0o644); err != nil {
		f.log.Debug("read_ahead_kb not raised", "path", p, "err", err)
	}
}
