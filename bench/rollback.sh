#!/usr/bin/env bash
# How fast a bad canary is caught and taken out of traffic on the local target, at steady load:
# builds hugai and the demo, then runs bench/rollback (see its comment). Figures: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
go build -o bin/hugai ./cmd/hugai
examples/demo/make-releases.sh >/dev/null
go run ./bench/rollback -hugai bin/hugai "$@"
