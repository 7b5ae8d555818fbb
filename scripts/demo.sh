#!/usr/bin/env bash
# hugai's main job on the embedded default, from a fresh clone: build hugai, then plan a
# deployment of the example service (examples/demo): the change's risk, the strategy, the
# approvals, the rollback plan, with the reason for each choice.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

go build -o bin/hugai ./cmd/hugai
examples/demo/make-releases.sh >/dev/null

echo "\$ hugai validate examples/demo/hugai.yaml"
bin/hugai validate examples/demo/hugai.yaml
echo
echo "\$ hugai deploy plan -f examples/demo/hugai.yaml --environment production --strategy canary --analyze-impact --generate-rollback --explain --out bin/deployment-plan.yaml"
bin/hugai deploy plan -f examples/demo/hugai.yaml --environment production --strategy canary \
	--analyze-impact --generate-rollback --explain --out bin/deployment-plan.yaml
echo
echo "The plan: bin/deployment-plan.yaml"
