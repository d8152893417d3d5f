//go:build unix

package sweep

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup makes cmd's process the leader of a new process group.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks p to stop: SIGTERM, which train and eval handle by
// saving (train) and exiting with status 130.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
