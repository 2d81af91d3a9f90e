package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/fs"
	"github.com/swiftfs/swiftfs/registrysync"
	"github.com/swiftfs/swiftfs/swiftclient"
)

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// cacheSubdir is the cache directory of one container and prefix under
// --cache-dir: stable across runs (crash recovery needs the same one), and
// never shared between containers.
func cacheSubdir(root, authURL, container, prefix string) string {
	h := sha256.Sum256([]byte(authURL + "\x00" + container + "\x00" + prefix))
	name := unsafeChars.ReplaceAllString(container, "_")
	if len(name) > 64 {
		name = name[:64]
	}
	return filepath.Join(root, name+"-"+hex.EncodeToString(h[:6]))
}

func cmdMount(args []string, stderr io.Writer) error {
	cfg := &config{}
	fset := flagSet(cfg)
	fset.SetOutput(stderr)
	fset.Usage = func() { printMountUsage(stderr) }
	if err := fset.Parse(reorderFlags(fset, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fset.NArg() != 2 {
		return usageError{"mount needs CONTAINER[:PREFIX] and MOUNTPOINT (see swiftfs mount --help)"}
	}
	container, prefix, err := parseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	mnt, err := filepath.Abs(fset.Arg(1))
	if err != nil {
		return err
	}
	if st, err := os.Stat(mnt); err != nil {
		return fmt.Errorf("mount point %s: %w", mnt, err)
	} else if !st.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", mnt)
	}
	if cfg.daemon {
		return daemonize(args, mnt, stderr)
	}
	if cfg.credsFile != "" {
		if err := useCredentialsFile(cfg.credsFile); err != nil {
			return err
		}
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	mx, err := startMetrics(cfg.metricsAddr, log)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	defer mx.Close()
	copts := swiftOptions(container, cfg.passwordFile, cfg.osCloud, log)
	copts.Observer = mx.swiftObserver()
	client, err := connectSwift(ctx, copts, log, "prefix", prefix)
	if err != nil {
		return err
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if cfg.uid >= 0 {
		uid = uint32(cfg.uid)
	}
	if cfg.gid >= 0 {
		gid = uint32(cfg.gid)
	}
	// The cache may finish uploads (of files recovered from a crash) before
	// the file system exists: fsysRef is set once it does.
	var fsysRef atomic.Pointer[fs.FS]
	validate := fitsValidator(cfg.fitsCheck, log)
	cdir := cacheSubdir(cfg.cacheDir, swiftclient.AuthURL(copts), container, prefix)
	if err := os.MkdirAll(cfg.cacheDir, 0o700); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	// A registry is not uploaded while its journal or WAL (local files of
	// the mount) says a transaction may be open.
	reg := registrySyncer(cfg, log, func(name string) bool {
		f := fsysRef.Load()
		if f == nil {
			return false
		}
		for _, suf := range []string{"-journal", "-wal"} {
			if r, size := f.SideFile(name + suf); r != nil && registrysync.SideFileBusy(name+suf, r, size) {
				return true
			}
		}
		return false
	})
	c, err := cache.New(cache.Options{
		Dir: cdir, MaxBytes: cfg.cacheSize, MinFree: cfg.cacheMinFree,
		WriteBackDelay: cfg.writeBackDelay, SyncWriteBack: cfg.writeBack == "sync",
		Uploaders: cfg.uploaders, SegmentSize: cfg.segmentSize, SLOThreshold: cfg.sloThreshold, LazyVerify: cfg.verifyLazy, Logger: log,
		Validate:      validate.upload,
		PrepareUpload: chainPrepare(reg.Prepare, fitsHDUIndex), CheckConflict: checkConflict(cfg, reg.Applies),
		OnUploaded: func(name string, info swiftclient.ObjectInfo) {
			if f := fsysRef.Load(); f != nil {
				f.OnUploaded(name, info)
			}
		},
	}, client)
	if err != nil {
		return err
	}
	mx.setCache(c)
	fsys, err := fs.New(fs.Options{LocalOnly: func(name string) bool { _, ok := reg.SideFileOf(name); return ok },
		Prefix: prefix, ReadOnly: cfg.readOnly, UID: uid, GID: gid,
		FileMode: cfg.fileMode, DirMode: cfg.dirMode, MetadataTTL: cfg.metadataTTL, ListPageSize: cfg.listPageSize, Passthrough: cfg.passthrough,
		PrefetchFiles: cfg.prefetchFiles, SyncClose: cfg.writeBack == "sync", Validate: validate.close, Logger: log,
		CrashAfterRenameCopies: testCrashAfterRenameCopies()}, client, c)
	if err != nil {
		c.Close(cfg.drainTimeout)
		return err
	}
	// Directory renames a crash interrupted are finished before anything
	// is served (fs/renamejournal.go).
	if err := fsys.FinishRenames(ctx); err != nil {
		c.Close(cfg.drainTimeout)
		return err
	}
	fsysRef.Store(fsys)
	// The source as given, CONTAINER[:PREFIX], is what /proc/mounts shows:
	// mount -a knows an /etc/fstab line as mounted only by the same source.
	srv, err := fs.Mount(mnt, fsys, fs.MountOptions{AllowOther: cfg.allowOther, NoExec: cfg.noExec,
		FsName: fset.Arg(0), Debug: cfg.debugFuse, Observer: mx.fuseObserver()})
	if err != nil {
		c.Close(cfg.drainTimeout)
		return err
	}
	// When Swift answers again after an outage the queue drains at once.
	swiftclient.HealthOf(client).OnReachable(c.RetryFailed)
	ctl, err := startControl(mnt, c, swiftclient.HealthOf(client), cfg.drainTimeout, log)
	if err != nil {
		log.Warn("control socket not started; swiftfs status/sync will not work", "err", err)
	}
	// Ready (for --daemon's parent, mount(8) and systemd) means answering.
	if err := waitAnswers(mnt, 30*time.Second); err != nil {
		unmount(srv, mnt, log)
		c.Close(cfg.drainTimeout)
		if ctl != nil {
			ctl.Close()
		}
		return err
	}
	log.Info("mounted", "container", container, "prefix", prefix, "mountpoint", mnt, "cache_dir", cdir,
		"write_back", cfg.writeBack, "read_only", cfg.readOnly, "passthrough", cfg.passthrough)
	signalReady()
	notify := startNotifier(c, cfg.drainTimeout, log)
	defer notify.close()

	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-ctx.Done():
		notify.stopping()
		log.Info("signal received: uploading pending files, then unmounting", "drain_timeout", cfg.drainTimeout)
		if err := c.Close(cfg.drainTimeout); err != nil {
			log.Error("not every file could be uploaded; they stay in the cache for the next mount", "err", err)
		}
		unmount(srv, mnt, log)
		<-done
	case <-done:
		notify.stopping()
		log.Info("unmounted; uploading pending files", "drain_timeout", cfg.drainTimeout)
		if err := c.Close(cfg.drainTimeout); err != nil {
			log.Error("not every file could be uploaded; they stay in the cache for the next mount", "err", err)
		}
	}
	if ctl != nil {
		ctl.Close()
	}
	log.Info("stopped")
	return nil
}

// parseTarget splits CONTAINER[:PREFIX] (mount, import, registry): the
// prefix without leading and trailing slashes, plus one trailing slash when
// not empty.
func parseTarget(arg string) (container, prefix string, err error) {
	container, prefix, _ = strings.Cut(arg, ":")
	if container == "" || strings.Contains(container, "/") {
		return "", "", usageError{fmt.Sprintf("invalid container name %q", container)}
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return container, prefix, nil
}

// swiftOptions are the client options of `mount` and `registry`: the
// credentials come from the environment, or from clouds.yaml when osCloud
// (--os-cloud) or OS_CLOUD names a cloud.
func swiftOptions(container, passwordFile, osCloud string, log *slog.Logger) swiftclient.Options {
	return swiftclient.Options{Container: container, PasswordFile: passwordFile, Cloud: osCloud, Logger: log, UserAgent: "swiftfs/" + version}
}

// testCrashAfterRenameCopies reads SWIFTFS_TEST_CRASH_AFTER_RENAME_COPIES,
// a test-only hook (docs/DEVELOPMENT.md): the daemon kills itself with
// SIGKILL once a directory rename moved that many objects.
func testCrashAfterRenameCopies() int {
	n, _ := strconv.Atoi(os.Getenv("SWIFTFS_TEST_CRASH_AFTER_RENAME_COPIES"))
	return n
}

// connectSwift authenticates and checks the container (at most 30 s),
// logging which auth is used (never a secret). Both `mount` and
// `registry` connect through it.
func connectSwift(ctx context.Context, copts swiftclient.Options, log *slog.Logger, logAttrs ...any) (swiftclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	log.Info("connecting to Swift", append([]any{"auth", swiftclient.DescribeAuth(copts), "container", copts.Container}, logAttrs...)...)
	return swiftclient.New(ctx, copts)
}

type unmounter interface{ Unmount() error }

func unmount(srv unmounter, mnt string, log *slog.Logger) {
	for i := 0; i < 3; i++ {
		if err := srv.Unmount(); err == nil {
			return
		} else {
			log.Warn("unmount failed (files open?); retrying", "err", err)
		}
		time.Sleep(time.Second)
	}
	// Detach: the mount goes away once the last user closes it.
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		exec.Command("fusermount3", "-uz", mnt).Run()
	}
}

// reorderFlags lets flags follow the positional arguments
// (swiftfs mount c mnt --read-only).
func reorderFlags(fset *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fset.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(append(flags, "--"), pos...)
}
