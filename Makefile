# stint — see README.md.
GO ?= go

.PHONY: all demo build package test race lint bench fuzz tools model

all: lint test

# stint's main job on the embedded default: the sandbox tenant, an embedded
# queue and ledger, and a one-minute story (see README).
demo:
	$(GO) run ./functions/stint demo

# Servers the tests run against (dynalite; the Service Bus stand-in on rhea,
# cross-checked with @azure/service-bus), from test/tools/package-lock.json.
tools: test/tools/node_modules/.installed

test/tools/node_modules/.installed: test/tools/package.json test/tools/package-lock.json
	npm ci --prefix test/tools --no-audit --no-fund --loglevel=error
	touch $@

# The Lambda binaries, as deployed: bin/<function>/bootstrap for the
# provided.al2023 runtime (linux/arm64, no cgo, no RPC shim).
FUNCTIONS := webhook worker sweep
LAMBDA_ARCH ?= arm64
LAMBDA_FLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'
BIN ?= bin
# What stint version prints (pkg/cli): set here because go's own stamp
# (vcs.revision) is missing in a git worktree or with -buildvcs=false.
STAMP := -X github.com/stintdev/stint/pkg/cli.version=$(shell git describe --tags --always --dirty 2>/dev/null) \
	-X github.com/stintdev/stint/pkg/cli.commit=$(shell git rev-parse HEAD 2>/dev/null)

build:
	$(GO) build ./...
	@for f in $(FUNCTIONS); do \
		echo "build $(BIN)/$$f/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/$$f/bootstrap ./functions/$$f || exit 1; \
	done
	$(GO) build -trimpath -ldflags='$(STAMP)' -o $(BIN)/stint ./functions/stint
	@ls -l $(BIN)/*/bootstrap $(BIN)/stint | awk '{printf "%s %.1f MB\n", $$9, $$5/1048576}'

# The Lambda deployment packages: $(BIN)/<function>.zip, each holding the
# one file bootstrap, and their sizes and SHA-256. Reproducible: the build
# is -trimpath and stamps only the commit (vcs.revision, vcs.time,
# vcs.modified), and the zip has a fixed mode and time
# (functions/internal/zipper), so two packagings of one commit are
# byte-identical.
package:
	@for f in $(FUNCTIONS); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/$$f/bootstrap ./functions/$$f || exit 1; \
	done
	@$(GO) run ./functions/internal/zipper -dir $(BIN) $(FUNCTIONS)

# Unit, conformance and end-to-end tests; also runs the fuzz seed corpus and
# the model check (test/model: a fixed seed and a random one, N=300 on
# SQLite one actor at a time, N=150 on DynamoDB with the actors at once).
test: tools
	$(GO) test ./...

# The packages' tests under the race detector.
race: tools
	$(GO) test -race ./pkg/...

# The model check at scale (test/model): N contractors (default 10000), SEED
# (default random, printed). BACKEND=dynamodb runs it on the DynamoDB ledger
# (dynalite) with the worker, tick and reconcile at once; CONCURRENT=1 or 0
# chooses at once or one at a time on either backend. ONLY=c17,b3 and
# DROP=12,40 re-run a shrunk break; SHRINK=5m bounds shrinking (0 for none);
# TRACE=1 prints the history; VIOLATIONS=file writes every violation there.
model: $(if $(filter dynamodb,$(BACKEND)),tools)
	STINT_MODEL_N=$(or $(N),10000) STINT_MODEL_SEED=$(SEED) STINT_MODEL_ONLY=$(ONLY) STINT_MODEL_DROP=$(DROP) \
	STINT_MODEL_SHRINK=$(SHRINK) STINT_MODEL_TRACE=$(TRACE) STINT_MODEL_VIOLATIONS=$(VIOLATIONS) \
	STINT_MODEL_BACKEND=$(BACKEND) STINT_MODEL_CONCURRENT=$(CONCURRENT) \
		$(GO) test -run '^TestModelLarge$$' -count=1 -timeout 0 -v ./test/model

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Performance figures, reported by the benchmarks (never asserted by tests).
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Explore the event parser beyond its seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./pkg/event
