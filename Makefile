# warmcgi — `make help` lists the targets.
#
# The Python warmcgi embeds is the one pkg-config calls python3-embed:
# Debian's python3-dev by default; another one with
#   make PKG_CONFIG_PATH=/opt/python3.13/lib/pkgconfig build

GO      ?= go
BIN     ?= bin/warmcgi
LISTEN  ?= 127.0.0.1:8080
# PYLINK=static (the default) links that Python's static library into the
# binary when it ships one that links on its own (Debian 12's; not Debian
# 13's), as Debian's python3.X executable is linked:
# Python code runs about 10% faster than on the shared libpython (README,
# Performance). PYLINK=shared, or a Python without one, links
# libpython3.X.so, its directory in the binary's rpath so that a Python
# outside the linker's default paths is found at run time too.
# pyhost/pylink.sh prints the environment for either; it is evaluated in
# each recipe's shell (a make $(shell) would not see a PKG_CONFIG_PATH given
# on the command line), and its CGO_LDFLAGS name the library's directory,
# which keys Go's build cache: that does not notice a change of
# PKG_CONFIG_PATH alone.
PYLINK ?= static
CGO_PY = eval "$$(sh pyhost/pylink.sh $(PYLINK) build/pkgconfig)" &&
export CGO_ENABLED = 1
# Passed on the command line too (make build PKG_CONFIG_PATH=...): pkg-config
# below and the go build it feeds must both see it.
export PKG_CONFIG_PATH

# Other Pythons (3.12+) to run the pyhost and server tests against, as pkgconfig dirs.
# Found under pyenv's usual root when present; set it to test others.
EXTRA_PYTHONS ?= $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/lib/pkgconfig)

# How much each fuzz target runs in test-fuzz: a count of executions (about
# 10-40 s each here), not a duration, since a duration races the fuzz
# coordinator's deadline on a loaded machine and fails with "context deadline
# exceeded" and no failing input (golang/go#75804, fixed in Go 1.27). go test
# -fuzz takes one target at a time, so they run one after another.
FUZZTIME ?= 200000x
FUZZ_TARGETS = FuzzResolve FuzzBuildEnv FuzzParseResponse

# warmcgi refuses to run scripts as root; make run as root (a fresh
# machine, a container) says --allow-root so the quick start still works.
RUN_FLAGS = $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help deps build run test test-go test-nocgo test-pythons test-fuzz test-harness bench docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: ## install the Debian packages the build needs (as root), or say which
	@if ! pkg-config --exists python3-embed 2>/dev/null || ! command -v gcc >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-dev pkg-config gcc; \
	  else \
	    echo "warmcgi needs: sudo apt-get install -y python3-dev pkg-config gcc" >&2; exit 1; \
	  fi; \
	fi

build: deps ## build bin/warmcgi
	$(CGO_PY) $(GO) build -o $(BIN) ./cmd/warmcgi

run: build ## build and serve examples/cgi-bin on http://127.0.0.1:8080/cgi-bin/
	$(BIN) serve examples/cgi-bin --listen $(LISTEN) $(RUN_FLAGS)

test: deps test-nocgo test-go test-pythons test-fuzz test-harness ## the whole test suite (what .ci/run calls)

test-nocgo: ## the packages that need no Python, built without cgo
	CGO_ENABLED=0 $(GO) test -count=1 ./cgienv ./interp ./internal/procmode ./internal/observe ./internal/frontend

test-go: ## vet, then every package against the default Python, with the race detector
	$(CGO_PY) $(GO) vet ./...
	$(CGO_PY) $(GO) test -count=1 -race -timeout 30m ./...

test-pythons: ## the pyhost and server tests against each Python in EXTRA_PYTHONS
	@if [ -z "$(strip $(EXTRA_PYTHONS))" ]; then \
	  echo "test-pythons: skipped: no other Python with python3-embed.pc found (set EXTRA_PYTHONS to pkgconfig dirs)"; \
	fi
	@set -e; for pc in $(EXTRA_PYTHONS); do \
	  lib=$$(PKG_CONFIG_PATH=$$pc pkg-config --variable=libdir python3-embed); \
	  echo "== pyhost against $$(PKG_CONFIG_PATH=$$pc pkg-config --modversion python3-embed) ($$pc)"; \
	  PKG_CONFIG_PATH=$$pc CGO_LDFLAGS="-Wl,-rpath,$$lib" $(GO) test -count=1 -timeout 30m ./pyhost ./cmd/warmcgi; \
	done

test-fuzz: ## each cgienv fuzz target for FUZZTIME executions (200000x); crashers land in cgienv/testdata/fuzz
	@set -e; for f in $(FUZZ_TARGETS); do \
	  echo "== $$f for $(FUZZTIME)"; \
	  CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./cgienv; \
	done

test-harness: ## the comparison harness's report (benchmarks/report.py) and PSS sums (pss.py) on made-up data
	/usr/bin/python3 benchmarks/harness_test.py

bench: ## Go micro-benchmarks
	$(CGO_PY) $(GO) test -run '^$$' -bench . -benchmem ./...

docs: ## rewrite the README's flag reference from the binary's --help
	$(CGO_PY) $(GO) test -count=1 -run '^TestREADMEFlags$$' ./cmd/warmcgi -update-readme

clean:
	rm -rf bin build

# The Debian releases test-chroots runs the Python-dependent packages in:
# Debian 13 (python3-dev 3.13) and sid (python3.14-dev), as .ci/run does
# (there side by side, here one after the other).
CHROOT_SUITES ?= trixie sid

.PHONY: test-chroots
test-chroots: ## (root) pyhost and the server tests in cached chroots of Debian 13 (3.13) and sid (3.14) (CHROOT_SUITES)
	@set -e; for s in $(CHROOT_SUITES); do .ci/chroot-suite $$s; done

.PHONY: bench-compare
bench-compare: build ## warmcgi (alone and behind nginx) vs mod_cgi, fcgiwrap, mod_wsgi, uWSGI, Go; UPDATE_README=1 rewrites the README's table (root installs the Debian packages)
	WARMCGI=$(abspath $(BIN)) benchmarks/run.sh

# The Debian releases docker-test builds and runs the image on (the first
# one also runs examples/docker/docker-compose.yml).
DOCKER_SUITES ?= trixie

.PHONY: docker-test
docker-test: ## (root) build the Dockerfile with a Docker engine of its own, run the image and the compose file (DOCKER_SUITES)
	.ci/docker-test $(DOCKER_SUITES)
