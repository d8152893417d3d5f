package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gsvae/backend"
	"gsvae/data"
	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/model"
)

// Output says where a run reports: Log gets the start line and one summary
// line per epoch; Progress, if not nil, is called as the work advances,
// for a progress bar.
type Output struct {
	Log      io.Writer
	Progress func(Progress)
}

// Progress is one report of a run's progress.
type Progress struct {
	// Task names the work: "epoch 3/10", or "gradvar after epoch 3".
	Task string
	// Done and Total count its units ("steps" or "draws") so far and in
	// all; Done == Total ends the task.
	Done, Total int
	Unit        string
	// Loss and Tau are the last update's loss and temperature, during an
	// epoch.
	Loss, Tau float64
}

// report calls out.Progress if it is set.
func (out Output) report(p Progress) {
	if out.Progress != nil {
		out.Progress(p)
	}
}

// ErrExists reports that Out already holds a run that was not asked to be
// resumed.
var ErrExists = errors.New("output folder already holds a run")

// Run trains a fresh model with cfg and writes its files to cfg.Out. It
// refuses an Out that already holds a checkpoint (resume it instead) or
// that another train process holds. A cancelled ctx stops the run after
// the current update and saves the position reached to model.ckpt, from
// which Resume continues exactly.
func Run(ctx context.Context, cfg Config, out Output) (err error) {
	cfg = cfg.WithDefaults() // a resumed run sees its settings so, too
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	unlock, err := lockRun(cfg.Out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	ckpt := filepath.Join(cfg.Out, CheckpointFile)
	if _, err := os.Stat(ckpt); err == nil {
		return fmt.Errorf("%w: %s exists", ErrExists, ckpt)
	}
	st, err := NewState(cfg)
	if err != nil {
		return err
	}
	return st.run(ctx, out)
}

// Resume continues the run of st, loaded from its checkpoint (see Load)
// and with Epochs possibly raised, until st.Config.Epochs epochs are done.
// It refuses if the checkpoint on disk changed since st was loaded (another
// process trained in between).
func Resume(ctx context.Context, st *State, out Output) (err error) {
	if err := st.Config.Validate(); err != nil {
		return err
	}
	unlock, err := lockRun(st.Config.Out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	path := filepath.Join(st.Config.Out, CheckpointFile)
	now, err := Load(path)
	if err != nil {
		return err
	}
	if now.Step != st.Step || now.Epoch != st.Epoch || now.Next != st.Next {
		return fmt.Errorf("%s changed while it was being loaded (now epoch %d, step %d); resume again", path, now.Epoch, now.Step)
	}
	if st.Epoch >= st.Config.Epochs {
		fmt.Fprintf(logOf(out), "%s already has %d of %d epochs: nothing to do (raise -epochs to train further)\n", st.Config.Out, st.Epoch, st.Config.Epochs)
		return nil
	}
	return st.run(ctx, out)
}

// logOf returns out.Log, or io.Discard when it is nil.
func logOf(out Output) io.Writer {
	if out.Log == nil {
		return io.Discard
	}
	return out.Log
}

// run trains from st until st.Config.Epochs epochs are complete, saving
// after every epoch, and on interruption saving the position reached. The
// caller holds the folder's lock.
func (st *State) run(ctx context.Context, out Output) error {
	cfg := st.Config
	log := logOf(out)
	if err := writeConfig(cfg.Out, cfg); err != nil {
		return err
	}
	// metrics.jsonl keeps one line per completed epoch: a crash between
	// saving a checkpoint and appending its line, or a stale file in a
	// fresh folder, is put right here.
	if err := truncateMetrics(cfg.Out, st.Epoch); err != nil {
		return err
	}
	dir, err := data.FindDir(cfg.Data)
	if err != nil {
		return err
	}
	trainSet, validSet, _, err := data.Load(dir, cfg.Limit)
	if err != nil {
		return err
	}
	bin, err := data.ParseBinarization(cfg.Binarize)
	if err != nil {
		return err
	}
	est, err := estimator.New(cfg.Estimator, cfg.Model, st.Params, cfg.estimatorOptions())
	if err != nil {
		return err
	}
	if err := est.SetStats(st.Stats); err != nil {
		return err
	}
	rng := rand.New(st.RNG)
	batches := data.NewBatches(trainSet, cfg.Batch, bin, rng)
	fmt.Fprintf(log, "training %s with estimator %s (%d parameters) on %d images, batch %d, %d steps/epoch, epochs %d-%d, into %s\n%s\n",
		cfg.Model.Describe(), cfg.Estimator, st.Params.Len(), trainSet.N, cfg.Batch, batches.Len(), st.Epoch+1, cfg.Epochs, cfg.Out, backend.Describe())
	for st.Epoch < cfg.Epochs {
		if st.Order != nil {
			if err := batches.Seek(st.Order, st.Next); err != nil {
				return fmt.Errorf("continue epoch %d: %w", st.Epoch+1, err)
			}
			st.Order, st.Next = nil, 0
		} else {
			batches.Shuffle()
			st.EpochLoss, st.EpochImages = 0, 0
		}
		start := time.Now()
		updates, err := st.epoch(ctx, est, batches, rng, out)
		trainSecs := time.Since(start).Seconds()
		var valid eval.Bound
		if err == nil {
			valid, err = eval.NegELBO(ctx, cfg.Model, st.Params, validSet, 1, rand.New(rand.NewPCG(cfg.Seed, streamValid+uint64(st.Epoch))))
		}
		var gv *eval.GradVarReport
		if err == nil && cfg.TrackGradVar > 0 && (st.Epoch+1)%cfg.TrackGradVar == 0 {
			fmt.Fprintf(log, "measuring the estimators' gradient variance (every %d epochs)\n", cfg.TrackGradVar)
			gv, err = st.trackGradVar(ctx, trainSet, out)
		}
		if err != nil {
			// A non-finite gradient leaves the weights partly updated
			// (see Optimizer.Step): they are never saved.
			if ctx.Err() != nil && !errors.Is(err, ErrNonFinite) {
				return st.interrupt(batches, err)
			}
			return err
		}
		st.Epoch++
		m := Metrics{
			Estimator: cfg.Estimator, Latent: cfg.Model.Kind, KL: cfg.KL, Prior: cfg.Model.Prior,
			Epoch: st.Epoch, Step: st.Step, Tau: cfg.temperature(st.Step - 1),
			TrainNegELBO: st.EpochLoss / float64(st.EpochImages), ValidNegELBO: valid.NegELBO, ValidSE: valid.SE, ValidRec: valid.Rec, ValidKL: valid.KL,
			Seconds: time.Since(start).Seconds(), GradVar: gv,
		}
		if trainSecs > 0 {
			m.StepsPerSec = float64(updates) / trainSecs
		}
		best := valid.NegELBO < st.BestValid
		if best {
			st.BestValid = valid.NegELBO
		}
		// best.ckpt first: model.ckpt records BestValid, so it must not
		// claim a best that best.ckpt does not hold yet.
		if best {
			if err := st.Save(filepath.Join(cfg.Out, BestFile)); err != nil {
				return err
			}
		}
		if err := st.Save(filepath.Join(cfg.Out, CheckpointFile)); err != nil {
			return err
		}
		if err := appendMetrics(cfg.Out, m); err != nil {
			return err
		}
		// The SBN's loss has no KL: its -ELBO is the one-sample bound -L_1
		// on -log p(x_lower | x_upper).
		bound := map[bool]string{false: "-ELBO", true: "-L_1"}[cfg.Model.SBN()]
		fmt.Fprintf(log, "epoch %3d/%d  train %s %7.2f  valid %s %7.2f ± %.2f  tau %.3f  step %d  %.1f s\n",
			m.Epoch, cfg.Epochs, bound, m.TrainNegELBO, bound, m.ValidNegELBO, m.ValidSE, m.Tau, m.Step, m.Seconds)
		if gv != nil {
			fmt.Fprintf(log, "  encoder gradient log10 variance:%s\n", summarize(gv))
		}
	}
	return nil
}

// Interrupted reports a run stopped by its context after saving the
// position reached to Checkpoint, from which Resume continues exactly.
// It wraps the context's error (context.Canceled for Ctrl-C).
type Interrupted struct {
	Step, Epoch int    // updates made, and the epoch in progress (from 1)
	Done, Of    int    // images of that epoch done, of all
	Checkpoint  string // the saved state
	Cause       error
}

// Error describes the stop and the state saved.
func (e *Interrupted) Error() string {
	return fmt.Sprintf("interrupted at step %d (epoch %d, %d of %d images done); saved %s: %v", e.Step, e.Epoch, e.Done, e.Of, e.Checkpoint, e.Cause)
}

// Unwrap returns the context's error.
func (e *Interrupted) Unwrap() error { return e.Cause }

// interrupt saves the position reached in the current epoch to model.ckpt,
// so that a resumed run continues exactly there, and returns an
// *Interrupted wrapping cause.
func (st *State) interrupt(batches *data.Batches, cause error) error {
	st.Order, st.Next = batches.Position()
	path := filepath.Join(st.Config.Out, CheckpointFile)
	if err := st.Save(path); err != nil {
		return fmt.Errorf("interrupted at step %d, and saving failed (the previous checkpoint is intact): %w", st.Step, errors.Join(cause, err))
	}
	return &Interrupted{Step: st.Step, Epoch: st.Epoch + 1, Done: st.Next, Of: len(st.Order), Checkpoint: path, Cause: cause}
}

// epoch continues the current epoch of batches to its end, accumulating the
// training loss in st, and returns the number of updates it made. It checks
// ctx before every update and stops with ctx's error, leaving batches and
// the random stream just after the last update, so that the position can be
// saved and resumed exactly.
func (st *State) epoch(ctx context.Context, est *estimator.Estimator, batches *data.Batches, rng *rand.Rand, out Output) (updates int, err error) {
	cfg := st.Config
	p := Progress{Task: fmt.Sprintf("epoch %d/%d", st.Epoch+1, cfg.Epochs), Total: batches.Len(), Unit: "steps"}
	if _, next := batches.Position(); next > 0 {
		p.Done = (next + cfg.Batch - 1) / cfg.Batch
	}
	out.report(p)
	x := est.X.Float32s()
	for {
		if err := ctx.Err(); err != nil {
			return updates, err
		}
		rows := batches.Next(x)
		if rows == 0 {
			return updates, nil
		}
		tau := cfg.temperature(st.Step)
		loss, err := st.update(est, rows, tau, rng)
		if err != nil {
			return updates, err
		}
		updates++
		st.EpochLoss += loss * float64(rows)
		st.EpochImages += rows
		p.Done, p.Loss, p.Tau = p.Done+1, loss, tau
		out.report(p)
	}
}

// update makes one optimiser step on the batch in the first rows of est.X
// at temperature tau, drawing the Gumbel noise from rng, and returns the
// batch loss. A non-finite loss or gradient stops it before the weights
// change.
func (st *State) update(est *estimator.Estimator, rows int, tau float64, rng *rand.Rand) (float64, error) {
	if err := est.SetRows(rows); err != nil {
		return 0, err
	}
	if err := est.Estimate(tau, rng); err != nil {
		return 0, fmt.Errorf("step %d: %w", st.Step, err)
	}
	loss := est.Loss()
	params := make([][]float32, len(est.Grads()))
	grads := make([][]float32, len(params))
	for i, g := range est.Grads() {
		params[i] = st.Params.Tensors[i].Float32s()
		grads[i] = g.Float32s()
	}
	if err := st.checkLoss(est, loss); err != nil {
		return 0, err
	}
	if i := st.Opt.Step(params, grads); i >= 0 {
		g := grads[i]
		return 0, fmt.Errorf("%w: gradient of %s is %v at step %d; %s", ErrNonFinite, st.Params.Names[i], g[slices.IndexFunc(g, func(v float32) bool { return v-v != 0 })], st.Step, st.lastCheckpoint())
	}
	st.Stats = est.Stats()
	st.Step++
	return loss, nil
}

// trackGradVar measures every estimator at the current weights on a fixed
// training minibatch (the same at every measurement), the tempered ones at
// the current temperature, with TrackDraws draws each and a muprop
// reference of 10 times as many. Its random streams are its own, so
// tracking does not change the training run.
func (st *State) trackGradVar(ctx context.Context, trainSet *data.Split, out Output) (*eval.GradVarReport, error) {
	cfg := st.Config
	b := data.NewBatches(trainSet, min(cfg.Batch, trainSet.N), data.Fixed, rand.New(rand.NewPCG(cfg.Seed, streamGradVar)))
	b.Shuffle()
	x := make([]float32, min(cfg.Batch, trainSet.N)*cfg.Model.Input)
	b.Next(x)
	m, p, err := estimator.FitBaseline(cfg.Model, st.Params, x, estimator.FitBaselineSteps, cfg.Seed)
	if err != nil {
		return nil, err
	}
	task := fmt.Sprintf("gradvar after epoch %d", st.Epoch+1)
	rep, err := eval.GradVar(ctx, m, p, x, eval.GradVarOptions{
		Estimators: estimator.Names, Taus: []float64{cfg.temperature(st.Step - 1)},
		Draws: cfg.TrackDraws, RefDraws: 10 * cfg.TrackDraws, Warmup: eval.DefaultWarmup, Seed: cfg.Seed + uint64(st.Epoch),
	}, func(done, total int) {
		out.report(Progress{Task: task, Done: done, Total: total, Unit: "draws"})
	})
	if err != nil {
		return nil, fmt.Errorf("track gradient variance: %w", err)
	}
	eval.SortStats(rep.Stats)
	return rep, nil
}

// summarize lists each estimator's encoder log10 variance, as in
// " gs -3.1 st-gs -2.6 ...".
func summarize(rep *eval.GradVarReport) string {
	var b strings.Builder
	for _, s := range rep.Stats {
		if s.Part == model.PartEncoder {
			fmt.Fprintf(&b, " %s %.2f", s.Estimator, s.Log10Var)
		}
	}
	return b.String()
}

// ErrNonFinite reports a NaN or infinite loss or gradient: training stops,
// discarding the weights in memory and keeping the last checkpoint as it
// was.
var ErrNonFinite = errors.New("non-finite value")

// checkLoss returns ErrNonFinite, naming the step and the terms that went
// bad, unless the loss is finite. (Optimizer.Step checks the gradients.)
func (st *State) checkLoss(est *estimator.Estimator, loss float64) error {
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		return nil
	}
	var bad []string
	for _, t := range []struct {
		name string
		v    []float64
	}{{"reconstruction", est.Rec()}, {"KL", est.KL()}} {
		if slices.ContainsFunc(t.v, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			bad = append(bad, t.name)
		}
	}
	return fmt.Errorf("%w: loss is %v at step %d (non-finite terms: %s); %s", ErrNonFinite, loss, st.Step, strings.Join(bad, ", "), st.lastCheckpoint())
}

// lastCheckpoint says what a stopped run leaves behind, for its error.
func (st *State) lastCheckpoint() string {
	path := filepath.Join(st.Config.Out, CheckpointFile)
	if _, err := os.Stat(path); err != nil {
		return "no checkpoint was written yet"
	}
	return path + " is kept as it was"
}
