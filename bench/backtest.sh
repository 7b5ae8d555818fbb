#!/usr/bin/env bash
# Calibrates the sequential analysis against issue 8's goals: 100 req/s, 5% canary weight, 0.5%
# baseline errors, α 1%, 10-minute horizon, looks every second; the threshold rule is tuned on A/A
# runs to the same false-alarm rate. RUNS (default 10000) rollouts per scenario, fixed seeds.
# Figures go to docs/benchmarks.md with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
: "${RUNS:=10000}"
bin=$(mktemp -d)/hugai
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/hugai
common=(--rps 100 --weight 5% --error-rate 0.5% --alpha 0.01 --duration 10m --look 1s --runs "$RUNS")
echo "== error rate, steady baseline"
"$bin" analyze backtest "${common[@]}" --error-effect 1,2,4,10 "$@"
echo "== error rate, both versions drifting 0.5% -> 1%"
"$bin" analyze backtest "${common[@]}" --error-effect 1,2,4,10 --drift-to 1% "$@"
echo "== latency and error rate judged together (alpha split in half)"
"$bin" analyze backtest "${common[@]}" --latency --error-effect 1,10 --latency-effect 50% --runs "$((RUNS / 5))" "$@"
