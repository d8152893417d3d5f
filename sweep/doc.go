// Package sweep provides the grids of training runs that reproduce Table 1
// of Jang, Gu & Poole (2017), runs one cell of a grid as child processes
// of the train and eval commands, and collects the finished cells into the
// paper's table.
//
// It is not a scheduler: a grid is an ordered list of cells, each cell a
// command line of train followed by one of eval bound, and the engines
// people already have (Slurm job arrays, Kubernetes Indexed Jobs, xargs -P)
// hand each process one cell index.
//
// # Grids
//
// Two grids are defined, as data:
//
//	notebook  the authors' notebook protocol: Adam 1e-3, the default
//	          temperature schedule tau = max(0.5, exp(-3e-5 t)) recomputed
//	          every 1000 steps; one cell per row and estimator (48 cells)
//	paper     the paper's protocol on the paper's linear networks: SGD with
//	          momentum 0.9, the learning rate from {3e-5, 1e-5, 3e-4, 1e-4,
//	          3e-3, 1e-3} and, for the tempered estimators, the schedule
//	          N in {500, 1000} x r in {1e-5, 1e-4} (336 cells)
//
// The rows of Table 1 are a task, an architecture and a latent kind:
//
//	vae h512-256  784-512-256-(latent)-256-512-784 ReLU networks (-hidden
//	              512,256), the notebook's; notebook grid only
//	vae linear    784-(latent)-784 (-hidden none), the paper's 784-200-784
//	sbn sbn       structured output prediction, 392-200-200-392 (-task sbn)
//
// each with Bernoulli (200 binary variables) and categorical (20x10)
// latents. For the sbn rows, gs and st-gs keep the temperature at 1
// (-anneal-rate 0: the paper found annealing unnecessary there), while
// annealed-st keeps its schedule, which is what it anneals. Estimators that
// do not read the temperature (sf, darn, muprop, st, nvil) get the default
// schedule flags, which change nothing for them.
//
// # Indices
//
// A cell's index is its position in this enumeration, which is fixed: an
// index names the same run forever, so a Slurm array or an Indexed Job can
// be resubmitted, and results from different machines put side by side.
// New cells may only ever be added to a new grid.
//
//	for task in vae, sbn
//	  for arch in the task's architectures (vae: h512-256, linear)
//	    for latent in bernoulli, categorical
//	      for estimator in sf, darn, muprop, st, annealed-st, gs, st-gs, nvil
//	        for lr in 3e-5, 1e-5, 3e-4, 1e-4, 3e-3, 1e-3     (paper grid)
//	          for N in 500, 1000                            (paper grid, tempered)
//	            for r in 1e-5, 1e-4                         (paper grid, tempered)
//
// The estimators come in the paper's column order, nvil (which the paper
// does not have) last. A cell's name is task-latent-arch-estimator followed
// by its setting, such as vae-categorical-linear-gs-lr3e-4-n500-r1e-5 or
// vae-categorical-h512-256-gs; the arch is left out when it is the task's
// only one (sbn-bernoulli-gs-lr1e-3). Names are unique within a grid and
// made of lower-case letters, digits, dots and hyphens, so they serve as
// folder names.
//
// # Training length and model selection
//
// Every cell trains for 100 epochs of batch 100, 50,000 updates: the
// paper gives neither its batch size nor its number of updates, and
// 50,000 updates of batch 100 is what the authors' public notebook runs.
// All cells use seed 1. The checkpoint evaluated is best.ckpt, the state
// with the lowest validation -ELBO (discrete samples, measured after every
// epoch): early stopping on the validation set. It is evaluated on the
// test set with the importance-weighted bound of k = 1000 samples, as in
// the paper. Within a row, for each estimator, Collect picks the cell
// whose lowest validation -ELBO is lowest, as the paper picks its learning
// rate (and schedule) per estimator on validation; the test bound is then
// reported for that cell only. So a cell that a finished cell of its row
// and estimator already beats on validation when its training ends gets
// the test -ELBO alone (one sample), not the bound, which would never be
// reported: on the paper grid's small networks the bound is a fifth to a
// quarter of a cell's time, and most cells of a group of 6 or 24 finish
// after a better one (see
// Runner.Run for why the chosen cell always has its bound, and -eval-all
// of sweep run to evaluate every cell anyway).
//
// # Files
//
// Cell c of grid G trains into RUNS/G/NAME (checkpoints; never copied into
// the results) and, when train and eval have succeeded, its small files
// (config.json, metrics.jsonl, eval.json and cell.json, which records the
// command lines, the binaries' commit, the host and the times) are written
// into a temporary folder in RESULTS/G with a done marker last, and the
// folder is renamed to RESULTS/G/NAME. A cell whose done marker exists is
// finished and skipped; any other is resumed from its checkpoint.
package sweep
