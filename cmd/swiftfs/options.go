package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/swiftfs/swiftfs/metrics"
	"github.com/swiftfs/swiftfs/registrysync"
)

// option is one row of the single option table: it produces the flag, its
// help text (with the default) and the docs/CONFIGURATION.md table.
type option struct {
	name  string
	def   string
	help  string
	group string
	set   func(cfg *config, v string) error
}

// config is everything `swiftfs mount` is told.
type config struct {
	readOnly       bool
	allowOther     bool
	cacheDir       string
	cacheSize      int64
	cacheMinFree   int64
	metadataTTL    time.Duration
	writeBack      string
	writeBackDelay time.Duration
	drainTimeout   time.Duration
	segmentSize    int64
	sloThreshold   int64
	verifyLazy     bool
	uploaders      int
	prefetchFiles  int
	passwordFile   string
	osCloud        string
	credsFile      string
	noExec         bool
	uid, gid       int64
	fileMode       uint32
	dirMode        uint32
	fitsCheck      string
	logLevel       string
	logFormat      string
	daemon         bool
	debugFuse      bool
	listPageSize   int
	passthrough    bool
	metricsAddr    string
	// registryPatterns select SQLite registries (snapshot + check before
	// upload, conflict copies); empty: none.
	registryPatterns []string
	// onConflict is "copy" (an upload over another writer's version goes
	// to a conflict copy) or "overwrite" (the last upload wins; registries
	// still get conflict copies).
	onConflict string
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s = strings.TrimSuffix(s, u.suf)
			mult = u.m
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (use e.g. 512M, 10G)", s)
	}
	return int64(n * float64(mult)), nil
}

// defaultCacheDir is absolute whatever the environment: root (a mount from
// /etc/fstab or a systemd unit, where HOME may be unset or /) gets
// /var/cache/swiftfs.
func defaultCacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/swiftfs"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "swiftfs")
	}
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) && h != "/" {
		return filepath.Join(h, ".cache", "swiftfs")
	}
	return "/var/cache/swiftfs"
}

