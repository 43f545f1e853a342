# keyleak's tasks. `make test` is what CI runs.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/keyleak

.PHONY: demo test check moto vet fmt tidy build run bench fuzz clean

# moto (python3 -m moto.server) is the local AWS of the demo and the tests.
# scripts/with-moto runs a command with it at hand: the python3 on PATH if it
# has moto[server], else a pinned moto[server] in .venv/moto, installed there
# with pip the first time: a machine needs only Go and Python 3.
WITH_MOTO := scripts/with-moto

# The whole response to the seed incident against the local world, printed
# as the responders see it. SCENARIO=role-chain or cost-attack for others;
# KEEP=1 keeps everything running afterwards.
SCENARIO ?= seed
demo:
	$(WITH_MOTO) $(GO) run -tags demo ./cmd/keyleak demo --scenario $(SCENARIO) $(if $(KEEP),--keep)

# The full check: formatting, vet, a tidy go.mod, and every test with the
# race detector, the end-to-end suite included; the log scanner also
# without its vector code (-tags purego), as on machines without AVX2.
# This is what CI runs.
test: moto fmt vet tidy
	$(WITH_MOTO) $(GO) test -race -count=1 -timeout 45m ./...
	$(GO) test -count=1 -tags purego ./awsops/trail/
	$(WITH_MOTO) env FUZZTIME=2000x GO=$(GO) .ci/fuzz

# The quick check while working: the same, without the end-to-end suite,
# and the world's command (a few minutes).
SLOW := /test/e2e$$|/test/cmd/world$$
check: moto fmt vet tidy
	$(WITH_MOTO) $(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -Ev '$(SLOW)')
	$(GO) test -count=1 -tags purego ./awsops/trail/

# Finds or installs moto as make demo and make test do, and says which.
moto:
	@$(WITH_MOTO) sh -c 'echo "moto: $$(command -v python3) runs python3 -m moto.server"'

vet:
	$(GO) vet ./...

tidy:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy; run go mod tidy:"; $(GO) mod tidy -diff; exit 1; }

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/keyleak

# Runs keyleak serve on loopback with the example configuration and a
# database under .demo/.
run: build
	@mkdir -p .demo
	KEYLEAK_DATABASE=.demo/keyleak.db ./$(BIN) serve --config deploy/keyleak.example.yaml

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./state/

# Every fuzz target for FUZZTIME each (make test runs 2,000 inputs of each).
FUZZTIME ?= 30s
fuzz:
	$(WITH_MOTO) env FUZZTIME=$(FUZZTIME) GO=$(GO) .ci/fuzz

clean:
	rm -rf bin .demo
