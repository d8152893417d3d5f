package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gsvae/eval"
)

// Names of the files a run keeps in its Out folder.
const (
	ConfigFile     = "config.json"   // every setting, indented JSON
	MetricsFile    = "metrics.jsonl" // one JSON object per epoch
	CheckpointFile = "model.ckpt"    // the latest State
	BestFile       = "best.ckpt"     // the State with the lowest validation -ELBO
	LockFile       = "train.lock"    // held by the train process writing the folder
)

// CheckpointPath resolves what a user names as a checkpoint: a run folder
// stands for its model.ckpt, anything else is taken as the file itself.
func CheckpointPath(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return filepath.Join(path, CheckpointFile)
	}
	return path
}

// Metrics is the record of one epoch, appended to metrics.jsonl.
type Metrics struct {
	Estimator    string  `json:"estimator"` // the run's gradient estimator
	Latent       string  `json:"latent"`    // categorical or bernoulli
	KL           string  `json:"kl"`        // analytic or relaxed
	Prior        string  `json:"prior"`     // uniform or learned
	Epoch        int     `json:"epoch"`
	Step         int     `json:"step"`           // updates made so far
	Tau          float64 `json:"tau"`            // temperature of the epoch's last update
	TrainNegELBO float64 `json:"train_neg_elbo"` // mean relaxed training loss over the epoch
	ValidNegELBO float64 `json:"valid_neg_elbo"` // -ELBO of the validation images, discrete samples
	ValidSE      float64 `json:"valid_se"`       // its standard error over images
	ValidRec     float64 `json:"valid_rec"`      // its reconstruction term
	ValidKL      float64 `json:"valid_kl"`       // its KL term
	Seconds      float64 `json:"seconds"`        // wall time of the epoch, validation included
	StepsPerSec  float64 `json:"steps_per_sec"`  // training updates per second
	// GradVar is the -track-gradvar measurement made after the epoch, if
	// one was.
	GradVar *eval.GradVarReport `json:"gradvar,omitempty"`
}

// writeConfig writes cfg to dir/config.json through a temporary file.
func writeConfig(dir string, cfg Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ConfigFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// appendMetrics appends one JSON line to dir/metrics.jsonl.
func appendMetrics(dir string, m Metrics) error {
	path := filepath.Join(dir, MetricsFile)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	return nil
}

// truncateMetrics keeps the first `epochs` lines of dir/metrics.jsonl (none
// for a fresh run), dropping lines of epochs no checkpoint records.
func truncateMetrics(dir string, epochs int) error {
	path := filepath.Join(dir, MetricsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	keep, lines := 0, 0
	for keep < len(b) && lines < epochs {
		i := bytes.IndexByte(b[keep:], '\n')
		if i < 0 {
			break
		}
		keep += i + 1
		lines++
	}
	if keep == len(b) {
		return nil
	}
	if err := os.Truncate(path, int64(keep)); err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	return nil
}
