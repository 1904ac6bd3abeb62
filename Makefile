# The whole suite is `make test`; CI runs `make lint` and `make test` (.ci/run).
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 1s
STATICCHECK = $(GO) tool -modfile=tools/go.mod staticcheck

.PHONY: all test unit bench lint fmt vet staticcheck

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