var options = []option{
	{"read-only", "false", "mount read-only", "mount", func(c *config, v string) (err error) { c.readOnly, err = strconv.ParseBool(v); return }},
	{"allow-other", "false", "let other users access the mount (needs root or user_allow_other)", "mount", func(c *config, v string) (err error) { c.allowOther, err = strconv.ParseBool(v); return }},
	{"daemon", "false", "run in the background once mounted", "mount", func(c *config, v string) (err error) { c.daemon, err = strconv.ParseBool(v); return }},
	{"noexec", "false", "refuse to execute programs from the mount (mount option noexec)", "mount", func(c *config, v string) (err error) { c.noExec, err = strconv.ParseBool(v); return }},
	{"uid", "-1", "owner reported for objects without swiftfs attributes (-1: the mounting user)", "mount", func(c *config, v string) (err error) { c.uid, err = strconv.ParseInt(v, 10, 64); return }},
	{"gid", "-1", "group reported for objects without swiftfs attributes (-1: the mounting group)", "mount", func(c *config, v string) (err error) { c.gid, err = strconv.ParseInt(v, 10, 64); return }},
	{"file-mode", "0644", "permissions reported for files without swiftfs attributes", "mount", func(c *config, v string) error {
		m, err := strconv.ParseUint(v, 8, 32)
		c.fileMode = uint32(m) & 0o7777
		return err
	}},
	{"dir-mode", "0755", "permissions reported for directories without swiftfs attributes", "mount", func(c *config, v string) error {
		m, err := strconv.ParseUint(v, 8, 32)
		c.dirMode = uint32(m) & 0o7777
		return err
	}},
	{"metadata-ttl", "30s", "how long listings and object metadata are trusted before Swift is asked again", "cache", func(c *config, v string) (err error) { c.metadataTTL, err = time.ParseDuration(v); return }},
	{"list-page-size", "0", "entries per listing request (0: the server's maximum, 10,000 by default)", "cache", func(c *config, v string) (err error) { c.listPageSize, err = strconv.Atoi(v); return }},
	{"cache-dir", defaultCacheDir(), "local cache directory (created 0700; one swiftfs process per directory)", "cache", func(c *config, v string) error { c.cacheDir = v; return nil }},
	{"cache-size", "10G", "byte budget of the local cache (clean, dirty and in-flight data)", "cache", func(c *config, v string) (err error) { c.cacheSize, err = parseSize(v); return }},
	{"prefetch-files", "64", "when a program opens the files of a directory one after another in listing order, download up to this many of the next small files (up to 1 MiB) ahead of it, 8 at a time (0: never)", "cache", func(c *config, v string) (err error) {
		n, err := strconv.Atoi(v)
		if err == nil && (n < 0 || n > 1024) {
			err = fmt.Errorf("must be between 0 and 1024")
		}
		c.prefetchFiles = n
		return
	}},
	{"cache-min-free", "1G", "free space to keep on the cache file system", "cache", func(c *config, v string) (err error) { c.cacheMinFree, err = parseSize(v); return }},
	{"verify", "strict", "strict: no downloaded byte is read before it matched its checksum (an SLO's segment, a plain object's whole MD5); lazy: read bytes as they arrive, a later mismatch fails every further read of that copy (EIO)", "cache", func(c *config, v string) error {
		if v != "strict" && v != "lazy" {
			return fmt.Errorf("must be strict or lazy")
		}
		c.verifyLazy = v == "lazy"
		return nil
	}},
	{"write-back", "async", "async: upload after the last close plus --write-back-delay; sync: close waits for the upload", "write", func(c *config, v string) error {
		if v != "async" && v != "sync" {
			return fmt.Errorf("must be async or sync")
		}
		c.writeBack = v
		return nil
	}},
	{"write-back-delay", "3s", "wait after the last close before uploading (a rename in between uploads once, under the final name)", "write", func(c *config, v string) (err error) { c.writeBackDelay, err = time.ParseDuration(v); return }},
	{"drain-timeout", "5m", "on unmount or SIGTERM, how long to wait for pending uploads (what is left stays in the cache for the next mount)", "write", func(c *config, v string) (err error) { c.drainTimeout, err = time.ParseDuration(v); return }},
	{"slo-threshold", "64M", "files larger than this are uploaded as Static Large Objects of --segment-size segments, which downloads check one segment at a time (1M to 5G)", "write", func(c *config, v string) (err error) {
		c.sloThreshold, err = parseSize(v)
		if err == nil && (c.sloThreshold < 1<<20 || c.sloThreshold > 5<<30) {
			err = fmt.Errorf("must be between 1M and 5G")
		}
		return
	}},
	{"segment-size", "32M", "size of Static Large Object segments: a read far into a large file waits for its segment to be downloaded and checked (1M to 5G; larger when a file would need over 1000)", "write", func(c *config, v string) (err error) {
		c.segmentSize, err = parseSize(v)
		if err == nil && (c.segmentSize < 1<<20 || c.segmentSize > 5<<30) {
			err = fmt.Errorf("must be between 1M and 5G")
		}
		return
	}},
	{"uploaders", "4", "concurrent uploads", "write", func(c *config, v string) (err error) {
		n, err := strconv.Atoi(v)
		if err == nil && n < 1 {
			err = fmt.Errorf("must be at least 1")
		}
		c.uploaders = n
		return
	}},
	{"fits-check", "warn", "check FITS structure before upload: off, warn (log and upload), refuse (keep dirty, fail close/fsync)", "write", func(c *config, v string) error {
		if v != "off" && v != "warn" && v != "refuse" {
			return fmt.Errorf("must be off, warn or refuse")
		}
		c.fitsCheck = v
		return nil
	}},
	{"password-file", "", "file (mode 0600) holding the password or key, instead of OS_PASSWORD/ST_KEY", "auth", func(c *config, v string) error { c.passwordFile = v; return nil }},
	{"os-cloud", "", "take the credentials from this cloud of clouds.yaml and secure.yaml instead of OS_*/ST_* (when not given: OS_CLOUD)", "auth", func(c *config, v string) error { c.osCloud = v; return nil }},
	{"credentials-file", "", "file (mode 0600) of OS_*/ST_* assignments, as in an rc file, used instead of those of the environment (for /etc/fstab, where the environment is empty)", "auth", func(c *config, v string) error { c.credsFile = v; return nil }},
	{"log-level", "info", "debug, info, warn or error", "logging", func(c *config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.logLevel = v
			return nil
		}
		return fmt.Errorf("must be debug, info, warn or error")
	}},
	{"log-format", "text", "text or json", "logging", func(c *config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("must be text or json")
		}
		c.logFormat = v
		return nil
	}},
	{"passthrough", "false", "experimental, known to fail (docs/CONFIGURATION.md): let the kernel read complete cached copies directly, at local disk speed (FUSE passthrough; kernel 6.9+, root)", "cache", func(c *config, v string) (err error) { c.passthrough, err = strconv.ParseBool(v); return }},
	{"registry-patterns", "*.sqlite3,*.sqlite,*.db", "base-name patterns of SQLite registries: uploaded as checked snapshots, never over another mount's newer copy (empty: none)", "write", func(c *config, v string) (err error) { c.registryPatterns, err = registrysync.ParsePatterns(v); return }},
	{"on-conflict", "copy", "when another mount or client changed (or created) a file since this mount's copy of it: copy (keep theirs, upload ours as <name>.conflict-<host>-<time>, fail fsync) or overwrite (the last upload wins; registries still get copies)", "write", func(c *config, v string) error {
		if v != "copy" && v != "overwrite" {
			return fmt.Errorf("must be copy or overwrite")
		}
		c.onConflict = v
		return nil
	}},
	{"metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9100 (a bare :9100 listens on 127.0.0.1 only; 0.0.0.0:9100 on every interface)", "logging", func(c *config, v string) error {
		if v != "" {
			if _, _, err := metrics.ListenAddr(v); err != nil {
				return err
			}
		}
		c.metricsAddr = v
		return nil
	}},
	{"debug-fuse", "false", "log every FUSE request (very verbose)", "logging", func(c *config, v string) (err error) { c.debugFuse, err = strconv.ParseBool(v); return }},
}

