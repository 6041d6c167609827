# gopherdl entry points. Every Go command here runs Go 1.27.3: a go command of 1.21 or
# newer fetches that toolchain through the Go module proxy once (about 76 MB). Every
# build uses GOEXPERIMENT=simd: GoMLX's pure-Go backend only has its AVX2/AVX-512
# kernels with it.
export GOTOOLCHAIN := go1.27.3
export GOEXPERIMENT := simd
GO ?= go
OUT ?= out

.PHONY: demo test test-go npm web fuzz check-notebooks test-notebooks test-image kernel notebook bench image help check-go serve bench-serve

help:
	@echo "make demo      train the article's CNN on the embedded dataset (no download, no flags)"
	@echo "make test      all tests: Go tests, bounded fuzzing, notebooks through the kernel"
	@echo "make kernel    install the GoNB Jupyter kernel for this project"
	@echo "make notebook  open Jupyter on notebooks/"
	@echo "make serve     serve the model of make demo over HTTP: a page, a prediction API, metrics ($(ADDR))"
	@echo "make bench     side-by-side training benchmark against PyTorch (make bench-serve: the model server under load)"
	@echo "make bench-serve  load-test the model server on loopback, batching on and off, against offline evaluation"
	@echo "make npm       install ONNX Runtime for Node.js and for the browser into $(OUT)/npm (the ONNX tests, make web)"
	@echo "make web       a static site of the model of make demo, run in the browser by onnxruntime-web ($(OUT)/web)"
	@echo "make image     build the JupyterLab container image"

check-go:
	@command -v $(GO) >/dev/null || { echo "Go is missing: install Go 1.21 or newer (https://go.dev/dl); it fetches Go 1.27.3 itself"; exit 1; }
	@$(GO) version >/dev/null 2>&1 || { echo "the go command could not get Go 1.27.3 (GOTOOLCHAIN=go1.27.3): it needs the Go module proxy once, or Go 1.27.3 installed"; exit 1; }

demo: check-go
	$(GO) run ./cmd/walkthrough -out $(OUT)/demo

test: test-go fuzz test-notebooks test-image

test-go: check-go npm
	@test -d /usr/share/datasets/fashion-mnist || { echo "missing Fashion-MNIST: apt-get install dataset-fashion-mnist (.ci/run does this)"; exit 1; }
	$(GO) vet ./...
	@test -z "$$(gofmt -l lib cmd bench)" || { echo "gofmt needed:"; gofmt -l lib cmd bench; exit 1; }
	$(GO) test -timeout 20m ./...

# Each fuzz target for a bounded time. New interesting inputs are minimised for at
# most FUZZMINIMIZE: Go's default (60 s) stalls a short run while it minimises.
FUZZTIME ?= 15s
FUZZMINIMIZE ?= 2s
FUZZ = $(GO) test ./lib/data/formats -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) -fuzz
fuzz: check-go
	$(FUZZ) '^FuzzReadIDXImages$$'
	$(FUZZ) '^FuzzReadIDXLabels$$'
	$(FUZZ) '^FuzzReadCIFAR$$'
	$(FUZZ) '^FuzzDecodeImage$$'
	$(GO) test ./lib/serve -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) -fuzz '^FuzzHTTP$$'
	$(GO) test ./lib/onnx -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) -fuzz '^FuzzDecode$$'

# ONNX Runtime for Node.js (the tests' reference runtime) and for the browser (make
# web), pinned, from npm. --ignore-scripts: onnxruntime-node's CPU library ships in
# the package; its install script only fetches GPU parts. Skipped when npm is
# missing (the ONNX tests then skip, saying so; in CI they fail).
NPM_PACKAGES := onnxruntime-node@1.30.0 onnxruntime-web@1.30.0
npm:
	@if ! command -v npm >/dev/null; then echo "npm is missing (apt-get install nodejs npm): the ONNX Runtime tests will skip"; \
	elif [ "$$(cat $(OUT)/npm/.installed 2>/dev/null)" != "$(NPM_PACKAGES)" ]; then \
		mkdir -p $(OUT)/npm && npm install --prefix $(OUT)/npm --ignore-scripts --no-audit --no-fund --loglevel=error $(NPM_PACKAGES) && \
		echo "$(NPM_PACKAGES)" > $(OUT)/npm/.installed; fi

