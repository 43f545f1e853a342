# keyleak's tasks. `make test` is what CI runs.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/keyleak

.PHONY: demo test vet fmt build run bench fuzz clean

# The whole response to the seed incident against the local world, printed
# as the responders see it. SCENARIO=role-chain or cost-attack for others;
# KEEP=1 keeps everything running afterwards.
SCENARIO ?= seed
demo:
	$(GO) run -tags demo ./cmd/keyleak demo --scenario $(SCENARIO) $(if $(KEEP),--keep)

# The full check: formatting, vet, and every test with the race detector.
test: fmt vet
	$(GO) test -race -count=1 -timeout 45m ./...

vet:
	$(GO) vet ./...

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

fuzz:
	$(GO) test -run '^$$' -fuzz . -fuzztime 30s ./commands/

clean:
	rm -rf bin .demo
