#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 5s; e.g. FUZZTIME=10m scripts/fuzz.sh for a long run).
# One worker: on two cores, more workers starve each other (seen here as stalls). Each new
# interesting input is minimized for at most 10 runs, not go's default minute: with inputs of a few
# kilobytes (a plan, a service file) the default spent a 5 s run minimizing one input (FuzzParseFile
# made 10 executions in 30 s; with 10x it makes about 6,000 a second).
#
# A target fails the run when it finds an input that breaks it (go writes it to the package's
# testdata/fuzz/TARGET/, where it then stays as a regression case). A run that fails without
# finding anything — the fuzzing engine's own hiccup near the deadline — is shown and tried up to
# twice more.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# Builds do not stamp VCS information: a clone owned by another user would make git refuse.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
: "${FUZZTIME:=5s}"

corpus() { ls "$1/testdata/fuzz/$2" 2>/dev/null | sort; }

fuzz() { # fuzz PKG TARGET: 0 passed, 1 found a failing input, 2 failed without finding one
	local pkg=$1 target=$2 before out
	before=$(corpus "$pkg" "$target")
	if out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=10x -parallel=1 "$pkg" 2>&1); then
		tail -n 1 <<<"$out"
		return 0
	fi
	echo "$out" | grep -v '^fuzz: elapsed' | tail -n 40
	if [ "$(corpus "$pkg" "$target")" != "$before" ]; then
		echo "FAIL: $target found a failing input (now in $pkg/testdata/fuzz/$target)" >&2
		return 1
	fi
	return 2
}

status=0
while read -r file; do
	pkg="./$(dirname "$file")"
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		echo "-- $pkg $target"
		rc=0
		fuzz "$pkg" "$target" || rc=$?
		# A failure without a failing input is the fuzzing engine's, not the target's (go reports
		# "context deadline exceeded" when the deadline lands mid-exchange with its worker, seen here
		# on cold caches twice in a row): tried up to twice more.
		for again in 1 2; do
			[ "$rc" = 2 ] || break
			echo "-- $pkg $target: failed without a failing input; again ($again)"
			rc=0
			fuzz "$pkg" "$target" || rc=$?
		done
		[ "$rc" = 0 ] || status=1
	done
done < <(git ls-files -co --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz')
exit "$status"
