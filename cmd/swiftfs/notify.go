package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/swiftfs/swiftfs/cache"
)

// swiftfs under systemd (Type=notify, contrib/systemd/swiftfs@.service)
// reports through sd_notify(3), when NOTIFY_SOCKET is set:
//
//	READY=1               once the mount answers (waitAnswers)
//	STATUS=...            the write-back state, each statusInterval when it changed
//	STOPPING=1            on SIGTERM or unmount, while pending uploads drain, with
//	EXTEND_TIMEOUT_USEC   --drain-timeout plus stopGrace, so that a shorter
//	                      TimeoutStopSec does not kill the drain
//
// Without NOTIFY_SOCKET nothing is sent.

const (
	statusInterval = 2 * time.Second
	// stopGrace covers what follows the drain: unmount retries (3 s) and
	// closing the cache.
	stopGrace = 30 * time.Second
)

// waitAnswers returns once the kernel serves mnt from this process: the
// mount table shows a FUSE mount there and its root answers stat (the
// request any user of the mount sends first; statfs would cost a container
// HEAD).
func waitAnswers(mnt string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := errors.New("not in /proc/self/mountinfo")
		if fuseMounted(mnt) {
			var st syscall.Stat_t
			err = syscall.Stat(mnt, &st)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mount at %s does not answer after %v: %v", mnt, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fuseMounted reports whether the mount table has a FUSE mount at mnt.
func fuseMounted(mnt string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[4] != mnt {
			continue
		}
		for i, x := range f {
			if x == "-" && i+1 < len(f) && strings.HasPrefix(f[i+1], "fuse") {
				return true
			}
		}
	}
	return false
}

// notifier sends sd_notify messages about one mount.
type notifier struct {
	log          *slog.Logger
	c            *cache.Cache
	drainTimeout time.Duration

	mu       sync.Mutex
	phase    string // "mounted", then "draining uploads"
	last     string // the last STATUS sent
	stopTick chan struct{}
	wg       sync.WaitGroup
}

// startNotifier sends READY=1 and starts the STATUS updates; it returns
// nil, doing nothing, when swiftfs was not started by a service manager
// that listens.
func startNotifier(c *cache.Cache, drainTimeout time.Duration, log *slog.Logger) *notifier {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	n := &notifier{log: log, c: c, drainTimeout: drainTimeout, phase: "mounted", stopTick: make(chan struct{})}
	n.mu.Lock()
	n.send("READY=1\n" + n.statusLocked())
	n.mu.Unlock()
	n.wg.Add(1)
	go n.tick()
	return n
}

func (n *notifier) tick() {
	defer n.wg.Done()
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stopTick:
			return
		case <-t.C:
			n.mu.Lock()
			if last := n.last; n.statusLocked() != last {
				n.send(n.last)
			}
			n.mu.Unlock()
		}
	}
}

// statusLocked is the STATUS line of now; it records it as sent.
func (n *notifier) statusLocked() string {
	st := n.c.Stats()
	s := fmt.Sprintf("STATUS=%s; write-back: %d dirty (%s), %d queued, %d uploading, %d failed",
		n.phase, len(st.Dirty), human(st.DirtyBytes), st.QueueLen, st.Uploading, st.Failed)
	n.last = s
	return s
}

func (n *notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("cannot notify the service manager", "err", err)
	}
}

// stopping says that the mount is going away while uploads drain.
func (n *notifier) stopping() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.phase = fmt.Sprintf("draining uploads (at most %v)", n.drainTimeout)
	n.send(fmt.Sprintf("STOPPING=1\nEXTEND_TIMEOUT_USEC=%d\n%s",
		(n.drainTimeout + stopGrace).Microseconds(), n.statusLocked()))
}

// close stops the updates and sends the final state.
func (n *notifier) close() {
	if n == nil {
		return
	}
	close(n.stopTick)
	n.wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.phase = "stopped"
	n.send(n.statusLocked())
}
