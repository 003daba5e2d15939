#!/usr/bin/env bash
# Builds kube-apiserver, etcd, kubectl and kube-controller-manager from the Go module proxy into
# bin/k8s/<version>/, the control plane that envtest and `idtenant-dev` run.
# The usual envtest installer downloads these from hosts this environment cannot
# reach; building them needs only the module proxy (hack/k8s-tools is a Go
# module of its own that requires k8s.io/kubernetes and replaces its staging
# modules with their published versions).
# Skips binaries that are already present; the first build takes several minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-1.37.2}"
OUT="${ROOT}/bin/k8s/${K8S_VERSION}"
MODDIR="${ROOT}/hack/k8s-tools"
mkdir -p "${OUT}"

minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=v${K8S_VERSION}"
  ldflags+=" -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean"
done

for tool in etcd kube-apiserver kubectl kube-controller-manager; do
  if [[ -x "${OUT}/${tool}" ]]; then
    echo "k8s-tools: ${tool} present in ${OUT}, skipping"
    continue
  fi
  echo "k8s-tools: building ${tool} v${K8S_VERSION} from the Go module proxy (first build takes minutes)..."
  start=$(date +%s)
  (cd "${MODDIR}" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${ldflags}" -o "${OUT}/${tool}.tmp" "./${tool}")
  mv "${OUT}/${tool}.tmp" "${OUT}/${tool}"
  echo "k8s-tools: ${tool} built in $(( $(date +%s) - start ))s"
done
echo "k8s-tools: ready in ${OUT}"
