#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver and etcd) that envtest, the
# tests and `make demo` run, from their Go modules, once, into
# bin/k8s/<kube-version>-<etcd-version>/. No binary download is needed.
#
# Prints the directory to use as KUBEBUILDER_ASSETS on its last line.
# When KUBEBUILDER_ASSETS already names a directory holding both binaries,
# that directory is used as it is.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kube_version=$(cd "$root/hack/kube-apiserver" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$root/hack/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
	echo "$KUBEBUILDER_ASSETS"
	exit 0
fi

dir="$root/bin/k8s/${kube_version}-etcd-${etcd_version}"
mkdir -p "$dir"

# build NAME MODULE_DIR PACKAGE [LDFLAGS] builds one binary with a heartbeat,
# so a five-minute cold build is never mistaken for a hang.
build() {
	local name=$1 moddir=$2 pkg=$3 ldflags=${4:-}
	if [ -x "$dir/$name" ]; then
		return 0
	fi
	echo ">> building $name from Go modules (first time only; about 5 minutes on 2 cores)" >&2
	local start=$SECONDS
	( while sleep 20; do echo "   ... still building $name ($((SECONDS - start))s)" >&2; done ) &
	local ticker=$!
	local rc=0
	(cd "$root/hack/$moddir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/$name.tmp" "$pkg") || rc=$?
	kill "$ticker" 2>/dev/null || true
	wait "$ticker" 2>/dev/null || true
	if [ "$rc" -ne 0 ]; then
		rm -f "$dir/$name.tmp"
		echo "!! building $name failed" >&2
		exit "$rc"
	fi
	mv "$dir/$name.tmp" "$dir/$name"
	echo ">> built $name in $((SECONDS - start))s" >&2
}

minor=$(echo "$kube_version" | cut -d. -f2)
vpkg=k8s.io/component-base/version
# Without these the API server reports v0.0.0-master+$Format:%H$, which breaks
# discovery-based version checks such as helm's kubeVersion.
kube_ldflags="-s -w -X $vpkg.gitVersion=$kube_version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"

build etcd etcd . "-s -w"
build kube-apiserver kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
echo "$dir"
