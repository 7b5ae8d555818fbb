#!/usr/bin/env bash
# Installs the system packages hugai's tests need, from Debian's packages, when they are missing.
# Idempotent and quiet when everything is there; CI runs it on a fresh machine as root.
set -euo pipefail

need=()
# command:package. prometheus: the real Prometheus the `e2e && prometheus` tests start themselves;
# npm and python3: the `e2e && packaging` tests build and install the npm and Python packages;
# chromium: the `e2e` dashboard tests drive a real headless browser (chromedp).
for pair in "git:git" "prometheus:prometheus" "npm:npm" "python3:python3" "chromium:chromium"; do
	cmd=${pair%%:*} pkg=${pair#*:}
	command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done

if ((${#need[@]})); then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing ${need[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "install-deps: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The packaging tests make a virtual environment: Debian's python3 needs python3-venv for that.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: python3 cannot make a venv; install python3-venv" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
