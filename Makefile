# FluxWatch. `make help` lists the targets.
#
# Everything here needs only Go, git and make: the code generators, the test
# control plane (etcd and kube-apiserver) and the Flux CRDs all come from Go
# modules, built or copied once into bin/.

# Image to build with docker-build.
IMG ?= fluxwatch:latest
# Version stamped into the binary; "dev" outside a git checkout or before the
# first commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

GO ?= go

# Recipes run in bash with -e and pipefail, so a failing command in a pipe
# fails the target.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

.DEFAULT_GOAL := help

##@ Getting started

# The demo needs what the tests need, built the same way: the local control
# plane and the Flux CRDs.
.PHONY: demo
demo: ## See FluxWatch at work in about two minutes, no cluster needed (ARGS=--keep: leave it running, ARGS=--help: options).
	@assets="$$(hack/controlplane.sh)"; \
	crds="$$(hack/flux-crds.sh)"; \
	echo ">> KUBEBUILDER_ASSETS=$$assets"; \
	echo ">> FLUXWATCH_FLUX_CRDS=$$crds"; \
	echo ">> go run ./cmd/fluxwatch-demo $(ARGS)"; \
	export KUBEBUILDER_ASSETS="$$assets" FLUXWATCH_FLUX_CRDS="$$crds"; \
	$(GO) run ./cmd/fluxwatch-demo $(ARGS)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs (config/crd/bases) and the manager ClusterRole (config/rbac/role.yaml).
	"$(CONTROLLER_GEN)" rbac:roleName=fluxwatch-manager crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
# The Helm chart ships the same CRDs and ClusterRole rules (test/install fails on drift).
	rm -f charts/fluxwatch/files/crds/*.yaml
	cp config/crd/bases/*.yaml charts/fluxwatch/files/crds/
	cp config/rbac/role.yaml charts/fluxwatch/files/rbac/role.yaml

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: test
test: manifests generate fmt vet ## Run the tests against a local control plane (built on first use, about 5 minutes).
	assets="$$(hack/controlplane.sh)"; \
	crds="$$(hack/flux-crds.sh)"; \
	echo ">> KUBEBUILDER_ASSETS=$$assets"; \
	echo ">> FLUXWATCH_FLUX_CRDS=$$crds"; \
	KUBEBUILDER_ASSETS="$$assets" FLUXWATCH_FLUX_CRDS="$$crds" $(GO) test ./... -count=1 -timeout 30m

# The chart tests (test/install) run the helm built from hack/helm.
test: helm
test: export FLUXWATCH_HELM = $(HELM)

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## Fuzz the debounce engine for FUZZTIME (60s).
	$(GO) test -fuzz FuzzEngine -fuzztime $(FUZZTIME) ./internal/debounce

.PHONY: controlplane
controlplane: ## Build etcd and kube-apiserver for the tests into bin/k8s/ and print their directory.
	hack/controlplane.sh

.PHONY: flux-crds
flux-crds: ## Copy the Flux CRDs of the go.mod Flux versions into bin/flux-crds/ and print their directory.
	hack/flux-crds.sh

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/fluxwatch.
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/fluxwatch ./cmd/fluxwatch

.PHONY: run
run: manifests generate fmt vet ## Run the controller from your host against the current kubeconfig.
	$(GO) run ./cmd/fluxwatch

# docker-build needs a Docker engine, which the development machines and CI
# do not have; nothing else depends on it.
.PHONY: docker-build
docker-build: ## Build the container image IMG (fluxwatch:latest) with Docker; needs a Docker engine.
	docker build -t $(IMG) .

##@ Dependencies

# Tool binaries are built from the pinned tool modules under hack/, once, into
# bin/<name>-<version>; a version bump in go.mod builds a new binary.
LOCALBIN ?= $(CURDIR)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

CONTROLLER_TOOLS_VERSION := $(shell awk '$$1 == "sigs.k8s.io/controller-tools" { print $$2 }' hack/tools/go.mod)
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
HELM_VERSION := $(shell awk '$$1 == "helm.sh/helm/v3" { print $$2 }' hack/helm/go.mod)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen into bin/ if missing.
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-build-tool,hack/tools,sigs.k8s.io/controller-tools/cmd/controller-gen)

# Only the targets that render or install the chart need helm. The ldflags are
# those of helm's own release build: without them `helm version` says "v3.22"
# and `helm template` assumes Kubernetes v1.20 for .Capabilities.KubeVersion.
HELM_K8S_MINOR := $(shell awk '$$1 == "k8s.io/client-go" { split($$2, v, "."); print v[2] }' hack/helm/go.mod)
HELM_LDFLAGS := -s -w \
	-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR)
.PHONY: helm
helm: $(HELM) ## Build helm into bin/ if missing.
$(HELM): | $(LOCALBIN)
	$(call go-build-tool,hack/helm,helm.sh/helm/v3/cmd/helm,$(HELM_LDFLAGS))

# go-build-tool builds package $(2) of tool module $(1) into the target, with
# ldflags $(3), through a temporary file so that an interrupted build leaves
# nothing that looks done.
define go-build-tool
@echo ">> building $(notdir $@) from $(1)"
cd "$(1)" && CGO_ENABLED=0 $(GO) build -trimpath $(if $(3),-ldflags "$(3)") -o "$@.tmp" "$(2)"
mv "$@.tmp" "$@"
endef
