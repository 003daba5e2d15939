# idtenant — see README.md. Every tool is built from the Go module proxy into
# bin/ (git-ignored), so a fresh machine needs only Go.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

K8S_VERSION ?= 1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
BIN := $(CURDIR)/bin
K8S_BIN := $(BIN)/k8s/$(K8S_VERSION)
# Tools carry their version in their file name, so that a version bump
# builds the new one instead of reusing the old.
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
HELM_VERSION ?= v3.22.0
HELM := $(BIN)/helm-$(HELM_VERSION)
# oauth2-proxy, unmodified, protects a static site in an end-to-end test
# (internal/e2e TestConnections).
OAUTH2_PROXY_VERSION ?= v7.15.6
OAUTH2_PROXY := $(BIN)/oauth2-proxy-$(OAUTH2_PROXY_VERSION)
KUBECTL := $(K8S_BIN)/kubectl
# krew installs the plugin from its release archive in a test
# (internal/release TestPluginArchiveInstallsWithKrew).
KREW_VERSION ?= v0.4.3
KREW := $(BIN)/krew-$(KREW_VERSION)
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# The release: dist/install.yaml, dist/chart and the image carry these.
VERSION ?= 0.1.0
IMAGE_REPO ?= ghcr.io/idtenant/idtenant
IMG ?= $(IMAGE_REPO):v$(VERSION)
export KUBEBUILDER_ASSETS := $(K8S_BIN)
# Every build and test uses the flags the image and the Kubernetes tools are
# built with (static, -trimpath). The Go build cache keys compiled packages by
# their flags: with one set, a fresh machine compiles each shared package once
# instead of once per flag set (the image test's own static build made the
# last fresh CI run compile every dependency a second time).
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API markers.
	$(CONTROLLER_GEN) rbac:roleName=idtenant-manager crd:allowDangerousTypes=false paths="./api/..." \
		paths="./controllers/tenant" paths="./controllers/application" paths="./controllers/api" \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=idtenant-manager-tenants paths="./controllers/manager" \
		output:rbac:artifacts:config=config/rbac/tenants

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify
verify: manifests generate build-installer ## Fail if generated files are out of date.
	@git diff --exit-code -- api config dist || { echo "generated files are stale: run 'make manifests generate build-installer' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- api config dist)" || { git ls-files --others --exclude-standard -- api config dist; echo "untracked generated files: commit them"; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "not gofmt-ed: run 'make fmt'"; exit 1; }

.PHONY: fmt
fmt:
	go fmt ./...

.PHONY: vet
vet:
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with the committed configuration (.golangci.yml).
	$(GOLANGCI_LINT) run ./...

.PHONY: build
build: ## Build the idtenant binary (manager and issuer modes), the kubectl plugin kubectl-idtenant and idtenant-dev (make dev's local control plane).
	go build -ldflags "-X github.com/idtenant/idtenant/internal/version.Version=v$(VERSION)" -o $(BIN)/idtenant .
	go build -ldflags "-X github.com/idtenant/idtenant/internal/version.Version=v$(VERSION)" -o $(BIN)/kubectl-idtenant ./cmd/kubectl-idtenant
	go build -o $(BIN)/idtenant-dev ./cmd/idtenant-dev
	ln -sf kubectl-idtenant $(BIN)/kubectl_complete-idtenant

.PHONY: k8s-tools
k8s-tools: ## Build kube-apiserver, etcd, kubectl and kube-controller-manager from the Go module proxy.
	K8S_VERSION=$(K8S_VERSION) hack/build-k8s-tools.sh

.PHONY: test
test: k8s-tools $(HELM) $(OAUTH2_PROXY) $(KREW) postgres ## Run every test: unit, envtest (real kube-apiserver + etcd) and a real PostgreSQL.
	go vet ./...
	HELM=$(HELM) OAUTH2_PROXY=$(OAUTH2_PROXY) KREW=$(KREW) go test ./... -count=1

.PHONY: postgres
postgres: ## Install PostgreSQL's server binaries when missing (the state store tests start their own server).
	hack/postgres.sh

.PHONY: bench
bench: k8s-tools ## Run the benchmarks and print a table (see docs/benchmarks.md).
	bash hack/bench.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for a short, bounded time (FUZZTIME, default 15s).
	bash hack/fuzz.sh

.PHONY: run
run: build ## Run the manager on this machine against the cluster of the current kubeconfig (CRDs installed: make install).
	$(BIN)/idtenant manager --metrics-bind-address=0 --issuer-image=$(IMG)

.PHONY: install
install: k8s-tools ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: k8s-tools ## Delete the CRDs from the cluster of the current kubeconfig, and with them every Tenant, Application, API and state record.
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: k8s-tools build-installer ## Install CRDs, RBAC and the manager (dist/install.yaml, image IMG) into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -f dist/install.yaml

.PHONY: undeploy
undeploy: k8s-tools ## Remove what make deploy installed (the CRDs, and with them every idtenant object, included).
	$(KUBECTL) delete --ignore-not-found -f dist/install.yaml

.PHONY: dev
dev: k8s-tools build ## Run a local control plane with the operator and the samples.
	$(BIN)/idtenant-dev --control-plane-binaries=$(K8S_BIN) --kubeconfig-out=$(BIN)/dev/kubeconfig

# go-install-tool installs package $(2) as $(1): into a scratch GOBIN, then
# renamed to its versioned path.
define go-install-tool
	@rm -rf $(BIN)/.install && mkdir -p $(BIN)/.install
	GOBIN=$(BIN)/.install go install $(2)
	mv $(BIN)/.install/$$(ls $(BIN)/.install) $(1) && rm -rf $(BIN)/.install
endef

$(CONTROLLER_GEN):
	$(call go-install-tool,$@,sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION))

$(HELM):
	$(call go-install-tool,$@,helm.sh/helm/v3/cmd/helm@$(HELM_VERSION))

$(GOLANGCI_LINT):
	$(call go-install-tool,$@,github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION))

$(KREW):
	$(call go-install-tool,$@,sigs.k8s.io/krew/cmd/krew@$(KREW_VERSION))

$(OAUTH2_PROXY):
	$(call go-install-tool,$@,github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION))

##@ Release

.PHONY: build-installer
build-installer: k8s-tools ## Write dist/install.yaml and dist/chart's generated files for VERSION and IMAGE_REPO.
	VERSION=$(VERSION) IMAGE_REPO=$(IMAGE_REPO) KUBECTL=$(KUBECTL) hack/build-installer.sh

.PHONY: image
image: ## Build the OCI image index (linux/amd64 + linux/arm64) without Docker into bin/image (OCI layout, and a tarball for docker/podman load).
	go run ./hack/image -tag $(IMG) -version v$(VERSION) -out $(BIN)/image

.PHONY: release-artifacts
release-artifacts: ## Build the kubectl plugin's archives per platform (PLATFORMS), SHA256SUMS and the krew manifest into bin/release.
	go run ./hack/release -version v$(VERSION) -out $(BIN)/release $(if $(PLATFORMS),-platforms $(PLATFORMS))

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
