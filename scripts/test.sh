#!/usr/bin/env bash
# Every test hugai has, as CI runs it: formatting, vet, all tests with the race detector (unit,
# integration with real processes and the end-to-end tests with the built binary), then each fuzz
# target for a few seconds. Longer fuzzing: scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# Builds do not stamp VCS information: a clone owned by another user would make git refuse.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

scripts/install-deps.sh

echo "== gofmt"
unformatted=$(git ls-files -co --exclude-standard '*.go' | xargs gofmt -l)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz (${FUZZTIME:=5s} each)"
FUZZTIME="$FUZZTIME" scripts/fuzz.sh
