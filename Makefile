# annals: build, test and run everything with only Go and Python 3 (with
# venv) installed. Every tool is installed at a pinned version into a
# cache folder outside the repository, keyed by those versions, so a fresh
# clone on the same machine reuses it and a version bump installs anew.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
GO ?= go
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/annals

# Pins. The Python tools' whole dependency trees are pinned in
# tools/*-requirements.txt; the cache folder names carry a hash of those files.
MOTO_VERSION := 5.2.5
SAM_VERSION := 1.170.0
SCHEMATHESIS_VERSION := 4.32.5
RIE_MODULE := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_MODULE := honnef.co/go/tools/cmd/staticcheck
STATICCHECK_VERSION := v0.8.2
# Debian's package, for the explorer's browser test; installed system-wide by
# apt, so it is kept where apt puts it rather than in the cache folder.
CHROMIUM_VERSION := 156.0.8078.129-1~deb12u1
CHROMIUM := /usr/bin/chromium

PY_TAG := $(shell $(PYTHON) -c 'import sys; print("py%d.%d" % sys.version_info[:2])')
hash = $(shell sha256sum $(1) | cut -c1-12)
MOTO_VENV := $(CACHE)/moto-$(MOTO_VERSION)-$(PY_TAG)-$(call hash,tools/moto-requirements.txt)
SAM_VENV := $(CACHE)/sam-$(SAM_VERSION)-$(PY_TAG)-$(call hash,tools/sam-requirements.txt)
SCHEMATHESIS_VENV := $(CACHE)/schemathesis-$(SCHEMATHESIS_VERSION)-$(PY_TAG)-$(call hash,tools/schemathesis-requirements.txt)
RIE_DIR := $(CACHE)/rie-$(RIE_VERSION)
STATICCHECK_DIR := $(CACHE)/staticcheck-$(STATICCHECK_VERSION)

