package store

import (
	"slices"
	"testing"

	"github.com/hugai-dev/hugai/internal/rollout"
)

func TestIsActive(t *testing.T) {
	terminal := TerminalPhases()
	if len(terminal) == 0 {
		t.Fatal("no terminal phases")
	}
	for _, p := range rollout.Phases() {
		if IsActive(string(p)) == p.Terminal() {
			t.Errorf("phase %s: active %v, terminal %v", p, IsActive(string(p)), p.Terminal())
		}
		if slices.Contains(terminal, string(p)) != p.Terminal() {
			t.Errorf("phase %s: in TerminalPhases %v, terminal %v", p, terminal, p.Terminal())
		}
	}
}
