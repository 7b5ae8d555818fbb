#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 5s; e.g. FUZZTIME=10m scripts/fuzz.sh for a long run).
# One worker: on two cores, more workers starve each other (seen here as stalls).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# Builds do not stamp VCS information: a clone owned by another user would make git refuse.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
: "${FUZZTIME:=5s}"

git ls-files -co --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' | while read -r file; do
	pkg="./$(dirname "$file")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r target; do
		echo "-- $pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -parallel=1 "$pkg" | tail -n 1
	done
done
