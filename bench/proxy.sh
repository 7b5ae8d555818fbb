#!/usr/bin/env bash
# Benchmark hugai's proxy against nginx, both as a weighted 95/5 reverse proxy with keep-alive in
# front of the same upstreams, each proxy held to one core (taskset -c 0, nginx worker_processes 1,
# hugai GOMAXPROCS=1); wrk and the upstream nginx run on the other core.
#
#   bench/proxy.sh            # DURATION=10 CONNECTIONS=64 ROUNDS=3 by default
#   COMPARE=/tmp/hugai-old bench/proxy.sh   # also another hugai build, in the same rounds
#   H2=1 bench/proxy.sh       # also HTTP/2 from the client (h2c, prior knowledge) with h2load
#   IDLE="1000 10000" bench/proxy.sh   # also the memory of that many idle keep-alive connections
#   BODY=1 bench/proxy.sh     # also a 1 MiB response body through each proxy (throughput, peak RSS)
#   WS=1 bench/proxy.sh       # also WebSocket: echoes over open connections, and upgrades per second
#   go build -o /tmp/floor ./bench/proxyfloor && COMPARE=/tmp/floor bench/proxy.sh
#                             # also the floor a featureless Go proxy reaches (bench/proxyfloor)
#
# The two proxies are measured alternately, ROUNDS times, so that load from elsewhere on the
# machine falls on both alike; each round prints its own ratio.
#
# Everything binds to 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

install_if_missing() { # command package
	if ! command -v "$1" >/dev/null 2>&1; then
		apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
	fi
}
install_if_missing nginx nginx
install_if_missing wrk wrk
install_if_missing taskset util-linux
H2=${H2:-}
COMPARE=${COMPARE:-}
IDLE=${IDLE:-}
BODY=${BODY:-}
WS=${WS:-}
[ -n "$H2" ] && install_if_missing h2load nghttp2-client

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# free_port prints a port no socket uses, below the kernel's ephemeral range (32768 and up) so
# that no outgoing connection takes it between the check and the bind.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# wait_port waits until something accepts on port $1.
wait_port() {
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

nginx_conf() { # name, http block body
	local dir="$work/$1"
	mkdir -p "$dir"
	local user=""
	[ "$(id -u)" = 0 ] && user="user root root;"
	cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	keepalive_requests 1000000;
	$2
}
EOF
	echo "$dir/nginx.conf"
}

go build -o bin/hugai ./cmd/hugai