MOTO_PYTHON := $(MOTO_VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SCHEMATHESIS := $(SCHEMATHESIS_VENV)/bin/st
RIE := $(RIE_DIR)/aws-lambda-rie
STATICCHECK := $(STATICCHECK_DIR)/staticcheck

export SAM_CLI_TELEMETRY := 0
# Long randomized runs: make test LONG=1.
export LONG

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: tools
tools: $(MOTO_VENV)/.installed $(SAM_VENV)/.installed $(SCHEMATHESIS_VENV)/.installed $(RIE) $(STATICCHECK) $(CHROMIUM) ## install the pinned tools (idempotent)

# A venv is only used once its stamp exists, so an interrupted install is
# redone rather than half reused. The stamps do not depend on the
# requirements files' timestamps (a fresh clone would look newer than the
# cache): the folder names already carry a hash of their contents.
$(MOTO_VENV)/.installed:
	rm -rf $(MOTO_VENV)
	$(PYTHON) -m venv $(MOTO_VENV)
	$(MOTO_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tools/moto-requirements.txt
	$(MOTO_PYTHON) -c 'import moto; assert moto.__version__ == "$(MOTO_VERSION)", moto.__version__'
	touch $@

$(SAM_VENV)/.installed:
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tools/sam-requirements.txt
	$(SAM) --version | grep -qF '$(SAM_VERSION)'
	touch $@

$(SCHEMATHESIS_VENV)/.installed:
	rm -rf $(SCHEMATHESIS_VENV)
	$(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tools/schemathesis-requirements.txt
	$(SCHEMATHESIS) --version | grep -qF '$(SCHEMATHESIS_VERSION)'
	touch $@

$(RIE):
	GOBIN=$(RIE_DIR) GOFLAGS=-mod=mod $(GO) install $(RIE_MODULE)@$(RIE_VERSION)

$(STATICCHECK):
	GOBIN=$(STATICCHECK_DIR) GOFLAGS=-mod=mod $(GO) install $(STATICCHECK_MODULE)@$(STATICCHECK_VERSION)

# Skipped whenever a chromium is there, whatever its version.
$(CHROMIUM):
	tools/install-chromium $(CHROMIUM_VERSION)

.PHONY: test
test: tools lint ## run every check and test (the CI command)
	ANNALS_RIE=$(RIE) ANNALS_SCHEMATHESIS=$(SCHEMATHESIS) tools/with-moto $(MOTO_PYTHON) $(GO) test -race -count=1 ./...

# The whole system on this machine: moto, every resource of template.yaml,
# every function in one process, the stream event sources, and the HTTP API.
PORT ?= 3000
.PHONY: local
local: $(MOTO_VENV)/.installed ## run the whole system locally on 127.0.0.1:$(PORT) (Ctrl-C stops everything)
	$(GO) build -o bin/annals-local ./cmd/local
	tools/with-moto $(MOTO_PYTHON) bin/annals-local -addr 127.0.0.1:$(PORT)

# The explorer's screenshot in docs/, taken by its browser test against a
# stack of its own (README "Event explorer").
.PHONY: screenshots
screenshots: $(MOTO_VENV)/.installed $(CHROMIUM) ## retake docs/explorer.png, the event explorer's screenshot
	ANNALS_SCREENSHOTS=$(CURDIR)/docs tools/with-moto $(MOTO_PYTHON) $(GO) test -count=1 -run '^TestExplorerInABrowser$$' ./internal/ledger/stacktest/

.PHONY: demo
demo: ## walk through the ledger against a running `make local` (URL=http://127.0.0.1:$(PORT))
	$(GO) run ./cmd/demo $(or $(URL),http://127.0.0.1:$(PORT))

.PHONY: bench
bench: $(MOTO_VENV)/.installed $(RIE) ## run the benchmarks (in memory and against moto); figures in docs/benchmarks.md
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -count=1 ./internal/localaws/awstest/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -count=1 ./internal/kit/eventstore/...
	$(GO) test -run '^$$' -bench . -count=1 ./internal/kit/personal/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -benchtime=200x -count=1 ./internal/ledger/commandapi/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -count=1 ./internal/ledger/queryapi/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -benchtime=5x -count=5 ./internal/ledger/views/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -benchtime=50x -count=1 ./internal/ledger/processapi/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -benchtime=50x -count=1 ./internal/ledger/pipelinetest/
	tools/with-moto $(MOTO_PYTHON) $(GO) test -run '^$$' -bench . -benchtime=300x -count=1 ./internal/ledger/stacktest/
	$(GO) test -run '^$$' -bench Storage -benchtime=3x -count=1 ./internal/ledger/archival/
	ANNALS_RIE=$(RIE) $(GO) test -run '^$$' -bench ColdStart -benchtime=1x -count=1 ./internal/ledger/functions/

.PHONY: rie-path
rie-path: ## print the Lambda emulator's path (for ANNALS_RIE)
	@echo $(RIE)

.PHONY: schemathesis-path
schemathesis-path: ## print Schemathesis's path (for ANNALS_SCHEMATHESIS)
	@echo $(SCHEMATHESIS)

# Lambda binaries: static, without the RPC mode provided runtimes never use,
# without build paths or symbol tables. `sam build` calls build-<LogicalId>
# with ARTIFACTS_DIR set (BuildMethod: makefile, docs/adr/0003); the tests
# call the same targets with LAMBDA_ARCH set to the host's, so they run
# exactly what ships, compiled for the machine they run on.
LAMBDA_ARCH ?= arm64
lambda_build = CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)

.PHONY: build-ArchiverFunction
build-ArchiverFunction:
	$(call lambda_build,archiver)

.PHONY: build-CommandFunction
build-CommandFunction:
	$(call lambda_build,command)

.PHONY: build-FanoutFunction
build-FanoutFunction:
	$(call lambda_build,fanout)

.PHONY: build-ProjectorFunction
build-ProjectorFunction:
	$(call lambda_build,projector)

.PHONY: build-QueryFunction
build-QueryFunction:
	$(call lambda_build,query)

.PHONY: build-TransfersFunction
build-TransfersFunction:
	$(call lambda_build,transfers)

.PHONY: build
build: tools ## sam build: every function for Lambda (linux/arm64) into .aws-sam/
	$(SAM) build --template template.yaml

.PHONY: lint
lint: tools ## gofmt, go vet, staticcheck, sam validate --lint, sam build
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') ); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(SAM) validate --lint --region us-east-1 --template template.yaml
	$(SAM) build --template template.yaml

.PHONY: moto
moto: $(MOTO_VENV)/.installed ## serve moto on 127.0.0.1:$(MOTO_PORT) for go test by hand
	@echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=annals-local AWS_SECRET_ACCESS_KEY=annals-local"
	$(MOTO_PYTHON) tools/moto_launcher.py --port $(MOTO_PORT)

MOTO_PORT ?= 4566
