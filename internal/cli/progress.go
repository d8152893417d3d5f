package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Pacing of the plain lines a Bar writes when its writer is not a
// terminal: a line is due once both lineFraction of the work and
// lineInterval have passed since the previous one, so a log gets at most
// about ten lines per bar however long the job, and none for a job
// shorter than lineInterval except the final one.
const (
	lineFraction = 10 // a line at most every 1/lineFraction of the work
	lineInterval = 30 * time.Second
)

// Bar is the progress bar every long job of the project shows. On a
// terminal it is a progressbar.ProgressBar redrawn in place; on any other
// writer (a log file, a pipe, a buffer) it writes an occasional plain
// line instead, with no carriage return or ANSI code, so that redirected
// output stays readable. Its methods are safe for concurrent use.
type Bar struct {
	tty *progressbar.ProgressBar // drawing on a terminal; nil in line mode

	mu       sync.Mutex
	w        io.Writer        // line mode's writer; nil writes nothing
	now      func() time.Time // the clock, replaced in tests
	desc     string
	unit     string
	max, n   int
	updated  bool      // Add or Set has been called
	exited   bool      // Exit has been called: updates are ignored
	finished bool      // the final line has been written
	created  time.Time // when NewBar ran
	start    time.Time // the rate is (n - startN) / (now - start)
	startN   int
	lastT    time.Time // when the last line was written (start at first)
	lastN    int       // the count it showed
}

// NewBar returns the progress bar of n items of the given unit ("steps",
// "images") on w, showing the description, the count, the rate and the
// time left. If w is a terminal (an *os.File on a terminal) the bar is
// redrawn at most five times a second and cleared when done. Otherwise a
// line "desc: 250/500 steps (50%), 95.2 steps/s, elapsed 2.6s, ETA 2.6s"
// is written once both a tenth of the work and 30 s have passed since the
// previous line, and a last one when the count reaches n (or at Exit, if
// the count moved since the last line). On a nil w it draws nothing.
func NewBar(w io.Writer, n int, desc, unit string) *Bar {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &Bar{tty: progressbar.NewOptions(n,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(25),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)}
	}
	return newLineBar(w, n, desc, unit, time.Now)
}

// newLineBar returns a Bar in line mode on w with the clock now.
func newLineBar(w io.Writer, n int, desc, unit string, now func() time.Time) *Bar {
	t := now()
	return &Bar{w: w, now: now, desc: desc, unit: unit, max: n, created: t, start: t, lastT: t}
}

// Add adds k to the count.
func (b *Bar) Add(k int) error {
	if b.tty != nil {
		return b.tty.Add(k)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.update(b.n+k, false)
}

// Set sets the count to k. A first Set before any Add (a resumed job's
// starting point) becomes the origin of the rate, so that work done
// before the bar existed does not inflate it; while the count has not
// moved from there, the rate is taken from NewBar's time and count 0.
func (b *Bar) Set(k int) error {
	if b.tty != nil {
		return b.tty.Set(k)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.update(k, true)
}

// Describe replaces the description, from the next line (or redraw) on.
func (b *Bar) Describe(desc string) {
	if b.tty != nil {
		b.tty.Describe(desc)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.desc = desc
}

// ChangeMax replaces the total number of items.
func (b *Bar) ChangeMax(n int) {
	if b.tty != nil {
		b.tty.ChangeMax(n)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.max = n
	if b.n < n {
		b.finished = false
	}
}

// Exit stops the bar where it is: on a terminal it stays as drawn; in
// line mode a last line is written if the count moved since the previous
// one. Later updates are ignored.
func (b *Bar) Exit() error {
	if b.tty != nil {
		return b.tty.Exit()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exited {
		return nil
	}
	b.exited = true
	if b.finished || !b.updated || b.n == b.lastN {
		return nil
	}
	return b.line(b.now(), " (stopped)")
}

// update sets the count to n in line mode and writes a line if one is
// due; set says whether it comes from Set. b.mu is held.
func (b *Bar) update(n int, set bool) error {
	if b.exited {
		return nil
	}
	t := b.now()
	if !b.updated && set {
		b.start, b.startN = t, n
	}
	b.updated = true
	b.n = n
	if b.max <= 0 || b.finished {
		return nil
	}
	if n >= b.max {
		b.finished = true
		return b.line(t, "")
	}
	step := (b.max + lineFraction - 1) / lineFraction
	if n-b.lastN >= step && t.Sub(b.lastT) >= lineInterval {
		return b.line(t, "")
	}
	return nil
}

// line writes the state at time t as one line ending in suffix and "\n".
// b.mu is held.
func (b *Bar) line(t time.Time, suffix string) error {
	b.lastT, b.lastN = t, b.n
	if b.w == nil {
		return nil
	}
	start, startN := b.start, b.startN
	if b.n <= startN {
		start, startN = b.created, 0
	}
	elapsed := t.Sub(start)
	rate, eta := "?", "?"
	if done := b.n - startN; done > 0 && elapsed > 0 {
		r := float64(done) / elapsed.Seconds()
		rate = formatRate(r)
		eta = formatDuration(time.Duration(float64(max(b.max-b.n, 0)) / r * float64(time.Second)))
	}
	pct := 100 * float64(b.n) / float64(b.max)
	_, err := fmt.Fprintf(b.w, "%s: %d/%d %s (%.0f%%), %s %s/s, elapsed %s, ETA %s%s\n",
		b.desc, b.n, b.max, b.unit, pct, rate, b.unit, formatDuration(elapsed), eta, suffix)
	return err
}

// formatRate prints a rate with three significant digits or more, without
// an exponent.
func formatRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// formatDuration rounds d to a tenth of a second under a minute, else to
// the second: "0.6s", "10s", "2m35s", "1h2m3s".
func formatDuration(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + "s"
	}
	return d.Round(time.Second).String()
}
