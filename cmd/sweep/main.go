// Sweep runs the grids of training runs that reproduce Table 1 of Jang, Gu
// & Poole (2017), one cell per process, under the engine you already have:
// a Slurm job array, a Kubernetes Indexed Job, or xargs -P.
//
// Usage:
//
//	sweep list -grid notebook|paper [-json | -indices | -count] [-runs DIR]
//	sweep run -grid G [-index I] [-runs DIR] [-results DIR] [-bin DIR]
//	sweep collect -grid G [-results DIR] [-out DIR]
//
// A cell is one command line of train followed by one of eval bound; run
// starts them as child processes, takes its index from -index,
// $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX, skips a finished cell,
// resumes a partial one, and on SIGTERM lets train save its position and
// exits with status 130. collect lays the finished cells out as Table 1.
package main

import "gsvae/internal/cli"

func main() { cli.Main("sweep", run) }
