//go:build !unix

package sweep

import (
	"os"
	"os/exec"
)

// ownProcessGroup does nothing where there are no process groups.
func ownProcessGroup(cmd *exec.Cmd) {}

// terminate kills p: without Unix signals a child cannot be asked to save.
func terminate(p *os.Process) error { return p.Kill() }
