package checkpoint

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.ckpt")
	for seed := range uint64(3) {
		in := sampleFile(seed)
		if err := Save(path, in); err != nil {
			t.Fatalf("Save #%d: %v", seed, err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatalf("Load #%d: %v", seed, err)
		}
		if !reflect.DeepEqual(got, normalized(in)) {
			t.Fatalf("Load #%d returned different content", seed)
		}
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		if !bytes.Equal(onDisk, encodeBytes(t, in)) {
			t.Fatalf("file #%d differs from Encode's output", seed)
		}
		if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"model.ckpt"}) {
			t.Fatalf("folder holds %v; want only model.ckpt", names)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Mode().Perm() != fileMode {
		t.Fatalf("file mode %v; want %v", info.Mode().Perm(), fs.FileMode(fileMode))
	}
}

func TestSaveRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := Save("run.ckpt", sampleFile(1)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if _, err := Load("run.ckpt"); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if names := dirEntries(t, "."); !reflect.DeepEqual(names, []string{"run.ckpt"}) {
		t.Fatalf("folder holds %v; want only run.ckpt", names)
	}
}

func TestSaveFailureKeepsPreviousFile(t *testing.T) {
	errInjected := errors.New("injected failure")
	failRename := saver{rename: func(string, string) error { return errInjected }, syncDir: syncDir}
	invalid := &File{Tensors: []Tensor{sampleTensor("w", 1), sampleTensor("w", 1)}}
	tests := []struct {
		name string
		save func(path string) error
		want error
	}{
		{"encode fails", func(path string) error { return Save(path, invalid) }, ErrCorrupt},
		{"rename fails", func(path string) error { return failRename.save(path, sampleFile(9)) }, errInjected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.ckpt")
			if err := Save(path, sampleFile(8)); err != nil {
				t.Fatalf("first Save: %v", err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			err = tc.save(path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Save error = %v; want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "save checkpoint "+path+": ") {
				t.Fatalf("error %q does not name the path", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile after failed Save: %v", err)
			}
			if !bytes.Equal(before, after) {
				t.Fatal("failed Save changed the previous checkpoint")
			}
			if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"model.ckpt"}) {
				t.Fatalf("folder holds %v after failed Save; want only model.ckpt", names)
			}
		})
	}
}

func TestSaveFolderSyncFailureIsReported(t *testing.T) {
	errInjected := errors.New("injected sync failure")
	s := saver{rename: os.Rename, syncDir: func(string) error { return errInjected }}
	dir := t.TempDir()
	path := filepath.Join(dir, "model.ckpt")
	err := s.save(path, sampleFile(1))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Save error = %v; want the injected error naming %s", err, path)
	}
	if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"model.ckpt"}) {
		t.Fatalf("folder holds %v; want only model.ckpt", names)
	}
}

func TestSaveInvalidTarget(t *testing.T) {
	dir := t.TempDir()
	occupied := filepath.Join(dir, "occupied")
	if err := os.Mkdir(occupied, 0o755); err != nil {
		t.Fatalf("Mkdir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(occupied, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"missing folder", filepath.Join(dir, "missing", "model.ckpt")},
		{"target is a folder", occupied},
		{"no file name", dir + string(filepath.Separator)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Save(tc.path, sampleFile(1))
			if err == nil {
				t.Fatal("Save succeeded")
			}
			if !strings.HasPrefix(err.Error(), "save checkpoint "+tc.path+": ") {
				t.Fatalf("error %q does not name the path", err)
			}
			if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"occupied"}) {
				t.Fatalf("folder holds %v; want only occupied", names)
			}
			if names := dirEntries(t, occupied); !reflect.DeepEqual(names, []string{"keep"}) {
				t.Fatalf("occupied holds %v; want only keep", names)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	damaged := filepath.Join(dir, "damaged.ckpt")
	data := encodeBytes(t, sampleFile(1))
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(damaged, data, 0o644); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	truncated := filepath.Join(dir, "truncated.ckpt")
	if err := os.WriteFile(truncated, encodeBytes(t, sampleFile(1))[:30], 0o644); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "missing.ckpt"), fs.ErrNotExist},
		{"damaged", damaged, ErrChecksum},
		{"truncated", truncated, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Load(tc.path)
			if f != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, %v; want nil, %v", f, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "load checkpoint "+tc.path+": ") {
				t.Fatalf("error %q does not name the path", err)
			}
		})
	}
}