type optValue struct {
	o       *option
	cfg     *config
	isBool  bool
	current string
}

func (v *optValue) String() string {
	if v == nil || v.o == nil {
		return ""
	}
	return v.current
}
func (v *optValue) Set(s string) error {
	if err := v.o.set(v.cfg, s); err != nil {
		return fmt.Errorf("--%s=%q: %v", v.o.name, s, err)
	}
	v.current = s
	return nil
}
func (v *optValue) IsBoolFlag() bool { return v.isBool }

// flagSet builds the flags of `swiftfs mount` from the option table and
// applies every default.
func flagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("swiftfs mount", flag.ContinueOnError)
	for i := range options {
		o := &options[i]
		if err := o.set(cfg, o.def); err != nil {
			panic(fmt.Sprintf("default of --%s: %v", o.name, err))
		}
		v := &optValue{o: o, cfg: cfg, isBool: o.def == "true" || o.def == "false", current: o.def}
		// flag prints "(default …)" itself, for every non-empty default.
		usage := o.help
		if o.def == "" {
			usage += " (default: none)"
		}
		fs.Var(v, o.name, usage)
	}
	return fs
}

// markdownTable renders the option table (docs/CONFIGURATION.md).
func markdownTable() string {
	var b strings.Builder
	b.WriteString("| flag | default | group | meaning |\n|---|---|---|---|\n")
	opts := append([]option(nil), options...)
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].group < opts[j].group })
	for _, o := range opts {
		def := o.def
		switch {
		case o.name == "cache-dir":
			def = "/var/cache/swiftfs (root), $XDG_CACHE_HOME/swiftfs or ~/.cache/swiftfs"
		case def == "":
			def = "none"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", o.name, def, o.group, o.help)
	}
	return b.String()
}
