#!/usr/bin/env bash
# Builds the Kubernetes control plane the `kube` tests run against (etcd, kube-apiserver, kubectl),
# from the Go module proxy, once: the two scratch modules under tools/kube pin the versions, and the
# binaries are cached outside the clone in a folder keyed by both go.sum hashes, so a version bump
# rebuilds and anything else reuses. Prints the folder (point KUBEBUILDER_ASSETS at it); progress
# goes to stderr. Recipe and measurements: ../shared/REAL-COMPONENTS.md, docs/testing.md.
#
# The modules stay separate because Kubernetes pulls etcd's client v3.7, which clashes with the
# etcd server 3.6 that kube-apiserver v1.37 supports.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

etcd_mod=tools/kube/etcd
api_mod=tools/kube/apiserver
key=$(cat "$etcd_mod/go.sum" "$api_mod/go.sum" | sha256sum | cut -c1-16)
dir="${HUGAI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hugai}/kube/$key"

if [ -x "$dir/etcd" ] && [ -x "$dir/kube-apiserver" ] && [ -x "$dir/kubectl" ]; then
	echo "$dir"
	exit 0
fi

# Build into a temporary sibling and rename it into place: an interrupted build never leaves a
# folder that looks complete, and two concurrent runs each finish with a whole one.
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The version the binaries report: kube-apiserver refuses to start with an empty one, and kubectl
# prints it. Read from the module so that bumping go.mod is the only edit a version change needs.
kver=$(cd "$api_mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$kver" | cut -d. -f2)
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags="$ldflags -X $p.gitVersion=$kver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

echo "kube-assets: building etcd into $dir (once; minutes on a cold build cache)" >&2
(cd "$etcd_mod" && go build -trimpath -ldflags='-s -w' -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
echo "kube-assets: building kube-apiserver and kubectl $kver" >&2
(cd "$api_mod" && go build -trimpath -ldflags="$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
(cd "$api_mod" && go build -trimpath -ldflags="$ldflags" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl)

if ! mv -T "$tmp" "$dir" 2>/dev/null; then
	# Another run finished first; its folder is as good as ours.
	[ -x "$dir/kube-apiserver" ] || { echo "kube-assets: could not place $dir" >&2; exit 1; }
fi
echo "$dir"
