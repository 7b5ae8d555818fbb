#!/usr/bin/env bash
# bench/release-10k.sh: how long `hugai release create` takes over 10,000 Conventional Commits,
# next to plain `git log --numstat -M` over the same range (git is the floor; the goal is at most
# 1.5x git's time). release create runs one `git log --numstat -M -z` with bodies and parents,
# parses every message, decides the version, renders the notes, plans each environment of the
# demo service and records the release (a fresh data dir for every run).
#
#   bench/release-10k.sh                 # HUGAI=./bin/hugai by default
#   HUGAI=/path/to/hugai RUNS=20 bench/release-10k.sh
#   WHAT=deployment bench/release-10k.sh # `hugai analyze deployment` over the same range instead,
#                                        # next to the `git log -p -U0` it scans (its floor)
#
# The repository is generated once with git fast-import and cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/hugai-bench. The script builds $HUGAI from ./cmd/hugai first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hugai-bench
commits=${COMMITS:-10000}
repo=$cache/release-repo-$commits
runs=${RUNS:-10}
hugai=${HUGAI:-$root/bin/hugai}
config=${HUGAI_CONFIG:-$root/examples/demo/hugai.yaml}

# generate writes a fast-import stream: a tag v1.0.0 on the first commit, then commits of mixed
# types (feat, fix, perf, chore, docs, a breaking one in 200, bodies with footers in one of 4), 3
# files changed per commit among 500 files in 25 directories, a rename every 25th commit.
generate() {
	awk -v n="$commits" 'BEGIN {
		files = 500
		split("feat fix fix perf chore docs refactor fix", types, " ")
		for (c = 0; c <= n; c++) {
			t = types[c % 8 + 1]
			msg = sprintf("%s(pkg%02d): change number %d", t, c % 25, c)
			if (c % 200 == 7) msg = sprintf("feat(pkg%02d)!: breaking change %d", c % 25, c)
			if (c % 4 == 1) msg = msg sprintf("\n\nWhy this change was made, commit %d.\nIt spans lines.\n\nRefs #%d\nReviewed-by: Bench <bench@example.com>", c, c % 997)
			if (c == 0) msg = "chore: initial import"
			printf "commit refs/heads/main\nmark :%d\n", c + 1
			printf "author Dev%d <dev%d@example.com> %d +0000\n", c % 13, c % 13, 1700000000 + c * 60
			printf "committer Bench <bench@example.com> %d +0000\n", 1700000000 + c * 60
			printf "data %d\n%s\n", length(msg), msg
			if (c > 0) printf "from :%d\n", c
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
			if (c == 0) printf "reset refs/tags/v1.0.0\nfrom :1\n"
		}
	}
	function name(f) { return sprintf("pkg%02d/file%03d_v%d.go", f % 25, f, gen[f] + 0) }'
}

if [[ ! -f $repo/.complete ]]; then
	echo "generating $commits commits in $repo ..." >&2
	rm -rf "$repo"
	mkdir -p "$repo"
	git -C "$repo" init -q -b main
	generate | git -C "$repo" fast-import --quiet
	git -C "$repo" reset -q --hard main
	git -C "$repo" gc -q
	touch "$repo/.complete"
fi
echo "repository: $repo ($(git -C "$repo" rev-list --count v1.0.0..HEAD) commits in v1.0.0..HEAD)"

(cd "$root" && go build -o "$hugai" ./cmd/hugai)
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
git_cmd="git -C $repo log --numstat -M v1.0.0..HEAD >/dev/null"
hugai_cmd="$hugai release create --repo $repo -f $config --data-dir $data/d --at 2026-11-25T10:00:00Z >/dev/null"
name="hugai release create"
if [[ ${WHAT:-release} == deployment ]]; then
	git_cmd="git -C $repo log -p -U0 --no-merges v1.0.0..HEAD >/dev/null"
	hugai_cmd="$hugai analyze deployment --repo $repo -f $config -e production --from v1.0.0 --at 2026-11-25T10:00:00Z -o json >/dev/null"
	name="hugai analyze deployment"
	"$hugai" analyze deployment --repo "$repo" -f "$config" -e production --from v1.0.0 --at 2026-11-25T10:00:00Z | sed -n '1,6p'
else
	"$hugai" release create --repo "$repo" -f "$config" --dry-run --at 2026-11-25T10:00:00Z | sed -n '1,7p'
fi

if ! command -v hyperfine >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
	apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq hyperfine >/dev/null; } || true
fi
if command -v hyperfine >/dev/null 2>&1; then
	csv=$(mktemp)
	hyperfine --warmup 2 --runs "$runs" --export-csv "$csv" -n git-log "$git_cmd" \
		-n "$name" --prepare "rm -rf $data/d" "$hugai_cmd"
	awk -F, 'NR == 2 { g = $2 } NR == 3 { h = $2 }
		END { printf "git log: %.3f s   hugai: %.3f s   ratio hugai/git: %.2fx\n", g, h, h / g }' "$csv"
	rm -f "$csv"
else
	mean() { # mean wall time of $runs runs of a shell command, in seconds
		local s e t=0
		for ((i = 0; i < runs; i++)); do
			rm -rf "$data/d"
			s=$(date +%s%N); bash -c "$1" >/dev/null; e=$(date +%s%N)
			t=$((t + e - s))
		done
		awk -v t="$t" -v n="$runs" 'BEGIN { printf "%.4f", t / n / 1e9 }'
	}
	g=$(mean "$git_cmd")
	h=$(mean "$hugai_cmd")
	awk -v g="$g" -v h="$h" 'BEGIN { printf "git log: %.3f s   hugai: %.3f s   ratio hugai/git: %.2fx\n", g, h, h / g }'
fi
