package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// checkLines checks that out is made of plain lines, each ending in "\n",
// with no carriage return or escape character, and returns them.
func checkLines(t *testing.T, out string) []string {
	t.Helper()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("output contains a carriage return or an ANSI escape: %q", out)
	}
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// TestBarLines counts the lines of 10,000 updates in line mode at three
// speeds. The expected lines follow from the pacing (a line once both 10%
// of the work and 30 s have passed, plus the final one): 1 ms per update
// takes 10 s, so only the final line; 10 ms per update takes 100 s, so a
// line every 30 s (n = 3000, 6000, 9000) and the final one; 1 s per update
// takes 10,000 s, so a line every 10% and the final one. The exact lines
// are computed by hand: at 1 s per update the rate is 1.00 steps/s and
// after n updates the ETA is 10000 - n seconds.
func TestBarLines(t *testing.T) {
	tests := []struct {
		name      string
		perUpdate time.Duration
		wantLines int
		first     string // the first line, if not ""
		last      string // the last line
	}{
		{"1 ms per update", time.Millisecond, 1, "",
			"epoch 1/1: 10000/10000 steps (100%), 1000 steps/s, elapsed 10s, ETA 0s"},
		{"10 ms per update", 10 * time.Millisecond, 4,
			"epoch 1/1: 3000/10000 steps (30%), 100 steps/s, elapsed 30s, ETA 1m10s",
			"epoch 1/1: 10000/10000 steps (100%), 100 steps/s, elapsed 1m40s, ETA 0s"},
		{"1 s per update", time.Second, 10,
			"epoch 1/1: 1000/10000 steps (10%), 1.00 steps/s, elapsed 16m40s, ETA 2h30m0s",
			"epoch 1/1: 10000/10000 steps (100%), 1.00 steps/s, elapsed 2h46m40s, ETA 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			bar := newLineBar(&buf, 10_000, "epoch 1/1", "steps", clock.now)
			for range 10_000 {
				clock.t = clock.t.Add(tt.perUpdate)
				if err := bar.Add(1); err != nil {
					t.Fatalf("Add: %v", err)
				}
			}
			if err := bar.Exit(); err != nil {
				t.Fatalf("Exit: %v", err)
			}
			lines := checkLines(t, buf.String())
			if len(lines) != tt.wantLines {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tt.wantLines, buf.String())
			}
			if tt.first != "" && lines[0] != tt.first {
				t.Errorf("first line\n%q, want\n%q", lines[0], tt.first)
			}
			if got := lines[len(lines)-1]; got != tt.last {
				t.Errorf("last line\n%q, want\n%q", got, tt.last)
			}
		})
	}
}

// TestNewBarNotTerminal drives NewBar as the training loop does (a Set to
// the starting point, then Describe and Add per step), on a buffer and on
// a regular file, with the real clock: 10,000 fast updates give the final
// line only, and at most 11 lines whatever the machine's speed (nine at
// the tenths, the final one, and one to spare).
func TestNewBarNotTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, w := range []struct {
		name string
		w    interface{ Write([]byte) (int, error) }
		read func() string
	}{
		{"bytes.Buffer", &buf, buf.String},
		{"regular file", f, func() string {
			b, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}},
	} {
		t.Run(w.name, func(t *testing.T) {
			bar := NewBar(w.w, 10_000, "epoch 1/10", "steps")
			if bar.tty != nil {
				t.Fatal("NewBar drew a terminal bar on a writer that is not a terminal")
			}
			_ = bar.Set(0)
			for i := range 10_000 {
				bar.Describe("epoch 1/10  loss " + strings.Repeat("9", i%3+1))
				if err := bar.Add(1); err != nil {
					t.Fatalf("Add: %v", err)
				}
			}
			_ = bar.Exit()
			lines := checkLines(t, w.read())
			if len(lines) < 1 || len(lines) > 11 {
				t.Fatalf("%d lines, want 1 to 11:\n%s", len(lines), w.read())
			}
			last := lines[len(lines)-1]
			for _, want := range []string{"epoch 1/10  loss ", ": 10000/10000 steps (100%), ", " steps/s, elapsed ", ", ETA 0s"} {
				if !strings.Contains(last, want) {
					t.Errorf("last line %q lacks %q", last, want)
				}
			}
		})
	}
}

// TestBarStops checks Exit, Set and ChangeMax in line mode: a first Set is
// the origin of the rate (a resumed epoch), Exit writes a last line only
// if the count moved since the previous one, and updates after Exit are
// ignored. Rates and ETAs by hand: 50 steps in 10 s are 5.00 steps/s, and
// so on.
func TestBarStops(t *testing.T) {
	tests := []struct {
		name string
		run  func(b *Bar, c *fakeClock)
		want string
	}{
		{"exit untouched", func(b *Bar, c *fakeClock) {
			c.t = c.t.Add(time.Minute)
			_ = b.Exit()
		}, ""},
		{"resumed then stopped", func(b *Bar, c *fakeClock) {
			c.t = c.t.Add(time.Second)
			_ = b.Set(400) // where the interrupted epoch stopped
			for range 50 {
				c.t = c.t.Add(200 * time.Millisecond)
				_ = b.Add(1)
			}
			_ = b.Exit()
			_ = b.Add(1)
			_ = b.Exit()
		}, "resumed: 450/500 steps (90%), 5.00 steps/s, elapsed 10s, ETA 10s (stopped)\n"},
		{"done in one Set", func(b *Bar, c *fakeClock) {
			c.t = c.t.Add(2 * time.Second)
			_ = b.Set(500) // no count to measure from: the rate is from NewBar
			_ = b.Exit()
		}, "resumed: 500/500 steps (100%), 250 steps/s, elapsed 2s, ETA 0s\n"},
		{"no time passed", func(b *Bar, c *fakeClock) {
			_ = b.Add(500)
		}, "resumed: 500/500 steps (100%), ? steps/s, elapsed 0s, ETA ?\n"},
		{"under a second", func(b *Bar, c *fakeClock) {
			c.t = c.t.Add(640 * time.Millisecond)
			_ = b.Add(500)
		}, "resumed: 500/500 steps (100%), 781 steps/s, elapsed 0.6s, ETA 0s\n"},
		{"max changed", func(b *Bar, c *fakeClock) {
			b.ChangeMax(1000)
			_ = b.Set(0)
			c.t = c.t.Add(40 * time.Second)
			_ = b.Set(500)
			b.Describe("gradvar")
			c.t = c.t.Add(40 * time.Second)
			_ = b.Set(1000)
		}, "resumed: 500/1000 steps (50%), 12.5 steps/s, elapsed 40s, ETA 40s\n" +
			"gradvar: 1000/1000 steps (100%), 12.5 steps/s, elapsed 1m20s, ETA 0s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			bar := newLineBar(&buf, 500, "resumed", "steps", clock.now)
			tt.run(bar, clock)
			checkLines(t, buf.String())
			if got := buf.String(); got != tt.want {
				t.Errorf("output\n%q, want\n%q", got, tt.want)
			}
		})
	}
}

// TestNewBarNil checks that a bar on a nil writer takes every call and
// writes nothing.
func TestNewBarNil(t *testing.T) {
	bar := NewBar(nil, 3, "nothing", "steps")
	bar.ChangeMax(4)
	bar.Describe("still nothing")
	for _, err := range []error{bar.Set(1), bar.Add(3), bar.Exit()} {
		if err != nil {
			t.Errorf("error %v, want nil", err)
		}
	}
}
