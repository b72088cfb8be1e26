# Convenience targets only: the README's commands (`go run ./cmd/watchpost
# serve`, `scripts/test`, and the build below) work without make.

GO ?= go
FUZZTIME ?= 20s
BENCH ?= .

.PHONY: build agent test bench fuzz-smoke vet clean

# CGO_ENABLED=1 on purpose: go-sqlite3 needs cgo and gcc; built without cgo
# it compiles to a stub that only fails at run time ("requires cgo").
build:
	CGO_ENABLED=1 $(GO) build -o watchpost ./cmd/watchpost

# The host agent alone (collect, munin, hoststat): static, no cgo (it
# stores nothing in SQLite), a third of the full binary and of its memory.
agent:
	CGO_ENABLED=0 $(GO) build -tags agent -o watchpost-agent ./cmd/watchpost

test:
	scripts/test

vet:
	$(GO) vet ./...

bench:
	CGO_ENABLED=1 $(GO) test -run='^$$' -bench='$(BENCH)' -benchmem ./...

# Runs every Fuzz* target briefly; go test accepts only one -fuzz target per
# package and run, hence the loop.
fuzz-smoke:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			CGO_ENABLED=1 $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -f watchpost watchpost-agent
