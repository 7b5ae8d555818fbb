// Package e2e runs hugai as a user does: the built binary, a real server process, the real proxy
// and real demo processes, steady HTTP load, and the exit codes a pipeline sees. Its tests take
// minutes, so they build only with the e2e tag: go test -tags e2e ./test/e2e (docs/testing.md).
package e2e
