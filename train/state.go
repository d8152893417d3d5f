package train

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"gsvae/checkpoint"
	"gsvae/data"
	"gsvae/estimator"
	"gsvae/model"
)

// State is everything a run needs to continue exactly where it stopped:
// the settings, the weights, the optimiser's moments, the counters and the
// position of the random stream. It is what a checkpoint holds.
type State struct {
	Config Config        // the run's settings
	Params *model.Params // the weights
	Opt    *Optimizer    // the optimiser and its state
	// Epoch and Step count the epochs completed and the updates made.
	Epoch, Step int
	// RNG drives shuffling, dynamic binarization and the Gumbel noise of
	// training; it is saved so that a resumed run draws what the
	// uninterrupted run would have drawn.
	RNG *rand.PCG
	// Order and Next locate the epoch in progress when a run was stopped in
	// its middle (see data.Batches.Position); Order is nil at an epoch
	// boundary.
	Order []int
	Next  int
	// EpochLoss and EpochImages accumulate the training loss of the epoch
	// in progress: its sum over images, and their number.
	EpochLoss   float64
	EpochImages int
	// BestValid is the lowest validation -ELBO so far, +Inf before the
	// first epoch ends; best.ckpt holds the state that reached it.
	BestValid float64
	// Stats are the score-function estimators' moving averages of their
	// learning signal (see estimator.Stats).
	Stats estimator.Stats
}

// Random streams derived from Config.Seed, one per purpose, so that
// consuming one never shifts another.
const (
	streamInit  = 1 // weight initialisation
	streamTrain = 2 // shuffling, dynamic binarization, Gumbel noise
	streamValid = 3 // validation noise, offset by the epoch
	// streamGradVar picks the minibatch of -track-gradvar.
	streamGradVar = 4
)

// NewState returns the state of a fresh run of cfg: weights initialised
// from cfg.Seed, zero optimiser moments, no step taken.
func NewState(cfg Config) (*State, error) {
	p, err := model.NewParams(cfg.Model, tensor.Float32, rand.New(rand.NewPCG(cfg.Seed, streamInit)))
	if err != nil {
		return nil, err
	}
	sizes := make([]int, len(p.Tensors))
	for i, t := range p.Tensors {
		sizes[i] = t.Len()
	}
	opt, err := NewOptimizer(cfg.optimizer(), cfg.LR, sizes)
	if err != nil {
		return nil, err
	}
	return &State{
		Config:    cfg,
		Params:    p,
		Opt:       opt,
		RNG:       rand.NewPCG(cfg.Seed, streamTrain),
		BestValid: math.Inf(1),
		Stats:     estimator.Stats{Var: 1},
	}, nil
}

// Tensor name prefixes inside a checkpoint.
const (
	prefixParam = "param/"
	prefixOptM  = "opt.m/" // Adam's first moments, or the momentum velocity
	prefixOptV  = "opt.v/" // Adam's second moments
)

// file converts st into checkpoint content.
func (st *State) file() (*checkpoint.File, error) {
	cfg, err := json.Marshal(st.Config)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	rng, err := st.RNG.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode random state: %w", err)
	}
	f := &checkpoint.File{
		Config: cfg,
		Blobs: map[string][]byte{
			"rng":         rng,
			"order":       encodeInts(st.Order),
			"epoch_loss":  encodeFloat(st.EpochLoss),
			"best_valid":  encodeFloat(st.BestValid),
			"signal_mean": encodeFloat(st.Stats.Mean),
			"signal_var":  encodeFloat(st.Stats.Var),
		},
		Counters: map[string]int64{
			"epoch": int64(st.Epoch), "step": int64(st.Step), "opt_t": int64(st.Opt.T),
			"next": int64(st.Next), "epoch_images": int64(st.EpochImages),
		},
	}
	for i, name := range st.Params.Names {
		t := st.Params.Tensors[i]
		shape := []int(t.Shape().Clone())
		f.Tensors = append(f.Tensors,
			checkpoint.Tensor{Name: prefixParam + name, Shape: shape, Data: t.Float32s()},
			checkpoint.Tensor{Name: prefixOptM + name, Shape: shape, Data: st.Opt.M[i]})
		if st.Opt.V != nil {
			f.Tensors = append(f.Tensors, checkpoint.Tensor{Name: prefixOptV + name, Shape: shape, Data: st.Opt.V[i]})
		}
	}
	return f, nil
}

