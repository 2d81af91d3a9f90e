package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressState is one sample of a long operation (import, sync).
type progressState struct {
	filesDone, filesTotal int64
	bytesDone, bytesTotal int64
	failed                int64
	note                  string // e.g. "scanning"
}

// progress shows the state of a long operation on w: a bar (files, bytes,
// rate, ETA) redrawn in place when w is a terminal, otherwise a plain line
// every interval. Its Write method lets log lines through without
// breaking the bar.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	what     string // "import", "sync"
	bar      *progressbar.ProgressBar
	interval time.Duration
	start    time.Time
	lastLine time.Time
	last     progressState
	// rate: bytes per second, over the samples since rateAt
	rateAt    time.Time
	rateBytes int64
	rate      float64
}

// progressMode is --progress: auto (a bar on a terminal, lines otherwise),
// bar, lines or none.
func newProgress(w io.Writer, what, mode string, interval time.Duration) *progress {
	if mode == "none" {
		return nil
	}
	p := &progress{w: w, what: what, interval: interval, start: time.Now()}
	p.rateAt, p.lastLine = p.start, p.start
	if mode == "bar" || (mode == "auto" && isTerminal(w)) {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetDescription(what))
	}
	return p
}

// update records a sample: the bar is redrawn, a line is printed when the
// interval has passed.
func (p *progress) update(s progressState) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if d := now.Sub(p.rateAt); d >= 2*time.Second {
		r := float64(s.bytesDone-p.rateBytes) / d.Seconds()
		if p.rate == 0 {
			p.rate = r
		} else {
			p.rate = 0.5*p.rate + 0.5*r
		}
		p.rateAt, p.rateBytes = now, s.bytesDone
	}
	p.last = s
	if p.bar != nil {
		if s.bytesTotal != p.bar.GetMax64() && s.bytesTotal > 0 {
			p.bar.ChangeMax64(s.bytesTotal)
		}
		p.bar.Describe(p.describe(s))
		p.bar.Set64(s.bytesDone)
		return
	}
	if now.Sub(p.lastLine) >= p.interval {
		p.lastLine = now
		fmt.Fprintln(p.w, p.line(s, now))
	}
}

func (p *progress) describe(s progressState) string {
	d := fmt.Sprintf("%s: %d/%d files", p.what, s.filesDone, s.filesTotal)
	if s.failed > 0 {
		d += fmt.Sprintf(", %d failed", s.failed)
	}
	if s.note != "" {
		d += " (" + s.note + ")"
	}
	return d
}

// line is the plain progress line: files and bytes done of the total,
// rate and ETA.
func (p *progress) line(s progressState, now time.Time) string {
	l := fmt.Sprintf("%s: %d/%d files, %s/%s", p.what, s.filesDone, s.filesTotal, human(s.bytesDone), human(s.bytesTotal))
	rate := p.rate
	if rate == 0 {
		if el := now.Sub(p.start).Seconds(); el > 0 {
			rate = float64(s.bytesDone) / el
		}
	}
	l += fmt.Sprintf(", %s/s", human(int64(rate)))
	if left := s.bytesTotal - s.bytesDone; rate > 0 && left > 0 && s.note != "scanning" {
		l += ", ETA " + time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second).String()
	}
	if s.failed > 0 {
		l += fmt.Sprintf(", %d failed", s.failed)
	}
	if s.note != "" {
		l += " (" + s.note + ")"
	}
	return l
}

// finish removes the bar (the summary follows).
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// Write passes log lines through: above the bar, which redraws itself at
// the next sample.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	return p.w.Write(b)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
