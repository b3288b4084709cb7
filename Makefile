# stint — see README.md.
GO ?= go

.PHONY: all build test lint bench fuzz tools

all: lint test

# Servers the tests run against (dynalite), from test/tools/package-lock.json.
tools: test/tools/node_modules/.installed

test/tools/node_modules/.installed: test/tools/package.json test/tools/package-lock.json
	npm ci --prefix test/tools --no-audit --no-fund --loglevel=error
	touch $@

build:
	$(GO) build ./...

# Unit, conformance and end-to-end tests; also runs the fuzz seed corpus.
test: tools
	$(GO) test ./...

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Performance figures, reported by the benchmarks (never asserted by tests).
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Explore the event parser beyond its seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./pkg/event
