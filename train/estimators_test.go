package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gsvae/data"
	"gsvae/estimator"
	"gsvae/model"
)

// TestEveryEstimatorTrains trains the paper's two VAEs, 20x10 categorical
// and 200 Bernoulli (784-512-256 encoder), with every estimator for 300
// updates of 10 images on the first 2,000 training images, and requires
// every loss and gradient to stay finite (update refuses a non-finite one)
// and the mean loss of the last 50 updates to be below 90% of the mean of
// the first 50: each estimator must make real progress, not merely not
// diverge. (Batch 10 keeps the 16 runs within a minute; the closing notes
// give the 5-epoch comparison at batch 100.)
func TestEveryEstimatorTrains(t *testing.T) {
	const steps, batch, window = 300, 10, 50
	dir, err := data.FindDir("")
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _, _, err := data.Load(dir, 2000)
	if err != nil {
		t.Fatal(err)
	}
	bernoulli := model.DefaultConfig()
	bernoulli.Kind, bernoulli.N, bernoulli.K = model.LatentBernoulli, 200, 2
	for _, m := range []model.Config{model.DefaultConfig(), bernoulli} {
		for _, name := range estimator.Names {
			t.Run(fmt.Sprintf("%s/%s", m.Kind, name), func(t *testing.T) {
				cfg := Defaults()
				cfg.Model, cfg.Batch, cfg.Out = m, batch, t.TempDir()
				cfg = cfg.WithEstimator(name)
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				st, err := NewState(cfg)
				if err != nil {
					t.Fatal(err)
				}
				est := newEstimator(t, st)
				rng := rand.New(st.RNG)
				batches := data.NewBatches(trainSet, batch, data.Fixed, rng)
				x := est.X.Float32s()
				var first, last float64
				for step := 0; step < steps; step++ {
					rows := batches.Next(x)
					if rows == 0 {
						batches.Shuffle()
						rows = batches.Next(x)
					}
					loss, err := st.update(est, rows, cfg.temperature(st.Step), rng)
					if err != nil {
						t.Fatal(err)
					}
					if step < window {
						first += loss / window
					}
					if step >= steps-window {
						last += loss / window
					}
				}
				t.Logf("%s %s: mean loss %.1f over the first %d updates, %.1f over the last %d", m.Kind, name, first, window, last, window)
				if !(last < 0.9*first) || math.IsNaN(last) {
					t.Errorf("mean loss went from %.2f to %.2f: want below 90%%", first, last)
				}
			})
		}
	}
}
