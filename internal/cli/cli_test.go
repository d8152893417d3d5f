package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

// TestReport checks the exit status and the single stderr line for each
// kind of error a command can return.
func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		line   string
	}{
		{"ok", nil, ExitOK, ""},
		{"help", flag.ErrHelp, ExitOK, ""},
		{"usage", Usagef("-n %d: too small", 0), ExitUsage, "cmd: -n 0: too small (see cmd -h)\n"},
		{"wrapped usage", fmt.Errorf("parse: %w", Usagef("bad")), ExitUsage, "cmd: parse: bad (see cmd -h)\n"},
		{"interrupted", fmt.Errorf("stopped at step 3: %w", context.Canceled), ExitInterrupted, "cmd: stopped at step 3: context canceled\n"},
		{"failure", errors.New("disk full"), ExitFailure, "cmd: disk full\n"},
	} {
		var stderr bytes.Buffer
		if got := Report("cmd", tc.err, &stderr); got != tc.status || stderr.String() != tc.line {
			t.Errorf("%s: status %d, stderr %q; want %d, %q", tc.name, got, stderr.String(), tc.status, tc.line)
		}
	}
}

// TestParse checks that parse failures become UsageErrors, that positional
// arguments are refused, and that -h prints the usage text and every flag.
func TestParse(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.Int("n", 1, "how `many`")
		fs.String("out", "x.png", "output file")
		return fs
	}
	var usage UsageError
	for _, args := range [][]string{{"-n", "abc"}, {"-bogus"}, {"extra"}} {
		if err := Parse(newFS(), args, "cmd: does things", new(bytes.Buffer)); !errors.As(err, &usage) {
			t.Errorf("%q: got %v, want a UsageError", args, err)
		}
	}
	var help bytes.Buffer
	if err := Parse(newFS(), []string{"-h"}, "cmd: does things", &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: got %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"cmd: does things", "-n many", "how many", "-out", "output file"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h output lacks %q:\n%s", want, help.String())
		}
	}
	if err := Parse(newFS(), []string{"-n", "3"}, "", new(bytes.Buffer)); err != nil {
		t.Errorf("valid flags: %v", err)
	}
}
