#!/bin/sh
# The judge on real rollouts through the proxy, beside the simulation of the same scenario
# (issue 8's consistency check): the demo service at 100 req/s, a 5% canary held JUDGE_HOLD
# (default 20s), promoted and watched, the stable version failing 0.5% of requests, the candidate
# alike (JUDGE_AA runs, default 30), 4x and 10x worse (JUDGE_BAD runs each, default 10), two
# environments at once (JUDGE_WORKERS), method: sequential at alpha 0.01.
# Usage: bench/judge-real.sh          (about 15 minutes on 2 cores)
set -eu
cd "$(dirname "$0")/.."
hold=${JUDGE_HOLD:-20s}
echo "== real rollouts (test/e2e/judgebench_test.go)"
# Each environment is a parallel subtest: -parallel lets JUDGE_WORKERS of them run at once (go
# test's default is one per core).
JUDGE_HOLD=$hold go test -tags e2e,judgebench -run TestJudgeOnRealRollouts -count=1 -v -timeout 90m \
	-parallel "${JUDGE_WORKERS:-2}" ./test/e2e |
	grep -E 'judgebench_test.go|^KIND|^1x|^4x|^10x|^(ok|FAIL|---)' || true
echo "== the simulation of the canary phase (its ${hold} at 5%; looks every 3 s)"
go run ./cmd/hugai analyze backtest --duration "$hold" --look 3s --latency --error-effect 1,4,10 --runs 10000
