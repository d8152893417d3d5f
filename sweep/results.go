package sweep

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// publish writes the small files of the cell's run (config.json,
// metrics.jsonl, eval.json), its record (cell.json) and, last, the done
// marker into a temporary folder beside resDir, then renames that folder
// to resDir, replacing an unfinished one. Every file and both folders are
// synced, so a crash leaves either no result folder or a complete one
// (the rename is atomic on one filesystem). Checkpoints are not copied.
func publish(c Cell, runDir, resDir string, rec Record) (err error) {
	parent := filepath.Dir(resDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+c.Name+".tmp-")
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer func() {
		if tmp != "" {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	for _, name := range []string{ConfigFile, MetricsFile, EvalFile} {
		b, err := os.ReadFile(filepath.Join(runDir, name))
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if err := writeSynced(filepath.Join(tmp, name), b); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, CellFile), append(b, '\n')); err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, DoneFile), []byte(rec.Finished+"\n")); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if _, err := os.Lstat(resDir); err == nil {
		// An unfinished folder of the same name (a folder cannot be
		// renamed over a non-empty one): move it aside, then remove it.
		old, err := os.MkdirTemp(parent, "."+c.Name+".old-")
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		old = filepath.Join(old, c.Name)
		if err := os.Rename(resDir, old); err != nil {
			return fmt.Errorf("publish: replace %s: %w", resDir, err)
		}
		defer func() { err = errors.Join(err, os.RemoveAll(filepath.Dir(old))) }()
	}
	if err := os.Rename(tmp, resDir); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	tmp = ""
	return syncDir(parent)
}

// writeSynced writes b to a new file at path and syncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", path, err)
	}
	return nil
}

// syncDir syncs a folder, so that the names created or renamed in it last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// EvalReport holds the fields of eval.json that the sweep reads.
type EvalReport struct {
	Checkpoint   string  `json:"checkpoint"`
	Epoch        int     `json:"epoch"`
	Split        string  `json:"split"`
	N            int     `json:"n"`
	NegELBO      float64 `json:"neg_elbo"`
	NegELBOSE    float64 `json:"neg_elbo_se"`
	IWK          int     `json:"iw_k"`
	NegIWBound   float64 `json:"neg_iw_bound"`
	NegIWBoundSE float64 `json:"neg_iw_bound_se"`
}

// Result is what the result folder of one cell holds.
type Result struct {
	Cell     Cell
	Finished bool  // the done marker exists
	Err      error // a finished cell whose files could not be read
	// BestValid is the lowest valid_neg_elbo of metrics.jsonl, reached at
	// epoch BestEpoch: the state of best.ckpt, which eval evaluated.
	BestValid float64
	BestEpoch int
	Epochs    int // epochs trained: lines of metrics.jsonl
	// TrainSeconds is the sum of the epochs' seconds in metrics.jsonl: the
	// cell's whole training, where Record.TrainSeconds counts only the
	// last invocation of train (a resumed run's remainder).
	TrainSeconds float64
	Test         EvalReport
	Record       Record
}

// Read reads the result folder of every cell of g under the root
// results. Cells without a done marker are returned unfinished; a
// finished cell whose files cannot be read is returned with Err set.
func Read(results string, g Grid) []Result {
	out := make([]Result, len(g.Cells))
	for i, c := range g.Cells {
		out[i] = readCell(c.ResultDir(results), c)
	}
	return out
}

func readCell(dir string, c Cell) Result {
	r := Result{Cell: c}
	if _, err := os.Stat(filepath.Join(dir, DoneFile)); err != nil {
		return r
	}
	r.Finished = true
	if err := readJSON(filepath.Join(dir, EvalFile), &r.Test); err != nil {
		r.Err = err
		return r
	}
	if err := readJSON(filepath.Join(dir, CellFile), &r.Record); err != nil {
		r.Err = err
		return r
	}
	var cv curve
	cv, r.Err = readCurve(filepath.Join(dir, MetricsFile))
	r.BestValid, r.BestEpoch, r.Epochs, r.TrainSeconds = cv.best, cv.bestEpoch, cv.epochs, cv.seconds
	return r
}

// beats reports whether Collect would choose r over a cell of the same
// row and estimator whose lowest validation -ELBO is valid and whose index
// is index: r's is lower, or equal and r's index lower (Collect keeps the
// first of a tie).
func (r Result) beats(valid float64, index int) bool {
	return r.BestValid < valid || r.BestValid == valid && r.Cell.Index < index
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// curve is what a cell's metrics.jsonl says of its training: the lowest
// valid_neg_elbo, its epoch (the first, on ties, as train keeps the first
// best state), the number of epochs (lines) and the sum of their seconds.
type curve struct {
	best      float64
	bestEpoch int
	epochs    int
	seconds   float64
}

// readCurve is parseCurve of the metrics file at path, its errors naming
// the file.
func readCurve(path string) (curve, error) {
	f, err := os.Open(path)
	if err != nil {
		return curve{}, err
	}
	defer f.Close()
	cv, err := parseCurve(f)
	if err != nil {
		return curve{}, fmt.Errorf("%s: %w", path, err)
	}
	return cv, nil
}

// parseCurve reads the metrics lines in r. Every line must have a
// valid_neg_elbo; a line without seconds adds none.
func parseCurve(r io.Reader) (curve, error) {
	cv := curve{best: math.Inf(1)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // lines with gradient reports are long
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var m struct {
			Epoch        int      `json:"epoch"`
			ValidNegELBO *float64 `json:"valid_neg_elbo"`
			Seconds      float64  `json:"seconds"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return curve{}, fmt.Errorf("line %d: %w", cv.epochs+1, err)
		}
		cv.epochs++
		if m.ValidNegELBO == nil {
			return curve{}, fmt.Errorf("line %d: no valid_neg_elbo", cv.epochs)
		}
		if *m.ValidNegELBO < cv.best {
			cv.best, cv.bestEpoch = *m.ValidNegELBO, m.Epoch
		}
		cv.seconds += m.Seconds
	}
	if err := sc.Err(); err != nil {
		return curve{}, err
	}
	if cv.epochs == 0 {
		return curve{}, errors.New("no epochs")
	}
	return cv, nil
}
