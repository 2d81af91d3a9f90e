package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/swiftfs/swiftfs/fs"
	"github.com/swiftfs/swiftfs/importer"
	"github.com/swiftfs/swiftfs/registrysync"
	"github.com/swiftfs/swiftfs/swiftclient"
)

const importUsage = `Usage: swiftfs import [flags] SRC_DIR CONTAINER[:PREFIX]

Copies the tree under SRC_DIR into the container (under PREFIX) as swiftfs
stores it, so that a mount shows it exactly as the source: modes, owners,
mtimes, symlinks, empty directories; files above --segment-size as Static
Large Objects. Entries already in Swift with the same content and attributes
are skipped, so an interrupted import is resumed by running it again; nothing
in Swift is deleted; a missing container is created. Exits with status 1 when any entry failed (they are
listed), 130 when interrupted.

Credentials come from the environment, --credentials-file or --os-cloud, as for swiftfs mount.

Flags:
`

// importShared are the mount options import takes too (same meaning, from
// the option table), with import's own defaults where they differ.
var importShared = map[string]string{
	"segment-size": "", "slo-threshold": "", "uploaders": "8", "fits-check": "", "registry-patterns": "",
	"password-file": "", "os-cloud": "", "credentials-file": "", "log-level": "warn", "log-format": "",
}

// importFlags are the flags of import alone.
type importFlags struct {
	progress string
	interval time.Duration
	tempDir  string
}

