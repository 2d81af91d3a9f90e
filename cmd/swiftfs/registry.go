package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"

	"github.com/swiftfs/swiftfs/registrysync"
)

const registryUsage = `Usage:
  swiftfs registry build CONTAINER[:PREFIX] --template TEMPLATE [flags]
  swiftfs registry check CONTAINER[:PREFIX] [flags]

build lists the objects under PREFIX, registers those whose name (relative to
PREFIX) matches TEMPLATE, a Butler path template such as
'raw/raw_v%(visit)d_f%(filter)s.fits.gz', in a new SQLite registry (one row per
file, a <table>_visit table when there is a visit key), checks it and uploads
it as PREFIX/registry.sqlite3.

check downloads the registry, runs PRAGMA quick_check, prints the row count of
every table and, when the template is known, the objects that match it but
have no row and the rows whose object is gone. It exits with status 1 when the
registry is damaged or out of date.

Credentials come from the environment, as for swiftfs mount.
`

// cmdRegistry runs `swiftfs registry build|check`.
func cmdRegistry(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, registryUsage)
		return usageError{"registry needs a subcommand: build or check"}
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, registryUsage)
		return nil
	}
	switch args[0] {
	case "build":
		return cmdRegistryBuild(args[1:], stdout, stderr)
	case "check":
		return cmdRegistryCheck(args[1:], stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown registry subcommand %q (build or check)", args[0])}
}

// registryFlags are the flags both subcommands share.
type registryFlags struct {
	passwordFile string
	osCloud      string
	logLevel     string
	tempDir      string
}

func (r *registryFlags) add(fset *flag.FlagSet) {
	fset.StringVar(&r.passwordFile, "password-file", "", "file (mode 0600) holding the password or key, instead of OS_PASSWORD/ST_KEY")
	fset.StringVar(&r.osCloud, "os-cloud", "", "take the credentials from this cloud of clouds.yaml and secure.yaml instead of OS_*/ST_* (when not given: OS_CLOUD)")
	fset.StringVar(&r.logLevel, "log-level", "warn", "debug, info, warn or error")
	fset.StringVar(&r.tempDir, "temp-dir", "", "directory for the registry while it is built or checked (default $TMPDIR)")
}

// parseRegistryArgs parses flags and the one CONTAINER[:PREFIX] argument.
func parseRegistryArgs(fset *flag.FlagSet, args []string, stderr io.Writer, synopsis string) (container, prefix string, help bool, err error) {
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", synopsis)
		fset.PrintDefaults()
	}
	if err := fset.Parse(reorderFlags(fset, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", "", true, nil
		}
		return "", "", false, usageError{err.Error()}
	}
	if fset.NArg() != 1 {
		return "", "", false, usageError{"need one CONTAINER[:PREFIX] argument (usage: " + synopsis + ")"}
	}
	container, prefix, err = parseTarget(fset.Arg(0))
	if err != nil {
		return "", "", false, err
	}
	return container, prefix, false, nil
}

// registryClient connects to the container like `swiftfs mount` does.
func registryLogger(level string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level=%q: must be debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func cmdRegistryBuild(args []string, stdout, stderr io.Writer) error {
	const synopsis = "swiftfs registry build CONTAINER[:PREFIX] --template TEMPLATE [flags]"
	var rf registryFlags
	var tmpl, output, keywords, table string
	var force bool
	var concurrency int
	fset := flag.NewFlagSet("swiftfs registry build", flag.ContinueOnError)
	rf.add(fset)
	fset.StringVar(&tmpl, "template", "", "Butler path template of the files to register, relative to PREFIX, e.g. 'raw/raw_v%(visit)d_f%(filter)s.fits.gz' (required)")
	fset.StringVar(&output, "output", registrysync.DefaultRegistryName, "the registry's object name, relative to PREFIX")
	fset.StringVar(&keywords, "fits-keywords", "", "comma-separated FITS header keywords to store as extra columns (read with ranged GETs)")
	fset.StringVar(&table, "table", "raw", "table of one row per file")
	fset.BoolVar(&force, "force", false, "replace an existing registry (rows it holds that the template cannot rebuild, e.g. from an ingest, are lost)")
	fset.IntVar(&concurrency, "concurrency", 8, "FITS headers read at once")
	container, prefix, help, err := parseRegistryArgs(fset, args, stderr, synopsis)
	if help || err != nil {
		return err
	}
	if tmpl == "" {
		return usageError{"registry build needs --template (usage: " + synopsis + ")"}
	}
	if output == "" || strings.HasPrefix(output, "/") || strings.HasSuffix(output, "/") {
		return usageError{fmt.Sprintf("--output=%q: must be an object name relative to PREFIX", output)}
	}
	if _, err := registrysync.ParseTemplate(tmpl); err != nil {
		return usageError{"--template: " + err.Error()}
	}
	log, err := registryLogger(rf.logLevel, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client, err := connectSwift(ctx, swiftOptions(container, rf.passwordFile, rf.osCloud, log), log)
	if err != nil {
		return err
	}
	res, err := registrysync.Build(ctx, client, registrysync.BuildOptions{Prefix: prefix, Template: tmpl, Table: table,
		Output: output, FITSKeywords: splitList(keywords), Overwrite: force, TempDir: rf.tempDir,
		Concurrency: concurrency, Logger: log})
	if err != nil {
		if ctx.Err() != nil {
			return context.Canceled
		}
		return fmt.Errorf("registry build %s:%s: %w", container, prefix, err)
	}
	fmt.Fprintf(stdout, "%s:%s: %d objects listed, %d registered in table %s", container, res.Object, res.Listed, res.Rows, table)
	if res.Visits >= 0 {
		fmt.Fprintf(stdout, ", %d visits in %s_visit (%s)", res.Visits, table, strings.Join(res.VisitCols, ", "))
	}
	fmt.Fprintf(stdout, "\n%d bytes, ETag %s\n", res.Size, res.ETag)
	if res.Unmatched > 0 {
		fmt.Fprintf(stdout, "%d objects do not match the template\n", res.Unmatched)
	}
	if n := len(res.Duplicates); n > 0 {
		fmt.Fprintf(stdout, "warning: %d objects skipped because an earlier name has the same keys: %s\n", n, firstNames(res.Duplicates, 10))
	}
	if n := len(res.HeaderFailures); n > 0 {
		fmt.Fprintf(stdout, "warning: %d FITS headers could not be read (their keyword columns are NULL): %s\n", n, firstNames(res.HeaderFailures, 10))
	}
	return nil
}

func firstNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-n)
}