up1=$(free_port)
up2=$(free_port)
mkdir -p "$work/static"
head -c 1048576 /dev/urandom >"$work/static/1m"
chmod -R a+rX "$work/static"
conf=$(nginx_conf upstream "
	server { listen 127.0.0.1:$up1; location / { return 200 'v1\n'; } location = /1m { root $work/static; } }
	server { listen 127.0.0.1:$up2; location / { return 200 'v2\n'; } location = /1m { root $work/static; } }")
taskset -c "$LOAD_CPU" nginx -c "$conf" &
pids+=($!)
wait_port "$up1"
wait_port "$up2"

# WebSocket echo upstreams (bench/wsload), and the proxies' server blocks for them.
wsconf=""
if [ -n "$WS" ]; then
	go build -o "$work/wsload" ./bench/wsload
	ws1=$(free_port)
	ws2=$(free_port)
	taskset -c "$LOAD_CPU" "$work/wsload" -serve "127.0.0.1:$ws1,127.0.0.1:$ws2" &
	pids+=($!)
	wait_port "$ws1"
	wait_port "$ws2"
	ngxws=$(free_port)
	wsconf="
	upstream wsversions {
		server 127.0.0.1:$ws1 weight=95;
		server 127.0.0.1:$ws2 weight=5;
	}
	server {
		listen 127.0.0.1:$ngxws;
		location / {
			proxy_pass http://wsversions;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection upgrade;
			proxy_read_timeout 1h;
		}
	}"
fi

ngx=$(free_port)
ngx2=$(free_port) # HTTP/2 with prior knowledge, as hugai serves it on its one listen address
conf=$(nginx_conf proxy "
	upstream versions {
		server 127.0.0.1:$up1 weight=95;
		server 127.0.0.1:$up2 weight=5;
		keepalive 128;
	}
	server {
		listen 127.0.0.1:$ngx;
		listen 127.0.0.1:$ngx2 http2;
		location / {
			proxy_pass http://versions;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}
	}
	$wsconf")
taskset -c "$PROXY_CPU" nginx -c "$conf" &
pids+=($!)
ngxmaster=$!
wait_port "$ngx"

# start_hugai NAME BINARY [UPSTREAM1 UPSTREAM2] starts a hugai proxy on one core and prints its
# port and admin port. The proxy loads its routes from the state file on start, as after a restart.
start_hugai() {
	local port admin u1=${3:-$up1} u2=${4:-$up2}
	port=$(free_port)
	admin=$(free_port)
	mkdir -p "$work/$1"
	cat >"$work/$1/routes.json" <<ROUTES
{"generation": 1, "stable": "v1", "canary": "v2", "backends": [
  {"version": "v1", "weight": 95, "endpoints": ["127.0.0.1:$u1"]},
  {"version": "v2", "weight": 5, "endpoints": ["127.0.0.1:$u2"]}]}
ROUTES
	GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$2" proxy --listen "127.0.0.1:$port" \
		--admin "127.0.0.1:$admin" --admin-socket "$work/$1/hugai.sock" --state-file "$work/$1/routes.json" \
		>"$work/$1/log" 2>&1 &
	echo "$! $port $admin"
}
read -r pid hug hugadmin < <(start_hugai hugai bin/hugai)
pids+=("$pid")
hugpid=$pid
wait_port "$hug"
if [ -n "$COMPARE" ]; then
	read -r pid cmp cmpadmin < <(start_hugai compare "$COMPARE")
	pids+=("$pid")
	cmppid=$pid
	wait_port "$cmp"
fi
if [ -n "$WS" ]; then
	read -r pid hugws _ < <(start_hugai hugai-ws bin/hugai "$ws1" "$ws2")
	pids+=("$pid")
	wait_port "$hugws"
fi

# cpu_ticks prints the CPU time (user + system, in clock ticks) process $1 has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_wrk prints "req/s p99 cpu" for a URL served by process $2, after a short warm-up: cpu is the
# process's CPU time per request in microseconds, which the machine's other load disturbs far
# less than requests/s (a proxy waiting for a core uses none).
run_wrk() {
	taskset -c "$LOAD_CPU" wrk -t2 -c"$CONNECTIONS" -d2s "$1" >/dev/null
	local out t0 t1
	t0=$(cpu_ticks "$2")
	out=$(taskset -c "$LOAD_CPU" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")
	t1=$(cpu_ticks "$2")
	if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
		echo "$out" >&2
	fi
	local rps p99 reqs
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	echo "$rps $p99 $(awk -v t=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1fus", t / hz * 1e6 / n }')"
}

# run_wsload prints "rate p50 p99 errors" for WebSocket load on port $1 (wsload's flags after it).
run_wsload() {
	local port=$1
	shift
	taskset -c "$LOAD_CPU" "$work/wsload" -addr "127.0.0.1:$port" -c "$CONNECTIONS" -d "${DURATION}s" "$@"
}

# run_h2load prints "req/s mean" for an h2c URL: the same connections, 10 streams each.
run_h2load() {
	taskset -c "$LOAD_CPU" h2load -t1 -c"$CONNECTIONS" -m10 -D2 "$1" >/dev/null
	local out
	out=$(taskset -c "$LOAD_CPU" h2load -t1 -c"$CONNECTIONS" -m10 -D"$DURATION" "$1")
	if ! echo "$out" | grep -q " 0 failed, 0 errored"; then
		echo "$out" | grep -E "^requests:|^status codes:" >&2
	fi
	local rps mean
	rps=$(echo "$out" | awk '/^finished in/ {print $4}')
	mean=$(echo "$out" | awk '/^time for request:/ {print $6}')
	echo "$rps $mean"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)   cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x$(nproc)"
ngxname="nginx $(nginx -v 2>&1 | sed 's/.*\///')"
printf '%-6s %-5s %-14s %12s %10s %10s\n' round proto proxy req/s p99/mean cpu/req
ngxworker=$(pgrep -P "$ngxmaster" | head -n 1)
for round in $(seq 1 "$ROUNDS"); do
	read -r nrps np99 ncpu < <(run_wrk "http://127.0.0.1:$ngx/" "$ngxworker")
	read -r hrps hp99 hcpu < <(run_wrk "http://127.0.0.1:$hug/" "$hugpid")
	printf '%-6s %-5s %-14s %12s %10s %10s\n' "$round" h1 "$ngxname" "$nrps" "$np99" "$ncpu"
	printf '%-6s %-5s %-14s %12s %10s %10s\n' "$round" h1 "hugai proxy" "$hrps" "$hp99" "$hcpu"
	if [ -n "$COMPARE" ]; then
		read -r crps cp99 ccpu < <(run_wrk "http://127.0.0.1:$cmp/" "$cmppid")
		printf '%-6s %-5s %-14s %12s %10s %10s\n' "$round" h1 "hugai compare" "$crps" "$cp99" "$ccpu"
	fi
	awk -v h="$hrps" -v n="$nrps" -v r="$round" 'BEGIN { printf "%-6s h1    hugai / nginx: %.2f\n", r, h / n }'
	echo "$hrps $nrps $hp99 $np99" >>"$work/h1-rounds"
	if [ -n "$H2" ]; then
		read -r n2rps n2mean < <(run_h2load "http://127.0.0.1:$ngx2/")
		read -r h2rps h2mean < <(run_h2load "http://127.0.0.1:$hug/")
		printf '%-6s %-5s %-14s %12s %10s\n' "$round" h2c "$ngxname" "$n2rps" "$n2mean"
		printf '%-6s %-5s %-14s %12s %10s\n' "$round" h2c "hugai proxy" "$h2rps" "$h2mean"
		awk -v h="$h2rps" -v n="$n2rps" -v r="$round" 'BEGIN { printf "%-6s h2c   hugai / nginx: %.2f\n", r, h / n }'
	fi
	if [ -n "$WS" ]; then
		# Messages over open connections (wsload keeps them open), then upgrades per second.
		read -r nmps nm50 nm99 nmerr < <(run_wsload "$ngxws")
		read -r hmps hm50 hm99 hmerr < <(run_wsload "$hugws")
		read -r nups nu50 nu99 nuerr < <(run_wsload "$ngxws" -connect)
		read -r hups hu50 hu99 huerr < <(run_wsload "$hugws" -connect)
		printf '%-6s %-5s %-14s %9s msg/s  p50 %8s  p99 %8s  errors %s\n' "$round" ws "$ngxname" "$nmps" "$nm50" "$nm99" "$nmerr"
		printf '%-6s %-5s %-14s %9s msg/s  p50 %8s  p99 %8s  errors %s\n' "$round" ws "hugai proxy" "$hmps" "$hm50" "$hm99" "$hmerr"
		printf '%-6s %-5s %-14s %9s upg/s  p50 %8s  p99 %8s  errors %s\n' "$round" ws "$ngxname" "$nups" "$nu50" "$nu99" "$nuerr"
		printf '%-6s %-5s %-14s %9s upg/s  p50 %8s  p99 %8s  errors %s\n' "$round" ws "hugai proxy" "$hups" "$hu50" "$hu99" "$huerr"
		awk -v hm="$hmps" -v nm="$nmps" -v hu="$hups" -v nu="$nups" -v r="$round" \
			'BEGIN { printf "%-6s ws    hugai / nginx: messages %.2f, upgrades %.2f\n", r, hm / nm, hu / nu }'
	fi
done
# The goals are read on the medians of the rounds: this machine's noise is larger than 1 ms.
awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ n++; ratio[n] = $1 / $2; hp[n] = ms($3); np[n] = ms($4); gap[n] = ms($3) - ms($4) }
	END {
		printf "medians of %d rounds: hugai / nginx %.2f; p99 nginx %.2fms, hugai %.2fms; p99 apart (median of rounds) %.2fms\n",
			n, median(ratio, n), median(np, n), median(hp, n), median(gap, n)
	}' "$work/h1-rounds"
if [ -n "$BODY" ]; then
	# A 1 MiB body, streamed: requests/s, bytes/s and the proxy's peak resident memory.
	hwm() { awk '/^VmHWM/ {print $2 " kB"}' "/proc/$1/status"; }
	rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
	echo "before the 1 MiB bodies: RSS nginx worker $(rss "$ngxworker") (peak $(hwm "$ngxworker")), hugai proxy $(rss "$hugpid") (peak $(hwm "$hugpid"))"
	for round in $(seq 1 "$ROUNDS"); do
		for target in "nginx $ngx" "hugai $hug"; do
			set -- $target
			out=$(taskset -c "$LOAD_CPU" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$2/1m")
			echo "$out" | grep -q "Non-2xx\|Socket errors" && echo "$out" >&2
			printf '%-6s 1MiB  %-14s %10s req/s %10s/s  p99 %s\n' "$round" "$1" \
				"$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')" "$(echo "$out" | awk '/^Transfer\/sec:/ {print $2}')" \
				"$(echo "$out" | awk '$1 == "99%" {print $2}')"
		done
	done
	echo "after them: RSS nginx worker $(rss "$ngxworker") (peak $(hwm "$ngxworker")), hugai proxy $(rss "$hugpid") (peak $(hwm "$hugpid"))"
fi
if [ -n "$IDLE" ]; then
	go build -o "$work/idleconns" ./bench/idleconns
	for n in $IDLE; do
		"$work/idleconns" -n "$n" "nginx=127.0.0.1:$ngx@$ngxworker" "hugai=127.0.0.1:$hug@$hugpid"
	done
fi
# The proxy's own view: requests per version, 5xx and upstream connection failures.
curl -s "http://127.0.0.1:$hugadmin/metrics" | grep -E '^hugai_proxy_(requests|responses_5xx|upstream_connection_failures)_total|^go_(goroutines|memstats_(heap_inuse|heap_sys|stack_inuse|sys)_bytes) ' || true
echo "RSS: hugai proxy $(awk '/^VmRSS/ {print $2 " kB"}' "/proc/$hugpid/status")${COMPARE:+, hugai compare $(awk '/^VmRSS/ {print $2 " kB"}' "/proc/$cmppid/status")}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
