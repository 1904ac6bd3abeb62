# The whole suite is `make test`; CI runs `make lint` and `make test` (.ci/run).
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 1s
STATICCHECK = $(GO) tool -modfile=tools/go.mod staticcheck

.PHONY: all test unit bench lint fmt vet staticcheck fuzz bench-deps bench-compare bench-check notebook-deps notebooks loadtest slurm-deps slurm-test

all: lint test

## test: the whole suite (unit tests, examples, and the quick runs of every experiment)
test: unit

## unit: go test over every package (the quick runs of every experiment take most of the time)
unit:
	$(GO) test -count=1 -timeout 40m $(PKGS)

## fuzz: every fuzz target for FUZZTIME each (the committed corpora run in make test too)
FUZZTIME ?= 5s
FUZZ_TARGETS = datasets:FuzzParseIDX datasets:FuzzLoadIDXPair datasets:FuzzReadBlob datasets:FuzzDarcyCache \
	datasets:FuzzNavierStokesCache datasets:FuzzLPCache datasets:FuzzDeblurCache train:FuzzLoadCheckpoint \
	serve:FuzzDecodeRequest serve:FuzzFastDecode serve:FuzzDecodeBinary
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime runs out while a worker is busy on a
# loaded machine (go.dev/issue/75804, fixed in Go 1.27): no input failed,
# none is written. Such a run is retried once; any other failure, or a
# written failing input, fails at once.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		for try in 1 2; do \
			echo "fuzz ./$$pkg $$name ($(FUZZTIME))"; \
			if $(GO) test ./$$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) >/tmp/fuzz-$$name.log 2>&1; then break; fi; \
			if [ $$try = 1 ] && grep -q '^    context deadline exceeded$$' /tmp/fuzz-$$name.log \
				&& ! grep -q 'Failing input written' /tmp/fuzz-$$name.log; then \
				echo "  the coordinator's deadline race (go.dev/issue/75804), no failing input: trying once more"; continue; fi; \
			tail -30 /tmp/fuzz-$$name.log; exit 1; \
		done; \
	done

## loadtest: the server under load on loopback, bounded in time: LOADTEST_CLIENTS clients for LOADTEST_SECONDS per phase
## (a mix of budgets and bad requests, then uniform requests); asserts no 5xx, one answer per request, no goroutine
## left after the shutdown; then cmd/serve as a process, started and stopped (SIGTERM, draining) by its pid with bounded
## waits; throughput and latency go to the log and .cache/loadtest.json (make test runs a smaller one)
LOADTEST_CLIENTS ?= 64
LOADTEST_SECONDS ?= 5
loadtest:
	@mkdir -p .cache
	LOADTEST_CLIENTS=$(LOADTEST_CLIENTS) LOADTEST_SECONDS=$(LOADTEST_SECONDS) LOADTEST_OUT=$(CURDIR)/.cache/loadtest.json \
		$(GO) test -count=1 -run '^(TestLoad|TestProcessUnderLoadAndSIGTERM)$$' -v -timeout 10m ./serve ./cmd/serve

## slurm-deps: Debian's Slurm and MUNGE (and python3, which compares the runs), for make slurm-test
SLURM_PACKAGES := slurm-wlm munge python3
slurm-deps:
	@missing=""; for p in $(SLURM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing)) >/dev/null; \
	fi

## slurm-test: a one-node Slurm cluster on localhost (munged, slurmctld, slurmd, started and stopped by their pids) runs the
## quick ablation as a 3-task array plus a dependent merge, requeues one task mid-run, and checks the merged report against
## a single process's (deploy/slurm/localtest.sh; needs root; SLURM_TEST_TIMEOUT bounds the wait, default 280 s)
slurm-test: slurm-deps
	deploy/slurm/localtest.sh

## bench: benchmarks with allocation counts (speed and memory targets live here)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

## lint: gofmt, go vet and staticcheck (pinned in tools/go.mod)
lint: fmt vet staticcheck

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags openblas $(PKGS) # type-checks the OpenBLAS build too (no linking, so no library needed)

staticcheck:
	$(STATICCHECK) $(PKGS)

## bench-deps: what the PyTorch comparison and the OpenBLAS build need (Debian packages; never needed by tests)
bench-deps:
	@missing=""; \
	dpkg -s python3-torch >/dev/null 2>&1 || missing="$$missing python3-torch"; \
	dpkg -s python3-numpy >/dev/null 2>&1 || missing="$$missing python3-numpy"; \
	dpkg -s libopenblas-dev >/dev/null 2>&1 || missing="$$missing libopenblas-dev"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		(apt-get install -y $$missing || (apt-get update && apt-get install -y $$missing)) >/dev/null; \
	fi

