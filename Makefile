# acremu: `make run` starts the emulator on its embedded defaults;
# `make test` installs what the suites need and runs all of them.

GO ?= go
E2E_TIMEOUT ?= 60m

.PHONY: run test unit e2e deps clients bench vet lint build image lab-images lab-up lab-down

run:
	$(GO) run ./cmd/acremu serve

build:
	CGO_ENABLED=0 $(GO) build -o bin/acremu ./cmd/acremu

test: vet lint unit bench-smoke deps e2e

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

# staticcheck with every check, at a pinned version (from the Go module proxy).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) run $(STATICCHECK) -checks all ./...
	$(GO) run $(STATICCHECK) -checks all -tags e2e ./e2e/...

unit:
	$(GO) test -count=1 -race ./...

# Packages, dockerd, the registry clients, the OCI conformance suite and the
# compose lab images (acremu:e2e, acremu-lab-client:e2e): everything slow to
# build on a new machine, built once so that e2e only reuses it.
deps:
	bash scripts/test-deps.sh

# crane, oras and regctl at the versions pinned in scripts/clients.env,
# into .tools/bin (deps does this too).
clients:
	bash scripts/install-clients.sh

e2e:
	$(GO) test -count=1 -tags e2e -timeout $(E2E_TIMEOUT) -v ./e2e/...

# acremu against bare distribution v3.1.2 and http.ServeContent (built into
# a cache outside the repository); updates docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=200ms ./pkg/firewall/
	bash scripts/bench.sh -out docs/benchmarks.md

# The same benchmark at tiny sizes and one round, so that it cannot rot; it
# prints a table but asserts no timing.
.PHONY: bench-smoke
bench-smoke:
	bash scripts/bench.sh -smoke

# Images and the compose lab (docs/lab.md). `image` builds the user
# Dockerfile (pulls golang); `lab-images` builds both lab images FROM
# scratch over local static binaries, without pulling anything.
IMAGE ?= acremu:lab
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

image:
	docker build -t $(IMAGE) .

lab-images:
	ACREMU_IMAGE=$(IMAGE) bash lab/build-offline.sh

lab-up: lab-images
	ACREMU_IMAGE=$(IMAGE) $(COMPOSE) up -d

lab-down:
	ACREMU_IMAGE=$(IMAGE) $(COMPOSE) down -v
