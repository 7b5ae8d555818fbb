#!/usr/bin/env bash
# packaging/npm/build.sh: builds the npm packages of hugai into OUT (default dist/npm):
# @hugai/cli (the launcher) and one @hugai/cli-<os>-<cpu> per platform holding the Go binary, in
# esbuild's layout, each as a tarball from `npm pack`.
#
#   packaging/npm/build.sh                          # VERSION from git describe, every platform
#   VERSION=1.2.3 PLATFORMS=linux-x64 OUT=/tmp/npm packaging/npm/build.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/dist/npm}
version=${VERSION:-$(git -C "$root" describe --tags --abbrev=0 2>/dev/null | sed 's/^v//')}
version=${version:-0.0.0}
platforms=${PLATFORMS:-linux-x64 linux-arm64 darwin-x64 darwin-arm64 win32-x64}
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for p in $platforms; do
	os=${p%-*} cpu=${p#*-}
	case $os in linux | darwin) goos=$os ;; win32) goos=windows ;; *) echo "unknown platform $p" >&2; exit 2 ;; esac
	case $cpu in x64) goarch=amd64 ;; arm64) goarch=arm64 ;; *) echo "unknown platform $p" >&2; exit 2 ;; esac
	exe=hugai
	[[ $os == win32 ]] && exe=hugai.exe
	dir=$stage/$p
	mkdir -p "$dir/bin"
	(cd "$root" && CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath \
		-ldflags "-s -w -X github.com/hugai-dev/hugai/internal/cli.version=$version" -o "$dir/bin/$exe" ./cmd/hugai)
	cat >"$dir/package.json" <<JSON
{
  "name": "@hugai/cli-$p",
  "version": "$version",
  "description": "The $p binary of @hugai/cli",
  "os": ["$os"],
  "cpu": ["$cpu"],
  "preferUnplugged": true,
  "files": ["bin/$exe"]
}
JSON
	(cd "$dir" && npm pack --silent --pack-destination "$out" >/dev/null)
done

cp -r "$root/packaging/npm/cli" "$stage/cli"
# The launcher and its platform packages move together: every optional dependency is this version.
node -e '
const fs = require("fs"), f = process.argv[1], v = process.argv[2];
const p = JSON.parse(fs.readFileSync(f, "utf8"));
p.version = v;
for (const k of Object.keys(p.optionalDependencies)) p.optionalDependencies[k] = v;
fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");
' "$stage/cli/package.json" "$version"
(cd "$stage/cli" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"/*.tgz