## bench-compare: both Go builds (default, OpenBLAS) vs the PyTorch twins (per-sample port and batched) on every
## twinned workload, alternating, medians of 3 pairs (docs/performance.md); COMPARE_FLAGS='-cases ...' picks cases
# Both sides get the OpenBLAS kernel this CPU's flags call for
# (BENCH_CORETYPE), whatever OPENBLAS_CORETYPE the shell inherited: OpenBLAS's
# detection fails on some virtual CPUs (generic Prescott kernels, 5x slower
# GEMM), and an environment that exports OPENBLAS_CORETYPE=Haswell (as one of
# this project's machines does) silently halved PyTorch's GEMM in the table of
# 2026-12-05. BENCH_CORETYPE=... picks another kernel on purpose.
OPENBLAS_GUESS = $(shell grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && echo Cooperlake || (grep -q avx512f /proc/cpuinfo 2>/dev/null && echo SkylakeX) || (grep -q avx2 /proc/cpuinfo 2>/dev/null && echo Haswell))
BENCH_CORETYPE ?= $(OPENBLAS_GUESS)
bench-compare: bench-deps
	$(GO) build -o bin/gobench ./bench/gobench
	$(GO) build -tags openblas -o bin/gobench-openblas ./bench/gobench
	@if [ -n "$$OPENBLAS_CORETYPE" ] && [ "$$OPENBLAS_CORETYPE" != "$(BENCH_CORETYPE)" ]; then echo "bench-compare: OPENBLAS_CORETYPE=$$OPENBLAS_CORETYPE inherited; using $(BENCH_CORETYPE), the kernel this CPU's flags call for (BENCH_CORETYPE=... overrides)"; fi
	OPENBLAS_CORETYPE=$(BENCH_CORETYPE) $(GO) run ./bench/compare -gobench bin/gobench,bin/gobench-openblas $(COMPARE_FLAGS)

## bench-check: every PyTorch twin started from its Go model's initial weights must give the same losses and
## iteration counts over the first steps, and draw its own weights from the same distributions (no timing)
bench-check: bench-deps
	$(GO) build -o bin/gobench ./bench/gobench
	$(GO) run ./bench/compare -check -gobench bin/gobench -steps 0 -warmup 3 -trace 3 -infer-reps 1 $(COMPARE_FLAGS)

# Notebooks: Debian's Jupyter, and GoNB with goimports pinned in
# tools/notebooks/go.mod (the module proxy lists no GoNB versions, so
# `go install pkg@version` cannot find it; a pinned tool module can).
NB_BIN      := $(CURDIR)/.cache/notebook-bin
NB_OUT      := $(CURDIR)/.cache/notebooks
NB_PACKAGES := jupyter-nbconvert python3-ipykernel jupyter-client jupyter-notebook
NOTEBOOKS   ?= $(wildcard notebooks/*.ipynb)

## notebook-deps: Jupyter (Debian packages), GoNB and goimports, and the GoNB kernel (never needed by make test)
notebook-deps:
	@missing=""; for p in $(NB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing)) >/dev/null; \
	fi
	cd tools/notebooks && GOBIN=$(NB_BIN) $(GO) install tool
	PATH=$(NB_BIN):$$PATH gonb --install --force_deps >/dev/null 2>&1 # gopls only serves completion

## notebooks: execute every notebook headless, failing on the first failing cell (outputs go to .cache/notebooks; NOTEBOOKS_INPLACE=1 saves them into the notebooks)
notebooks: notebook-deps
	@mkdir -p $(NB_OUT)
	@for nb in $(NOTEBOOKS); do \
		start=$$(date +%s); \
		if [ -n "$(NOTEBOOKS_INPLACE)" ]; then where="--inplace"; else where="--output-dir $(NB_OUT)"; fi; \
		PATH=$(NB_BIN):$$PATH jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 $$where $$nb > $(NB_OUT)/$$(basename $$nb .ipynb).log 2>&1 \
			|| { echo "FAIL $$nb:"; grep -v '^[IWE][0-9]\{4\} ' $(NB_OUT)/$$(basename $$nb .ipynb).log | tail -40; exit 1; }; \
		echo "ok   $$nb ($$(( $$(date +%s) - start )) s)"; \
	done