func cmdRegistryCheck(args []string, stdout, stderr io.Writer) error {
	const synopsis = "swiftfs registry check CONTAINER[:PREFIX] [flags]"
	var rf registryFlags
	var name, tmpl, table string
	var maxNames int
	fset := flag.NewFlagSet("swiftfs registry check", flag.ContinueOnError)
	rf.add(fset)
	fset.StringVar(&name, "name", registrysync.DefaultRegistryName, "the registry's object name, relative to PREFIX")
	fset.StringVar(&tmpl, "template", "", "path template to compare with (default: the one recorded by registry build)")
	fset.StringVar(&table, "table", "", "table of one row per file (default: the one recorded, else raw)")
	fset.IntVar(&maxNames, "max-names", 20, "how many missing objects and orphan rows to print")
	container, prefix, help, err := parseRegistryArgs(fset, args, stderr, synopsis)
	if help || err != nil {
		return err
	}
	if tmpl != "" {
		if _, err := registrysync.ParseTemplate(tmpl); err != nil {
			return usageError{"--template: " + err.Error()}
		}
	}
	log, err := registryLogger(rf.logLevel, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client, err := connectSwift(ctx, swiftOptions(container, rf.passwordFile, rf.osCloud, log), log)
	if err != nil {
		return err
	}
	res, err := registrysync.Check(ctx, client, registrysync.CheckOptions{Prefix: prefix, Name: name,
		Template: tmpl, Table: table, TempDir: rf.tempDir, MaxNames: maxNames})
	if ctx.Err() != nil {
		return context.Canceled
	}
	if res.QuickCheck != "" {
		fmt.Fprintf(stdout, "%s:%s: %d bytes, ETag %s\nquick_check: %s\n", container, res.Object, res.Size, res.ETag, res.QuickCheck)
	}
	for _, tc := range res.Tables {
		fmt.Fprintf(stdout, "table %s: %d rows\n", tc.Name, tc.Rows)
	}
	switch {
	case res.Template != "":
		fmt.Fprintf(stdout, "template %s: %d objects match; without a row in %s: %d; rows without an object: %d\n",
			res.Template, res.Matching, res.Table, res.NumMissing, res.NumOrphans)
		for _, m := range res.Missing {
			fmt.Fprintf(stdout, "  missing: %s\n", m)
		}
		if res.NumMissing > len(res.Missing) {
			fmt.Fprintf(stdout, "  ... and %d more missing\n", res.NumMissing-len(res.Missing))
		}
		for _, o := range res.Orphans {
			fmt.Fprintf(stdout, "  orphan row: %s\n", o)
		}
		if res.NumOrphans > len(res.Orphans) {
			fmt.Fprintf(stdout, "  ... and %d more orphan rows\n", res.NumOrphans-len(res.Orphans))
		}
	case err == nil && len(res.Tables) > 0:
		fmt.Fprintln(stdout, "no template recorded (not built by swiftfs registry build): pass --template to compare with the container")
	}
	if err != nil {
		return fmt.Errorf("registry check %s:%s: %w", container, prefix, err)
	}
	return nil
}

// checkConflict is the cache's CheckConflict hook: every file with
// --on-conflict=copy, only registries with overwrite.
func checkConflict(cfg *config, registry func(name string) bool) func(name string) bool {
	if cfg.onConflict == "overwrite" {
		return registry
	}
	return func(string) bool { return true }
}

// registrySyncer is the mount's registry handling (--registry-patterns):
// its Prepare is the cache's PrepareUpload hook (checked snapshots) and its
// Applies the CheckConflict hook (no upload over another mount's newer
// copy). Options.Busy is not wired yet: it needs the file system to tell
// whether a database's local -journal/-wal is in use (see the
// registrysync package documentation).
func registrySyncer(cfg *config, log *slog.Logger, busy func(name string) bool) *registrysync.Syncer {
	return registrysync.New(registrysync.Options{Patterns: cfg.registryPatterns, Logger: log, Busy: busy})
}
