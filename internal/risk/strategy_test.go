package risk

import (
	"strings"
	"testing"
)

func TestChooseStrategy(t *testing.T) {
	policy := map[Level]string{Low: "canary", Critical: "blue-green"}
	tests := []struct {
		level    Level
		byRisk   map[Level]string
		explicit string
		want     string
		reason   string
	}{
		{Low, nil, "", Rolling, "default mapping: low risk uses rolling"},
		{Medium, nil, "", Canary, "default mapping"},
		{High, nil, "", Canary, "default mapping"},
		{Critical, nil, "", BlueGreen, "default mapping: critical risk uses blueGreen"},
		{Low, policy, "", Canary, "strategyByRisk maps low risk to canary"},
		{Critical, policy, "", BlueGreen, "strategyByRisk maps critical risk to blueGreen"},
		{High, policy, "", Canary, "default mapping"},
		{Critical, policy, "recreate", Recreate, "--strategy recreate was given explicitly"},
		{Low, nil, "Blue-Green", BlueGreen, "--strategy blueGreen"},
		{Low, nil, "waterfall", "waterfall", "explicitly"},
	}
	for _, tt := range tests {
		got, reason := ChooseStrategy(tt.level, tt.byRisk, tt.explicit)
		if got != tt.want || !strings.Contains(reason, tt.reason) {
			t.Errorf("ChooseStrategy(%s, %v, %q) = %q, %q; want %q, %q", tt.level, tt.byRisk, tt.explicit, got, reason, tt.want, tt.reason)
		}
	}
}

func TestParseStrategy(t *testing.T) {
	for in, want := range map[string]string{"canary": Canary, "blueGreen": BlueGreen, "blue-green": BlueGreen,
		"BLUEGREEN": BlueGreen, "rolling": Rolling, " recreate ": Recreate} {
		if got, err := ParseStrategy(in); err != nil || got != want {
			t.Errorf("ParseStrategy(%q) = %q, %v", in, got, err)
		}
	}
	_, err := ParseStrategy("waterfall")
	if err == nil || !strings.Contains(err.Error(), `unknown strategy "waterfall"`) || !strings.Contains(err.Error(), "blueGreen") {
		t.Errorf("unknown strategy: %v", err)
	}
}
