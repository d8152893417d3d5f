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
	// learning signal, one per stochastic layer (see estimator.Stats).
	Stats []estimator.Stats
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
	opt, err := NewOptimizer(cfg.Optimizer, cfg.LR, sizes)
	if err != nil {
		return nil, err
	}
	return &State{
		Config:    cfg,
		Params:    p,
		Opt:       opt,
		RNG:       rand.NewPCG(cfg.Seed, streamTrain),
		BestValid: math.Inf(1),
		Stats:     newStats(cfg.Model.Layers()),
	}, nil
}

// newStats returns the starting moving averages of n stochastic layers.
func newStats(n int) []estimator.Stats {
	s := make([]estimator.Stats, n)
	for i := range s {
		s[i] = estimator.NewStats()
	}
	return s
}

// Tensor name prefixes inside a checkpoint, beside the parameters'
// model.ParamPrefix.
const (
	prefixOptM = "opt.m/" // Adam's first moments, or the momentum velocity
	prefixOptV = "opt.v/" // Adam's second moments
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
			"signal_mean": encodeFloats(statsField(st.Stats, func(s estimator.Stats) float64 { return s.Mean })),
			"signal_var":  encodeFloats(statsField(st.Stats, func(s estimator.Stats) float64 { return s.Var })),
		},
		Counters: map[string]int64{
			"epoch": int64(st.Epoch), "step": int64(st.Step), "opt_t": int64(st.Opt.T),
			"next": int64(st.Next), "epoch_images": int64(st.EpochImages),
		},
	}
	for i, t := range model.Tensors(st.Params) {
		name := st.Params.Names[i]
		f.Tensors = append(f.Tensors, t,
			checkpoint.Tensor{Name: prefixOptM + name, Shape: t.Shape, Data: st.Opt.M[i]})
		if st.Opt.V != nil {
			f.Tensors = append(f.Tensors, checkpoint.Tensor{Name: prefixOptV + name, Shape: t.Shape, Data: st.Opt.V[i]})
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
	cfg = cfg.WithDefaults()
	if err := cfg.Model.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg.Model.Input != data.Pixels {
		return nil, fmt.Errorf("config: %d input pixels, MNIST has %d", cfg.Model.Input, data.Pixels)
	}
	if cfg.Optimizer != OptAdam && cfg.Optimizer != OptMomentum {
		return nil, fmt.Errorf("config: optimizer %q: want %s or %s", cfg.Optimizer, OptAdam, OptMomentum)
	}
	// Check the file against the architecture before allocating it, so a
	// configuration that lies about its size costs nothing.
	prefixes := []string{model.ParamPrefix, prefixOptM}
	if cfg.Optimizer == OptAdam {
		prefixes = append(prefixes, prefixOptV)
	}
	for _, prefix := range prefixes {
		if err := model.CheckTensors(f, cfg.Model, prefix); err != nil {
			return nil, err
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
			{model.ParamPrefix, st.Params.Tensors[i].Float32s()},
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
		means, err := decodeFloats(f.Blobs["signal_mean"])
		if err != nil {
			return nil, fmt.Errorf("learning signal mean: %w", err)
		}
		vars, err := decodeFloats(f.Blobs["signal_var"])
		if err != nil {
			return nil, fmt.Errorf("learning signal variance: %w", err)
		}
		if len(means) != len(st.Stats) || len(vars) != len(st.Stats) {
			return nil, fmt.Errorf("learning signal averages of %d and %d layers for %d stochastic layers", len(means), len(vars), len(st.Stats))
		}
		for i := range st.Stats {
			st.Stats[i] = estimator.Stats{Mean: means[i], Var: vars[i]}
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

// statsField returns one field of every layer's moving averages.
func statsField(s []estimator.Stats, field func(estimator.Stats) float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = field(v)
	}
	return out
}

// encodeFloats stores float64s little-endian, 8 bytes each.
func encodeFloats(v []float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// decodeFloats reads what encodeFloats stored (a checkpoint from before
// the SBN holds one value per blob).
func decodeFloats(b []byte) ([]float64, error) {
	if len(b)%8 != 0 || len(b) > 8*16 {
		return nil, fmt.Errorf("%d bytes is not a short list of float64", len(b))
	}
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
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
