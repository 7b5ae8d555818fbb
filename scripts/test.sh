#!/usr/bin/env bash
# Every test hugai has, as CI runs it: formatting, vet, all tests with the race detector (unit,
# integration with real processes), then the slow suites behind the e2e build tag (the end-to-end
# tests with the built binary), then each fuzz target for a few seconds. Longer fuzzing:
# scripts/fuzz.sh. The tags and what each suite needs: docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# Builds do not stamp VCS information: a clone owned by another user would make git refuse.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

scripts/install-deps.sh
# The control plane the `kube` suites run against (etcd, kube-apiserver, kubectl), built from the
# Go module proxy once and cached outside the clone; minutes the first time, instant after.
KUBEBUILDER_ASSETS=$(scripts/kube-assets.sh)
export KUBEBUILDER_ASSETS

echo "== gofmt"
unformatted=$(git ls-files -co --exclude-standard '*.go' | xargs gofmt -l)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

# HUGAI_TEST_TAGS adds suites. prometheus, packaging, kube and chromium are always on:
# install-deps.sh above installs Debian's prometheus (which those tests start themselves), npm,
# python3 with venv and chromium (the dashboard tests drive it headless), and kube-assets.sh
# builds the API server.
tags="e2e,prometheus,packaging,kube,chromium${HUGAI_TEST_TAGS:+,$HUGAI_TEST_TAGS}"

echo "== go vet"
go vet ./...
# Every known tag at once, so that no tagged file escapes vet.
go vet -tags e2e,kube,chromium,prometheus,packaging ./...

echo "== go test -race (the fast loop)"
go test -race -count=1 -timeout 20m ./...

# Every package with a test file behind the e2e tag: a new slow suite is run without editing this.
slow=$(git ls-files -co --exclude-standard '*_test.go' | xargs grep -lE '^//go:build .*\be2e\b' | xargs -r -n1 dirname | sort -u | sed 's|^|./|' || true)
if [ -n "$slow" ]; then
	echo "== go test -race -tags $tags (slow suites:" $slow ")"
	go test -race -count=1 -timeout 30m -tags "$tags" $slow
fi

echo "== fuzz (${FUZZTIME:=5s} each)"
FUZZTIME="$FUZZTIME" scripts/fuzz.sh
