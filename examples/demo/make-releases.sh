#!/bin/sh
# Builds the demo binary and writes the demo's releases under examples/demo/releases/.
# Usage: examples/demo/make-releases.sh [BIN]   (BIN: an already built demo binary to use instead)
# RELEASES_DIR puts the releases elsewhere (tests use a temp dir).
# Each releases/<version>/demo is a script that execs the binary with that version's behaviour: a
# real deploy ships a different binary per version; these scripts stand in for that.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -ge 1 ]; then
	[ -x "$1" ] || { echo "make-releases: $1 is not an executable" >&2; exit 1; }
	bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
	bin=$here/bin/demo
	(cd "$root" && go build -o "$bin" ./examples/demo)
fi
[ -x "$bin" ] || { echo "make-releases: $bin is not an executable" >&2; exit 1; }

out=${RELEASES_DIR:-$here/releases}

release() { # release VERSION FLAGS...
	v=$1; shift
	mkdir -p "$out/$v"
	f=$out/$v/demo
	{
		echo '#!/bin/sh'
		echo "# demo release $v (written by make-releases.sh)"
		echo "exec '$bin' \"\$@\" $*"
	} >"$f.tmp"
	chmod 755 "$f.tmp"
	mv "$f.tmp" "$f"
}

release v1 --ready-after 500ms
release v2 --ready-after 500ms
release v3 --ready-after 500ms --error-rate 0.2
release v4 --ready-after 500ms --latency 20ms --slow-rate 0.2 --slow-latency 800ms
release v5 --ready-after 500ms --crash-after 2s
release v6 --never-ready
release v7 --ready-after 500ms --smoke-fail
release v8 --ready-after 500ms --fail-after 12s --error-rate 0.5
echo "releases v1..v8 written to $out (binary: $bin)"
