package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrLocked reports that another train process is writing the same output
// folder.
var ErrLocked = errors.New("output folder is in use")

// lockRun takes an exclusive flock(2) on dir/train.lock, so two train
// processes never write the same folder. The lock is released by the
// returned function (closing the file releases it), and by the kernel if
// the process dies, so a crash leaves no stale lock. The file holds the
// owner's process id, for people.
func lockRun(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		err = errors.Join(err, f.Close())
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner, readErr := os.ReadFile(path)
			if readErr != nil {
				owner = []byte("unknown")
			}
			return nil, fmt.Errorf("%w: another train process (pid %s) is writing to %s", ErrLocked, owner, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		return nil, errors.Join(fmt.Errorf("lock %s: %w", path, err), f.Close())
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return nil, errors.Join(fmt.Errorf("lock %s: %w", path, err), f.Close())
	}
	return f.Close, nil
}
