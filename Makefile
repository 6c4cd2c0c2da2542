# Foyer. `make run` starts a development instance; `make test` runs the whole suite.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         ?= bin/foyer
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: run build test lint vet bench clean

## run: Foyer on http://127.0.0.1:5556 with an embedded store, a demo client, a demo user and /demo
run:
	$(GO) run ./cmd/foyer serve --dev --dir .foyer-dev

## build: the foyer binary in bin/
build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/foyer

## test: vet, staticcheck, then every test with the race detector (needs Redis, PostgreSQL, slapd, Chromium: see .ci/run)
test: lint
	$(GO) test -race -count=1 -timeout 20m ./...

## lint: gofmt, go vet and staticcheck
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...

vet:
	$(GO) vet ./...

## bench: the Go benchmarks (hot paths: token endpoint, JWKS, discovery, signing, storage)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin .foyer-dev
