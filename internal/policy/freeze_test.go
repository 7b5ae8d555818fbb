package policy

import (
	"strings"
	"testing"
	"time"
)

func TestFreeze(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	weekend := []Window{{Name: "weekend", Start: "0 18 * * FRI", Duration: 62 * time.Hour}}
	r := Rules{Environment: "production", Roles: map[Role][]string{Deployer: {"alice"}, Admin: {"dave"}}}
	saturday := time.Date(2026, 12, 5, 12, 0, 0, 0, berlin)
	tuesday := time.Date(2026, 12, 1, 12, 0, 0, 0, berlin)
	dave := Identity{Name: "dave"}
	cases := []struct {
		name     string
		at       time.Time
		id       Identity
		override string
		allowed  bool
		rule     string
		reason   string
		overrode bool
	}{
		{"outside a window", tuesday, alice, "", true, RuleRole, "no freeze window is open", false},
		{"outside: an override is not needed", tuesday, dave, "hotfix", true, RuleRole, "not needed", false},
		{"inside: refused", saturday, alice, "", false, RuleFreeze, `production is in the freeze window "weekend" (Sat 12:00 CET): nothing starts until it closes, unless an admin overrides it with a reason (--override-freeze REASON)`, false},
		{"inside: an admin without a reason is refused", saturday, dave, "  ", false, RuleFreeze, "unless an admin overrides", false},
		{"inside: a deployer may not override", saturday, alice, "hotfix", false, RuleFreeze, "only an admin may override it, and alice holds deployer", false},
		{"inside: an admin overrides with a reason", saturday, dave, "CVE-2026-1 hotfix", true, RuleFreeze, "overridden by dave: CVE-2026-1 hotfix", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := r.Freeze(weekend, tc.at, berlin, tc.id, tc.override)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed || d.Rule != tc.rule || !strings.Contains(d.Reason, tc.reason) || d.Override != tc.overrode {
				t.Errorf("got %+v\nwant allowed=%t rule=%s override=%t …%s…", d, tc.allowed, tc.rule, tc.overrode, tc.reason)
			}
		})
	}
	if _, err := r.Freeze([]Window{{Name: "bad", Start: "nope", Duration: time.Hour}}, saturday, berlin, dave, ""); err == nil {
		t.Error("a bad window is an error")
	}
}
