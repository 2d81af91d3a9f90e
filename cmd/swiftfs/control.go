package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// The control channel: a Unix socket (0600, in a 0700 directory) per mount
// point, answering one JSON request per connection: {"op":"status"} or
// {"op":"sync"}.

func runtimeDir() string {
	if os.Geteuid() == 0 {
		return "/run/swiftfs"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "swiftfs")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("swiftfs-%d", os.Getuid()))
}

func socketPath(mnt string) string {
	h := sha256.Sum256([]byte(mnt))
	return filepath.Join(runtimeDir(), hex.EncodeToString(h[:8])+".sock")
}

type request struct {
	Op string `json:"op"`
}

type response struct {
	Error string       `json:"error,omitempty"`
	Stats *cache.Stats `json:"stats,omitempty"`
	// Swift is the client's view of Swift's reachability.
	Swift *swiftclient.HealthState `json:"swift,omitempty"`
	Done  bool                     `json:"done,omitempty"`
	// DrainTimeout is the mount's --drain-timeout (status), which bounds
	// how long umount.fuse.swiftfs waits for a sync.
	DrainTimeout time.Duration `json:"drain_timeout,omitempty"`
}

func startControl(mnt string, c *cache.Cache, health *swiftclient.Health, drainTimeout time.Duration, log *slog.Logger) (io.Closer, error) {
	dir := runtimeDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := socketPath(mnt)
	os.Remove(p)
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(p, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go serveControl(conn, c, health, drainTimeout, log)
		}
	}()
	return closerFunc(func() error { err := l.Close(); os.Remove(p); return err }), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func serveControl(conn net.Conn, c *cache.Cache, health *swiftclient.Health, drainTimeout time.Duration, log *slog.Logger) {
	defer conn.Close()
	var req request
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
		return
	}
	enc := json.NewEncoder(conn)
	switch req.Op {
	case "status":
		st, hs := c.Stats(), health.State()
		enc.Encode(response{Stats: &st, Swift: &hs, Done: true, DrainTimeout: drainTimeout})
	case "sync":
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- c.SyncAll(ctx) }()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-errc:
				r := response{Done: true}
				if err != nil {
					r.Error = err.Error()
				}
				st := c.Stats()
				r.Stats = &st
				enc.Encode(r)
				return
			case <-tick.C:
				st := c.Stats()
				if enc.Encode(response{Stats: &st}) != nil {
					return // the client went away
				}
			}
		}
	default:
		enc.Encode(response{Error: "unknown op " + req.Op, Done: true})
	}
}

func control(mnt, op string, progress func(*response)) (*response, error) {
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("unix", socketPath(abs))
	if err != nil {
		return nil, fmt.Errorf("no swiftfs mount at %s (control socket: %v)", abs, err)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(request{Op: op}); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(conn)
	for {
		var r response
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		if r.Done {
			return &r, nil
		}
		if progress != nil {
			progress(&r)
		}
	}
}

func cmdStatus(args []string, out io.Writer) error {
	if len(args) != 1 {
		return usageError{"usage: swiftfs status MOUNTPOINT"}
	}
	r, err := control(args[0], "status", nil)
	if err != nil {
		return err
	}
	printSwift(out, r.Swift)
	printStats(out, r.Stats)
	return nil
}

// printSwift prints the reachability line of `swiftfs status`.
func printSwift(out io.Writer, h *swiftclient.HealthState) {
	switch {
	case h == nil:
	case h.Down:
		fmt.Fprintf(out, "swift: unreachable since %s (%s)\n", h.Since.UTC().Format(time.RFC3339), h.Err)
	default:
		fmt.Fprintln(out, "swift: reachable")
	}
}

func printStats(out io.Writer, s *cache.Stats) {
	if s == nil {
		return
	}
	ratio := 0.0
	if s.Hits+s.Misses > 0 {
		ratio = float64(s.Hits) / float64(s.Hits+s.Misses)
	}
	fmt.Fprintf(out, "cache: %s used of %s, %d entries, hit ratio %.2f\n", human(s.UsedBytes), human(s.MaxBytes), s.Entries, ratio)
	fmt.Fprintf(out, "prefetch: %d started, %d opened, %d dropped unopened\n", s.Prefetched, s.PrefetchHits, s.PrefetchWasted)
	fmt.Fprintf(out, "write-back: %d dirty (%s), %d queued, %d uploading, %d failed\n", len(s.Dirty), human(s.DirtyBytes), s.QueueLen, s.Uploading, s.Failed)
	for _, d := range s.Dirty {
		line := fmt.Sprintf("  %-9s %10s  %s", d.State, human(d.Size), d.Name)
		if d.Error != "" {
			line += "  (" + d.Error + ")"
		}
		fmt.Fprintln(out, line)
	}
	if len(s.Conflicts) > 0 {
		fmt.Fprintf(out, "conflicts: %d (another client's version kept under the name, this mount's content in the copy)\n", len(s.Conflicts))
		for _, c := range s.Conflicts {
			fmt.Fprintf(out, "  %s  %s -> %s\n", c.Time.UTC().Format(time.RFC3339), c.Name, c.Copy)
		}
	}
}

func human(n int64) string {
	const u = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := -1
	for f >= 1024 && i < len(u)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, u[i])
}