func cmdImport(args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	fset := flag.NewFlagSet("swiftfs import", flag.ContinueOnError)
	addOptions(fset, cfg, importShared)
	var fl importFlags
	fset.StringVar(&fl.progress, "progress", "auto", "progress display: auto (a bar on a terminal, else lines), bar, lines or none")
	fset.DurationVar(&fl.interval, "progress-interval", 5*time.Second, "time between progress lines (when not a bar)")
	fset.StringVar(&fl.tempDir, "temp-dir", "", "directory for the checked snapshots of SQLite registries (default $TMPDIR)")
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(reorderFlags(fset, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	switch fl.progress {
	case "auto", "bar", "lines", "none":
	default:
		return usageError{fmt.Sprintf("--progress=%q: must be auto, bar, lines or none", fl.progress)}
	}
	if fl.interval <= 0 {
		return usageError{"--progress-interval must be positive"}
	}
	if fset.NArg() != 2 {
		return usageError{"import needs SRC_DIR and CONTAINER[:PREFIX] (see swiftfs import --help)"}
	}
	src, err := filepath.Abs(fset.Arg(0))
	if err != nil {
		return err
	}
	container, prefix, err := parseTarget(fset.Arg(1))
	if err != nil {
		return err
	}
	if st, err := os.Stat(src); err != nil {
		return fmt.Errorf("source: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("source %s is not a directory", src)
	}

	prog := newProgress(stderr, "import", fl.progress, fl.interval)
	var logw io.Writer = stderr
	if prog != nil {
		logw = prog
	}
	log := newLogger(cfg, logw)
	if cfg.credsFile != "" {
		if err := useCredentialsFile(cfg.credsFile); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	copts := swiftOptions(container, cfg.passwordFile, cfg.osCloud, log)
	client, err := connectSwift(ctx, copts, log, "prefix", prefix)
	if errors.Is(err, swiftclient.ErrNotFound) {
		// As swift upload and rclone copy do: a new container.
		log.Info("creating the container", "container", container)
		if err = swiftclient.CreateContainer(ctx, copts); err == nil {
			client, err = connectSwift(ctx, copts, log, "prefix", prefix)
		}
	}
	if err != nil {
		return err
	}
	// Registries are checked as the mount checks them before upload; their
	// side files in the source say whether a transaction is open.
	tempDir := fl.tempDir
	if tempDir == "" {
		tempDir = os.TempDir() // never the source tree
	}
	reg := registrysync.New(registrysync.Options{Patterns: cfg.registryPatterns, Logger: log, TempDir: tempDir,
		Busy: func(name string) bool {
			return sourceBusy(filepath.Join(src, filepath.FromSlash(strings.TrimPrefix(name, prefix))))
		}})
	validate := fitsValidator(cfg.fitsCheck, log)
	im := importer.New(client, importer.Options{
		Source: src, Prefix: prefix, SegmentSize: cfg.segmentSize, SLOThreshold: cfg.sloThreshold, Workers: cfg.uploaders,
		Validate: validate.upload,
		Prepare:  chainPrepare(reg.Prepare, fitsHDUIndex),
		LocalOnly: func(name string) bool {
			_, side := reg.SideFileOf(name)
			return side || fs.LocalOnly(name)
		},
		Logger: log,
	})
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				prog.update(importState(im.Progress()))
			}
		}
	}()
	res, err := im.Run(ctx)
	close(done)
	prog.finish()
	printImportSummary(stdout, res)
	if errors.Is(err, context.Canceled) {
		p := im.Progress()
		fmt.Fprintf(stdout, "interrupted: %d of %d entries not done; the same command resumes the import\n", p.FilesTotal-p.FilesDone, p.FilesTotal)
	}
	if errors.Is(err, importer.ErrFailed) {
		return fmt.Errorf("%w (the failures are listed above; run the import again to retry them)", err)
	}
	return err
}

func importState(p importer.Progress) progressState {
	s := progressState{filesDone: p.FilesDone, filesTotal: p.FilesTotal, bytesDone: p.BytesDone, bytesTotal: p.BytesTotal, failed: p.Failed}
	if p.Scanning {
		s.note = "scanning"
	}
	return s
}

// maxListed bounds the failures and side files the summary names.
const maxListed = 20

func printImportSummary(out io.Writer, r importer.Result) {
	secs := max(r.Elapsed.Seconds(), 1e-3)
	fmt.Fprintf(out, "imported %d files (%s), %d directories, %d symlinks in %s (%s/s)\n",
		r.Files, human(r.Bytes), r.Dirs, r.Symlinks, r.Elapsed.Round(time.Millisecond), human(int64(float64(r.Bytes)/secs)))
	fmt.Fprintf(out, "skipped %d unchanged (%s), %d with new attributes only (POST)\n", r.Skipped, human(r.SkippedBytes), r.Updated)
	if n := len(r.NotImported); n > 0 {
		fmt.Fprintf(out, "not imported: %d SQLite side files (a mount keeps them local)\n", n)
		listBounded(out, r.NotImported, func(s string) string { return s })
	}
	if n := len(r.Failed); n > 0 {
		fmt.Fprintf(out, "FAILED: %d\n", n)
		listBounded(out, r.Failed, func(f importer.Failure) string { return f.Path + ": " + f.Err.Error() })
	} else {
		fmt.Fprintln(out, "failed: 0")
	}
}

func listBounded[T any](out io.Writer, xs []T, str func(T) string) {
	for i, x := range xs {
		if i == maxListed {
			fmt.Fprintf(out, "  ... and %d more\n", len(xs)-maxListed)
			return
		}
		fmt.Fprintln(out, "  "+str(x))
	}
}

// addOptions adds the named rows of the option table to fset, with the
// given defaults ("" keeps the table's).
func addOptions(fset *flag.FlagSet, cfg *config, names map[string]string) {
	for i := range options {
		o := &options[i]
		if err := o.set(cfg, o.def); err != nil {
			panic(fmt.Sprintf("default of --%s: %v", o.name, err))
		}
		def, ok := names[o.name]
		if !ok {
			continue
		}
		if def == "" {
			def = o.def
		} else if err := o.set(cfg, def); err != nil {
			panic(fmt.Sprintf("default of --%s: %v", o.name, err))
		}
		v := &optValue{o: o, cfg: cfg, isBool: o.def == "true" || o.def == "false", current: def}
		fset.Var(v, o.name, o.help)
	}
}

// sourceBusy reports a registry in the source whose journal is hot or
// whose WAL has content: a transaction may be open (or committed only in
// the WAL), and the database file alone is not what SQLite would read.
func sourceBusy(db string) bool {
	for _, suf := range []string{"-journal", "-wal"} {
		f, err := os.Open(db + suf)
		if err != nil {
			continue
		}
		busy := true // unreadable: assume the worst
		if st, err := f.Stat(); err == nil {
			busy = registrysync.SideFileBusy(db+suf, f, st.Size())
		}
		f.Close()
		if busy {
			return true
		}
	}
	return false
}