// Save writes st to path crash-safely (see checkpoint.Save): the previous
// file stays valid until the new one is complete.
func (st *State) Save(path string) error {
	f, err := st.file()
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return checkpoint.Save(path, f)
}

// Load reads a checkpoint written by State.Save and checks that its tensors
// fit the architecture its configuration describes. Errors name the path and
// what is wrong: not a checkpoint, truncated, corrupt, or a missing or
// misshapen tensor.
func Load(path string) (*State, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	st, err := stateFrom(f)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return st, nil
}

// stateFrom rebuilds a State from checkpoint content: the configuration
// decides the architecture, and every tensor must be there with the shape
// that architecture gives it.
func stateFrom(f *checkpoint.File) (*State, error) {
	var cfg Config
	if err := json.Unmarshal(f.Config, &cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Model.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg.Model.Input != data.Pixels {
		return nil, fmt.Errorf("config: %d input pixels, MNIST has %d", cfg.Model.Input, data.Pixels)
	}
	// Check the file against the architecture before allocating it, so a
	// configuration that lies about its size costs nothing.
	prefixes := []string{prefixParam, prefixOptM}
	if cfg.optimizer() == OptAdam {
		prefixes = append(prefixes, prefixOptV)
	}
	names, shapes := cfg.Model.Shapes()
	for i, name := range names {
		for _, prefix := range prefixes {
			t, err := f.Tensor(prefix + name)
			if err != nil {
				return nil, err
			}
			if !tensor.Shape(shapes[i]).Eq(tensor.Shape(t.Shape)) {
				return nil, fmt.Errorf("tensor %s has shape %v, the configuration needs %v", t.Name, tensor.Shape(t.Shape), tensor.Shape(shapes[i]))
			}
		}
	}
	st, err := NewState(cfg)
	if err != nil {
		return nil, err
	}
	for i, name := range st.Params.Names {
		dsts := []struct {
			prefix string
			data   []float32
		}{
			{prefixParam, st.Params.Tensors[i].Float32s()},
			{prefixOptM, st.Opt.M[i]},
		}
		if st.Opt.V != nil {
			dsts = append(dsts, struct {
				prefix string
				data   []float32
			}{prefixOptV, st.Opt.V[i]})
		}
		for _, dst := range dsts {
			t, err := f.Tensor(dst.prefix + name)
			if err != nil {
				return nil, err
			}
			copy(dst.data, t.Data)
		}
	}
	counters := map[string]*int{"epoch": &st.Epoch, "step": &st.Step, "opt_t": &st.Opt.T, "next": &st.Next, "epoch_images": &st.EpochImages}
	for name, dst := range counters {
		v, ok := f.Counters[name]
		if !ok || v < 0 || v > 1<<40 {
			return nil, fmt.Errorf("counter %q missing or out of range", name)
		}
		*dst = int(v)
	}
	if err := st.RNG.UnmarshalBinary(f.Blobs["rng"]); err != nil {
		return nil, fmt.Errorf("random state: %w", err)
	}
	if st.Order, err = decodeInts(f.Blobs["order"]); err != nil {
		return nil, fmt.Errorf("epoch order: %w", err)
	}
	if st.EpochLoss, err = decodeFloat(f.Blobs["epoch_loss"]); err != nil {
		return nil, fmt.Errorf("epoch loss: %w", err)
	}
	if st.BestValid, err = decodeFloat(f.Blobs["best_valid"]); err != nil {
		return nil, fmt.Errorf("best validation bound: %w", err)
	}
	if _, ok := f.Blobs["signal_mean"]; ok { // absent before the estimators existed
		if st.Stats.Mean, err = decodeFloat(f.Blobs["signal_mean"]); err != nil {
			return nil, fmt.Errorf("learning signal mean: %w", err)
		}
		if st.Stats.Var, err = decodeFloat(f.Blobs["signal_var"]); err != nil {
			return nil, fmt.Errorf("learning signal variance: %w", err)
		}
	}
	return st, nil
}

// encodeInts stores non-negative ints as little-endian uint32s.
func encodeInts(v []int) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func decodeInts(b []byte) ([]int, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a list of uint32", len(b))
	}
	if len(b) == 0 {
		return nil, nil
	}
	v := make([]int, len(b)/4)
	for i := range v {
		v[i] = int(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

func encodeFloat(x float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x))
}

func decodeFloat(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%d bytes, want 8", len(b))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
}
