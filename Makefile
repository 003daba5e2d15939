# idtenant — see README.md. Every tool is built from the Go module proxy into
# bin/ (git-ignored), so a fresh machine needs only Go.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

K8S_VERSION ?= 1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
BIN := $(CURDIR)/bin
K8S_BIN := $(BIN)/k8s/$(K8S_VERSION)
CONTROLLER_GEN := $(BIN)/controller-gen
export KUBEBUILDER_ASSETS := $(K8S_BIN)

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API markers.
	$(CONTROLLER_GEN) rbac:roleName=idtenant-manager crd:allowDangerousTypes=false paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=idtenant-manager-tenants paths="./internal/manager" \
		output:rbac:artifacts:config=config/rbac/tenants

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify
verify: manifests generate ## Fail if generated files are out of date.
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make manifests generate' and commit"; exit 1; }

.PHONY: fmt
fmt:
	go fmt ./...

.PHONY: vet
vet:
	go vet ./...

.PHONY: build
build: ## Build the idtenant binary (manager, issuer and dev modes).
	go build -o $(BIN)/idtenant .

.PHONY: k8s-tools
k8s-tools: ## Build kube-apiserver, etcd and kubectl from the Go module proxy.
	K8S_VERSION=$(K8S_VERSION) hack/build-k8s-tools.sh

.PHONY: test
test: k8s-tools ## Run every test: unit and envtest (real kube-apiserver + etcd).
	go vet ./...
	go test ./... -count=1

.PHONY: bench
bench: k8s-tools ## Run the benchmarks and print a table (see docs/benchmarks.md).
	bash hack/bench.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for a short, bounded time (FUZZTIME, default 15s).
	bash hack/fuzz.sh

.PHONY: dev
dev: k8s-tools build ## Run a local control plane with the operator and the samples.
	$(BIN)/idtenant dev --control-plane-binaries=$(K8S_BIN) --kubeconfig-out=$(BIN)/dev/kubeconfig

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
