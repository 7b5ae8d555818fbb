// Package bad breaks every rule of the pure core once, at a known line, for check_test.go.
package bad

import (
	"net/url"
	"os"
	"os/exec"
	clock "time"
)

var _ = url.Parse
var _ = exec.Command

func ReadsFiles() ([]byte, error) { return os.ReadFile("plan.yaml") }

func ReadsTheClock() clock.Time { return clock.Now() }

func Waits() { clock.Sleep(clock.Second) }

var now = clock.Since

func StartsGoroutines() {
	go func() {}()
}
