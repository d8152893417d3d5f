package cli

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewBar returns the progress bar every long job of the project shows: n
// items of the given unit ("steps", "images") on w, with the description,
// the count, the rate and the time left, redrawn at most five times a
// second and cleared when done. On a nil w it draws nothing.
func NewBar(w io.Writer, n int, desc, unit string) *progressbar.ProgressBar {
	if w == nil {
		return progressbar.NewOptions(n, progressbar.OptionSetVisibility(false))
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(25),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}
