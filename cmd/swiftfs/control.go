package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swiftfs/swiftfs/cache"
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
	Done  bool         `json:"done,omitempty"`
}

func startControl(mnt string, c *cache.Cache, log *slog.Logger) (io.Closer, error) {
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
			go serveControl(conn, c, log)
		}
	}()
	return closerFunc(func() error { err := l.Close(); os.Remove(p); return err }), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func serveControl(conn net.Conn, c *cache.Cache, log *slog.Logger) {
	defer conn.Close()
	var req request
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
		return
	}
	enc := json.NewEncoder(conn)
	switch req.Op {
	case "status":
		st := c.Stats()
		enc.Encode(response{Stats: &st, Done: true})
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
	printStats(out, r.Stats)
	return nil
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

func cmdSync(args []string, out io.Writer) error {
	if len(args) != 1 {
		return usageError{"usage: swiftfs sync MOUNTPOINT"}
	}
	tty := isTerminal(out)
	r, err := control(args[0], "sync", func(r *response) {
		if tty && r.Stats != nil {
			fmt.Fprintf(out, "\rsyncing: %d files (%s) left, %d uploading   ", len(r.Stats.Dirty), human(r.Stats.DirtyBytes), r.Stats.Uploading)
		}
	})
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
