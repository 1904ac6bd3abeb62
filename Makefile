# The whole suite is `make test`; CI runs `make lint` and `make test` (.ci/run).
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 1s
STATICCHECK = $(GO) tool -modfile=tools/go.mod staticcheck

.PHONY: all test unit bench lint fmt vet staticcheck bench-deps bench-compare

all: lint test

## test: the whole suite (unit tests, examples, and the quick runs of every experiment)
test: unit

## unit: go test over every package
unit:
	$(GO) test -count=1 $(PKGS)

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

## bench-compare: Go (OpenBLAS build) vs PyTorch on the classify models, alternating, medians of 3 pairs
bench-compare: bench-deps
	$(GO) build -tags openblas -o bin/gobench ./bench/gobench
	$(GO) run ./bench/compare -gobench bin/gobench $(COMPARE_FLAGS)
