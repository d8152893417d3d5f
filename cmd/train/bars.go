package main

import (
	"fmt"
	"io"

	"gsvae/internal/cli"
	"gsvae/train"
)

// bars shows train's progress reports as progress bars on w, one bar per
// task (an epoch, a gradient-variance measurement).
type bars struct {
	w    io.Writer
	bar  *cli.Bar
	task string
}

func newBars(w io.Writer) *bars { return &bars{w: w} }

// report moves the bar of p's task, starting it if the task is new and
// closing it when the task is done. Drawing errors are not the run's: the
// bar only draws on stderr.
func (b *bars) report(p train.Progress) {
	if p.Task != b.task || b.bar == nil {
		b.stop()
		b.bar, b.task = cli.NewBar(b.w, p.Total, p.Task, p.Unit), p.Task
	}
	b.bar.ChangeMax(p.Total)
	if p.Loss != 0 || p.Tau != 0 {
		b.bar.Describe(fmt.Sprintf("%s  loss %.2f  tau %.3f", p.Task, p.Loss, p.Tau))
	}
	_ = b.bar.Set(p.Done)
	if p.Done >= p.Total {
		b.stop()
	}
}

// stop closes the current bar, if any.
func (b *bars) stop() {
	if b.bar != nil {
		_ = b.bar.Exit()
		b.bar, b.task = nil, ""
	}
}
