package store

import "testing"

func TestIsActive(t *testing.T) {
	for _, p := range TerminalPhases() {
		if IsActive(p) {
			t.Errorf("terminal phase %s counted as active", p)
		}
	}
	for _, p := range []string{"Pending", "AwaitingApproval", "Progressing", "Paused", "Promoting", "Verifying", "RollingBack"} {
		if !IsActive(p) {
			t.Errorf("phase %s counted as over", p)
		}
	}
}
