#!/usr/bin/env bash
# hugai's main job on the embedded default, from a fresh clone, in about two minutes: build hugai,
# start its server (SQLite, its own proxy, the builtin metrics: nothing else on the machine), put
# v1 of the example service (examples/demo) under steady load, then a canary to a good v2 that is
# promoted and a canary to a bad v3 (20% errors) that hugai rolls back by itself. It stops
# everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# Builds do not stamp VCS information: a clone owned by another user would make git refuse.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

echo "== building hugai and the demo service"
go build -o bin/hugai ./cmd/hugai
go build -o bin/loadgen ./examples/demo/loadgen
examples/demo/make-releases.sh >/dev/null

data=$(mktemp -d /tmp/hugai-demo-XXXXXX)
export HUGAI_SERVER=$data
svc=examples/demo/hugai.yaml
server_pid="" load_pid=""
cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
	if [ -n "$server_pid" ]; then
		bin/hugai server stop --all >/dev/null 2>&1 || kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$data"
}
trap cleanup EXIT

echo "== starting hugai server (data dir $data; log $data/server.log)"
bin/hugai server -f "$svc" --data-dir "$data" >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	bin/hugai deploy list >/dev/null 2>&1 && break
	sleep 0.1
done

run() { echo; echo "\$ hugai $*"; bin/hugai "$@"; }

echo
echo "== v1: the first release starts serving, under steady load: 100 requests/s through hugai's"
echo "   proxy on 127.0.0.1:18080 (held by the proxy until v1 is ready). Like every release it is"
echo "   judged on its traffic before it succeeds."
echo "\$ hugai deploy canary -f $svc --environment production --version v1 --detach"
id=$(bin/hugai deploy canary -f "$svc" --environment production --version v1 --detach)
echo "$id"
# Traffic starts once the proxy routes to v1 (it holds requests while v1 starts).
for _ in $(seq 100); do
	bin/hugai deploy status "$id" -o json | grep -q '"v1": 100' && break
	sleep 0.1
done
# Its summary comes at the end: lines printed meanwhile would break the live view's redraw.
bin/loadgen --url http://127.0.0.1:18080/ --rate 100 &
load_pid=$!
run deploy status "$id" --watch

echo
echo "== v2: a good version, canaried 10% → 25% → 50% → 100% and promoted"
run deploy canary -f "$svc" --environment production --version v2 \
	--traffic-split 10,25,50,100 --health-check-interval 5s \
	--success-criteria "error_rate<1%,latency_p95<500ms"

echo
echo "== v3: a bad version (20% of its requests fail): hugai rolls it back by itself"
set +e
run deploy canary -f "$svc" --environment production --version v3 \
	--traffic-split 10,25,50,100 --health-check-interval 5s \
	--success-criteria "error_rate<1%,latency_p95<500ms"
code=$?
set -e
echo "exit code $code (3: rolled back)"

sleep 1
kill -INT "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
load_pid=""

run deploy list
run audit verify --data-dir "$data"
if [ "$code" != 3 ]; then
	echo "demo: the bad canary should have been rolled back (exit 3), got $code" >&2
	exit 1
fi
echo
echo "== done: v2 serves all traffic; v3 was rolled back by hugai. Stopping everything."
