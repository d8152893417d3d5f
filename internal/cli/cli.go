// Package cli provides the conventions every command of the project shares:
// exit statuses, usage errors, Ctrl-C handling and the progress bar.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Exit statuses.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2   // a bad flag or flag value: nothing was done
	ExitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + 2)
)

// UsageError marks an error in the command line; Main exits with ExitUsage.
type UsageError struct{ Err error }

// Error returns the message of the wrapped error.
func (e UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error, for errors.Is and errors.As.
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// Run is the body of a command: it parses args, reports to stdout and
// stderr, and returns nil, a UsageError, or any other error.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs a command with the process's arguments and exits. The context
// is cancelled by the first SIGINT or SIGTERM, which lets the command finish
// its current step and save; after that signal the default handling is
// restored, so a second one kills the process at once.
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(Report(name, err, os.Stderr))
}

// Report prints err as one line on stderr, prefixed by the command's name,
// and returns the exit status it calls for.
func Report(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitInterrupted
	}
	var usage UsageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "%s: %v (see %s -h)\n", name, err, name)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return ExitFailure
}

// Parse parses args with fs, which must use flag.ContinueOnError. A parse
// failure becomes a one-line UsageError; positional arguments are refused.
// For -h or -help it prints usage (what the command does, its synopsis)
// and every flag with its meaning and default to w, and returns
// flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, usage string, w io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(w, usage)
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			return err
		}
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// CheckpointFile is the checkpoint a run folder stands for.
const CheckpointFile = "model.ckpt"

// CheckpointPath resolves what a user names as a checkpoint: a run folder
// stands for its model.ckpt, anything else is taken as the file itself.
func CheckpointPath(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return filepath.Join(path, CheckpointFile)
	}
	return path
}
