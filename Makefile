# stint — see README.md.
GO ?= go

.PHONY: all demo build test race lint bench fuzz tools

all: lint test

# stint's main job on the embedded default: the sandbox tenant, an embedded
# queue and ledger, and a one-minute story (see README).
demo:
	$(GO) run ./functions/stint demo

# Servers the tests run against (dynalite), from test/tools/package-lock.json.
tools: test/tools/node_modules/.installed

test/tools/node_modules/.installed: test/tools/package.json test/tools/package-lock.json
	npm ci --prefix test/tools --no-audit --no-fund --loglevel=error
	touch $@

# The Lambda binaries, as deployed: bin/<function>/bootstrap for the
# provided.al2023 runtime (linux/amd64, no cgo, no RPC shim).
FUNCTIONS := webhook worker sweep
LAMBDA_FLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'

build:
	$(GO) build ./...
	@for f in $(FUNCTIONS); do \
		echo "build bin/$$f/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(LAMBDA_FLAGS) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	done
	$(GO) build -trimpath -o bin/stint ./functions/stint
	@ls -l bin/*/bootstrap bin/stint | awk '{printf "%s %.1f MB\n", $$9, $$5/1048576}'

# Unit, conformance and end-to-end tests; also runs the fuzz seed corpus.
test: tools
	$(GO) test ./...

# The packages' tests under the race detector.
race: tools
	$(GO) test -race ./pkg/...

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Performance figures, reported by the benchmarks (never asserted by tests).
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Explore the event parser beyond its seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./pkg/event
