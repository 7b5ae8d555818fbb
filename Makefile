.PHONY: build demo test fuzz bench

build:
	go build -o bin/hugai ./cmd/hugai

demo:
	scripts/demo.sh

test:
	scripts/test.sh

fuzz:
	FUZZTIME=$${FUZZTIME:-5m} scripts/fuzz.sh
