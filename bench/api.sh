#!/usr/bin/env bash
# The API under load (issue 10): hugai server with the demo service over TLS (--listen), rollouts
# running one after another under 100 req/s of user traffic, and meanwhile a mixed read load of
# API_RATE (default 200) requests a second with API_WATCHERS (20) event streams open, for
# API_DURATION (60s). Prints the API's latency and the server's memory (bench/apiload).
# Usage: bench/api.sh      (about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
rate=${API_RATE:-200} watchers=${API_WATCHERS:-20} duration=${API_DURATION:-60s}
go build -o bin/hugai ./cmd/hugai
go build -o bin/loadgen ./examples/demo/loadgen
go build -o bin/apiload ./bench/apiload
examples/demo/make-releases.sh >/dev/null

data=$(mktemp -d /tmp/hugai-apibench-XXXXXX)
export HUGAI_SERVER=$data
svc=examples/demo/hugai.yaml
addr=127.0.0.1:$((20000 + RANDOM % 10000))
server_pid="" load_pid="" roll_pid=""
cleanup() {
	for p in $roll_pid $load_pid; do kill "$p" 2>/dev/null || true; done
	if [ -n "$server_pid" ]; then
		bin/hugai server stop --all >/dev/null 2>&1 || kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$data"
}
trap cleanup EXIT

bin/hugai server -f "$svc" --data-dir "$data" --listen "$addr" >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do bin/hugai deploy list >/dev/null 2>&1 && break; sleep 0.1; done
# v1 is judged on its own traffic before it is released: the load starts once the proxy routes.
id=$(bin/hugai deploy canary -f "$svc" --environment production --version v1 --detach)
bin/loadgen --url http://127.0.0.1:18080/ --rate 100 >/dev/null 2>&1 &
load_pid=$!
bin/hugai deploy status "$id" --watch >/dev/null
token=$(bin/hugai token create --name apibench --role viewer -o json | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p')
# Rollouts one after another for the whole run: good versions promoted, v3 rolled back.
(
	while :; do
		for v in v2 v3 v4 v1; do
			bin/hugai deploy canary -f "$svc" --environment production --version "$v" \
				--traffic-split 10,50,100 --health-check-interval 5s >/dev/null 2>&1 || true
		done
	done
) &
roll_pid=$!
sleep 5
echo "== $rate req/s of API reads over TLS with $watchers event streams, for $duration, rollouts running"
HUGAI_TOKEN=$token bin/apiload -server "https://$addr" -rate "$rate" -watchers "$watchers" -duration "$duration" -pid "$server_pid"
