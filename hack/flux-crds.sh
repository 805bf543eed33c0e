#!/usr/bin/env bash
# Copies the Flux CRDs that the tests install into
# bin/flux-crds/kustomize-<k>-source-<s>-helm-<h>/ and prints that directory
# on its last line (FLUXWATCH_FLUX_CRDS). When FLUXWATCH_FLUX_CRDS already names
# a directory holding CRDs, that directory is used as it is.
#
# The CRDs come from the Go module cache of the Flux controller modules, at the
# versions of the API modules the main go.mod requires, so the schema the tests
# run against is the one the code is compiled against. The modules come from
# the Go module proxy like any other module; nothing else is downloaded, and the
# CRDs are not committed.
#
# If the proxy refuses a controller module at exactly the API version (a
# controller can lag behind a tagged API module), the nearest version that
# downloads is used instead — the newest older one, else the oldest newer one —
# and a warning says so. Today kustomize-controller v1.9.5,
# source-controller v1.9.5 and helm-controller v1.6.4 all download as they are.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

if [ -n "${FLUXWATCH_FLUX_CRDS:-}" ] && compgen -G "$FLUXWATCH_FLUX_CRDS/*.yaml" >/dev/null; then
	echo "$FLUXWATCH_FLUX_CRDS"
	exit 0
fi

api_version() {
	(cd "$root" && go list -m -f '{{.Version}}' "github.com/fluxcd/$1/api")
}

k=$(api_version kustomize-controller)
s=$(api_version source-controller)
h=$(api_version helm-controller)

dir="$root/bin/flux-crds/kustomize-$k-source-$s-helm-$h"
if compgen -G "$dir/*.yaml" >/dev/null; then
	echo "$dir"
	exit 0
fi

# Outside any module, so that downloading leaves the main go.mod and go.sum alone.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch" "$dir.tmp"' EXIT

# download MODULE VERSION prints the module's directory in the module cache, or
# fails with the proxy's error on stderr.
download() {
	local out
	if ! out=$(cd "$scratch" && GOWORK=off go mod download -json "$1@$2" 2>&1); then
		printf '%b\n' "$(echo "$out" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')" >&2
		return 1
	fi
	echo "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# candidates VERSION MODULE prints the versions to try when VERSION is refused,
# nearest first: older ones newest-first, then newer ones oldest-first. When the
# proxy will not list the module's versions either, only the older patch
# releases of the same minor are tried.
candidates() {
	local want=$1 mod=$2 versions
	if versions=$(cd "$scratch" && GOWORK=off go list -m -versions "$mod" 2>/dev/null); then
		versions=$(echo "$versions" | tr ' ' '\n' | tail -n +2)
		printf '%s\n%s\n' "$versions" "$want" | sort -uV | awk -v w="$want" '$0 == w { exit } { print }' | sort -rV
		printf '%s\n%s\n' "$versions" "$want" | sort -uV | awk -v w="$want" 'seen { print } $0 == w { seen = 1 }'
		return 0
	fi
	local base=${want%.*} patch=${want##*.}
	case $patch in *[!0-9]*) return 0 ;; esac
	while [ "$patch" -gt 0 ]; do
		patch=$((patch - 1))
		echo "$base.$patch"
	done
}

# controller_dir NAME VERSION prints the module cache directory of
# github.com/fluxcd/NAME at VERSION, or at the nearest version that downloads.
controller_dir() {
	local mod="github.com/fluxcd/$1" want=$2 d v
	if d=$(download "$mod" "$want"); then
		echo "$d"
		return 0
	fi
	for v in $(candidates "$want" "$mod"); do
		if d=$(download "$mod" "$v" 2>/dev/null); then
			echo "!! $mod@$want is refused by the module proxy; using the CRDs of $v" >&2
			echo "$d"
			return 0
		fi
	done
	echo "!! no version of $mod near $want downloads from the module proxy" >&2
	return 1
}

rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
for pair in "kustomize-controller $k" "source-controller $s" "helm-controller $h"; do
	set -- $pair
	src=$(controller_dir "$1" "$2") || exit 1
	if ! compgen -G "$src/config/crd/bases/*.yaml" >/dev/null; then
		echo "!! $src has no config/crd/bases/*.yaml" >&2
		exit 1
	fi
	cp "$src"/config/crd/bases/*.yaml "$dir.tmp/"
done
# The module cache is read-only; the copies need not be.
chmod u+w "$dir.tmp"/*.yaml
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
