#!/usr/bin/env bash
# bench/plan-10k.sh: how long hugai's change analysis takes over 10,000
# commits, next to plain `git log --numstat -M` over the same range (git is
# the floor; the goal is at most 1.5x git's time).
#
#   bench/plan-10k.sh                 # HUGAI=./bin/hugai by default
#   HUGAI=/path/to/hugai RUNS=20 bench/plan-10k.sh
#
# The repository is generated once with git fast-import and cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/hugai-bench. The script builds $HUGAI from
# ./cmd/hugai first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hugai-bench
commits=${COMMITS:-10000}
repo=$cache/repo-$commits
runs=${RUNS:-10}
hugai=${HUGAI:-$root/bin/hugai}
config=${HUGAI_CONFIG:-$root/examples/demo/hugai.yaml}

# generate writes a fast-import stream: 3 files changed per commit among 500
# files in 25 directories, a rename every 25th commit (then edited further).
generate() {
	awk -v n="$commits" 'BEGIN {
		files = 500
		for (c = 1; c <= n; c++) {
			msg = "commit " c
			printf "commit refs/heads/main\nmark :%d\n", c
			printf "author Bench <bench@example.com> %d +0000\n", 1700000000 + c * 60
			printf "committer Bench <bench@example.com> %d +0000\n", 1700000000 + c * 60
			printf "data %d\n%s\n", length(msg), msg
			if (c > 1) printf "from :%d\n", c - 1
			for (k = 0; k < 3; k++) {
				f = (c * 7 + k * 131) % files
				body = sprintf("package p%d\n\n// commit %d\nvar V%d = %d\n", f % 25, c, f, c)
				for (l = 0; l < 8 + c % 5; l++) body = body sprintf("// line %d of %d\n", l, c)
				printf "M 100644 inline %s\ndata %d\n%s\n", name(f), length(body), body
				seen[f] = 1
			}
			if (c % 25 == 0 && (c % files) in seen) {
				f = c % files
				old = name(f); gen[f]++
				printf "R %s %s\n", old, name(f)
			}
		}
	}
	function name(f) { return sprintf("pkg%02d/file%03d_v%d.go", f % 25, f, gen[f] + 0) }'
}

if [[ ! -f $repo/.complete ]]; then
	echo "generating $commits commits in $repo ..." >&2
	rm -rf "$repo"
	mkdir -p "$repo"
	git -C "$repo" init -q -b main
	start=$(date +%s.%N)
	generate | git -C "$repo" fast-import --quiet
	git -C "$repo" reset -q --hard main
	git -C "$repo" gc -q
	touch "$repo/.complete"
	awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "generated in %.1f s\n", e - s }' >&2
fi
first=$(git -C "$repo" rev-list --max-parents=0 HEAD)
echo "repository: $repo ($(git -C "$repo" rev-list --count "$first"..HEAD) commits in $first..HEAD)"

git_cmd="git -C $repo log --numstat -M $first..HEAD >/dev/null"
(cd "$root" && go build -o "$hugai" ./cmd/hugai)
# deploy plan reads git where the service file is: put a copy in the repo (untracked, so git log
# does not see it).
cp "$config" "$repo/hugai.yaml"
hugai_cmd="cd $repo && $hugai deploy plan -f $repo/hugai.yaml -e ${HUGAI_ENV:-production} --from $first --to HEAD --out /dev/null --at 2026-11-25T10:00:00Z >/dev/null"
what="hugai deploy plan"
echo "timing: $what"

if ! command -v hyperfine >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
	apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq hyperfine >/dev/null; } || true
fi

if command -v hyperfine >/dev/null 2>&1; then
	csv=$(mktemp)
	hyperfine --warmup 2 --runs "$runs" --export-csv "$csv" -n git-log "$git_cmd" -n hugai "$hugai_cmd"
	awk -F, 'NR == 2 { g = $2 } NR == 3 { h = $2 }
		END { printf "git log: %.3f s   hugai: %.3f s   ratio hugai/git: %.2fx\n", g, h, h / g }' "$csv"
	rm -f "$csv"
else
	mean() { # mean wall time of $runs runs of a shell command, in seconds
		local s e
		bash -c "$1" >/dev/null
		s=$(date +%s%N)
		for ((i = 0; i < runs; i++)); do bash -c "$1" >/dev/null; done
		e=$(date +%s%N)
		awk -v s="$s" -v e="$e" -v n="$runs" 'BEGIN { printf "%.4f", (e - s) / n / 1e9 }'
	}
	g=$(mean "$git_cmd")
	h=$(mean "$hugai_cmd")
	awk -v g="$g" -v h="$h" 'BEGIN { printf "git log: %.3f s   hugai: %.3f s   ratio hugai/git: %.2fx\n", g, h, h / g }'
fi
