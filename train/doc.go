// Package train provides the training run of the Gumbel-Softmax VAE: the
// temperature schedule, the optimisers (Adam, SGD with momentum), the epoch loop with its progress
// bar, metrics and checkpoints, and resuming a run from its checkpoint.
package train