func cmdSync(args []string, out, stderr io.Writer) error {
	fset := flag.NewFlagSet("swiftfs sync", flag.ContinueOnError)
	fset.SetOutput(stderr)
	mode := new(string)
	fset.Var((*optionalFlag)(mode), "progress", "show the draining queue on stderr (files and bytes done of those dirty at the start, rate, ETA): a bar on a terminal, else lines; --progress=lines forces lines")
	interval := fset.Duration("progress-interval", 5*time.Second, "time between progress lines (when not a bar)")
	if err := fset.Parse(reorderFlags(fset, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fset.NArg() != 1 {
		return usageError{"usage: swiftfs sync [--progress] MOUNTPOINT"}
	}
	var prog *progress
	switch *mode {
	case "":
	case "true", "auto", "bar", "lines":
		if *mode == "true" {
			*mode = "auto"
		}
		if *interval <= 0 {
			return usageError{"--progress-interval must be positive"}
		}
		prog = newProgress(stderr, "sync", *mode, *interval)
	default:
		return usageError{fmt.Sprintf("--progress=%q: must be auto, bar or lines", *mode)}
	}
	tty := prog == nil && isTerminal(out)
	var drain drainProgress
	r, err := control(fset.Arg(0), "sync", func(r *response) {
		if r.Stats == nil {
			return
		}
		if prog != nil {
			prog.update(drain.sample(r.Stats))
		} else if tty {
			fmt.Fprintf(out, "\rsyncing: %d files (%s) left, %d uploading   ", len(r.Stats.Dirty), human(r.Stats.DirtyBytes), r.Stats.Uploading)
		}
	})
	prog.finish()
	if tty {
		fmt.Fprint(out, "\r"+strings.Repeat(" ", 60)+"\r")
	}
	if err != nil {
		return err
	}
	if r.Error != "" {
		printStats(out, r.Stats)
		return fmt.Errorf("sync failed: %s", r.Error)
	}
	fmt.Fprintln(out, "all data written before the sync is in Swift")
	return nil
}

// drainProgress turns the daemon's status samples into progress: the
// totals are the most that was dirty since the sync began, done is what
// left the queue since.
type drainProgress struct {
	files, bytes int64
}

func (d *drainProgress) sample(s *cache.Stats) progressState {
	files, bytes := int64(len(s.Dirty)), s.DirtyBytes
	d.files, d.bytes = max(d.files, files), max(d.bytes, bytes)
	st := progressState{filesDone: d.files - files, filesTotal: d.files, bytesDone: d.bytes - bytes, bytesTotal: d.bytes, failed: int64(s.Failed)}
	if s.Uploading > 0 {
		st.note = fmt.Sprintf("%d uploading", s.Uploading)
	}
	return st
}

// optionalFlag is a string flag whose value may be left out
// (--progress, --progress=lines): alone it is "true".
type optionalFlag string

func (f *optionalFlag) String() string     { return string(*f) }
func (f *optionalFlag) Set(v string) error { *f = optionalFlag(v); return nil }
func (f *optionalFlag) IsBoolFlag() bool   { return true }