# The kernel: installed for the user by `make kernel`; the tests install their own
# copy under $(OUT) so they never touch the user's Jupyter setup.
kernel: check-go
	kernel/install.sh

notebook: kernel
	cd notebooks && if command -v jupyter-lab >/dev/null; then jupyter-lab; else jupyter-notebook; fi

# The outputs saved in the notebooks (what a reader sees: figures kept, no machine
# paths, readable numbers, short outputs, every cell run, no quick-run outputs), and
# the tests of those checks. Needs no kernel.
check-notebooks:
	/usr/bin/python3 kernel/test_run_notebook.py
	/usr/bin/python3 kernel/run_notebook.py --check notebooks/*.ipynb

# Every notebook through the kernel in quick mode, with the same checks on the outputs.
TEST_JUPYTER := $(abspath $(OUT))/test-jupyter
test-notebooks: check-go check-notebooks
	JUPYTER_DATA_DIR=$(TEST_JUPYTER) GOPHERDL_HOME=$(abspath $(OUT))/test-gopherdl kernel/install.sh
	JUPYTER_DATA_DIR=$(TEST_JUPYTER) /usr/bin/python3 kernel/test_kernel.py
	@rm -rf $(OUT)/notebooks && mkdir -p $(OUT)/notebooks && touch $(OUT)/notebooks.started
	JUPYTER_DATA_DIR=$(TEST_JUPYTER) /usr/bin/python3 kernel/run_notebook.py --out $(OUT)/notebooks notebooks/*.ipynb
	@# The notebooks ran in $(OUT)/notebooks: nothing under notebooks/ (a learner's checkpoints) may change.
	@changed=$$(find notebooks -newer $(OUT)/notebooks.started | sed 10q); if [ -n "$$changed" ]; then \
		echo "FAIL notebooks/ changed during the notebook test (it runs in $(OUT)/notebooks):"; echo "$$changed"; exit 1; fi

# Side by side with PyTorch (Debian: apt-get install python3-torch; skipped with a
# message when torch is missing). Rounds in which other processes used the CPU are
# reported as contended and left out: run it on an otherwise idle machine. BENCH_FLAGS
# adds flags, e.g. BENCH_FLAGS="-rounds 5 -steps 80 -retries 10 -peer-default".
bench: check-go
	$(GO) run ./bench $(BENCH_FLAGS)

# The model of `make demo` behind HTTP (cmd/serve): the page on http://$(ADDR)/, the
# API on /v1/predict, metrics on /metrics. Ctrl-C drains and stops it.
ADDR ?= 127.0.0.1:8080
serve: check-go
	@ls -d $(OUT)/demo/checkpoints/epoch-* >/dev/null 2>&1 || { echo "no trained model in $(OUT)/demo: run make demo first (a minute or two)"; exit 1; }
	$(GO) run ./cmd/serve -model $(OUT)/demo -addr $(ADDR)

# A static site of the model of `make demo` in $(OUT)/web: the page, model.onnx and
# model.json, run in the browser by onnxruntime-web. Any static file server serves it,
# e.g. python3 -m http.server -d $(OUT)/web 8000.
web: check-go npm
	@ls -d $(OUT)/demo/checkpoints/epoch-* >/dev/null 2>&1 || { echo "no trained model in $(OUT)/demo: run make demo first (a minute or two)"; exit 1; }
	$(GO) run ./cmd/web -model $(OUT)/demo -npm $(OUT)/npm -out $(OUT)/web

# The model server under load on loopback: 32 clients for 20 s with batching on, then
# off, beside the model's offline Evaluate speed. BENCH_SERVE_FLAGS adds flags, e.g.
# BENCH_SERVE_FLAGS="-model out/demo -duration 30s".
bench-serve: check-go
	$(GO) run ./cmd/serve-bench $(BENCH_SERVE_FLAGS)

# The CPU image (TARGET=cuda for the CUDA one); XLA=0 for an offline build.
TARGET ?= cpu
image:
	docker/build.sh $(TARGET)

# Builds the CPU image offline (XLA=0) and checks it: with a Docker engine, or as root
# with buildah/podman (installed by docker/build.sh on Debian).
test-image:
	docker/test.sh
