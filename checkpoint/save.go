package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// fileMode is the permission Save gives a checkpoint file.
const fileMode = 0o644

// Save writes f to path crash-safely: it encodes f into a temporary file in
// the same folder, syncs and closes it, renames it over path and syncs the
// folder, so path always holds either the previous checkpoint or the complete
// new one. The file gets mode 0644. If anything before the rename fails, the
// temporary file is removed and any previous file at path is untouched. If
// only the final folder sync fails, the new file is in place but its
// durability is not guaranteed, and that error is returned. Errors name path.
func Save(path string, f *File) error {
	return osSaver.save(path, f)
}

// saver holds the file-system steps of Save that tests replace to simulate
// failures after the temporary file has been written.
type saver struct {
	rename  func(oldpath, newpath string) error
	syncDir func(dir string) error
}

// osSaver is the saver that Save uses.
var osSaver = saver{rename: os.Rename, syncDir: syncDir}

func (s saver) save(path string, f *File) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("save checkpoint %s: %w", path, err)
		}
	}()
	dir, base := filepath.Split(path)
	if base == "" {
		return errors.New("checkpoint: path has no file name")
	}
	dir = filepath.Clean(dir)
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	if err := writeFile(tmp, f); err != nil {
		return errors.Join(err, removeTemp(tmpName))
	}
	if err := s.rename(tmpName, path); err != nil {
		return errors.Join(err, removeTemp(tmpName))
	}
	if err := s.syncDir(dir); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// writeFile encodes f into tmp, flushes it to stable storage and closes it;
// tmp is closed even when an earlier step fails.
func writeFile(tmp *os.File, f *File) error {
	err := Encode(tmp, f)
	if err == nil {
		err = tmp.Chmod(fileMode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// removeTemp deletes a temporary file left by a failed Save.
func removeTemp(name string) error {
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}

// syncDir flushes the folder's entries, making a rename inside it durable.
// Windows cannot open a folder for syncing, so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// Load reads and verifies the checkpoint at path, as written by Save. Errors
// have the form "load checkpoint <path>: ..." and wrap the cause, so
// errors.Is works with the package's sentinel errors and with fs.ErrNotExist.
func Load(path string) (*File, error) {
	f, err := load(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return f, nil
}

func load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(bufio.NewReaderSize(fh, initialReadChunk))
	if cerr := fh.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}
