package policy

import (
	"strings"
	"testing"
	"time"
)

func TestCount(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	vote := func(who string, minutes int, groups ...string) Vote {
		return Vote{Actor: who, Groups: groups, At: t0.Add(time.Duration(minutes) * time.Minute)}
	}
	twoGroups := Rules{Quorum: []Group{{Name: "security", From: []string{"s"}, Count: 1}, {Name: "production", From: []string{"p"}, Count: 1}}}
	cases := []struct {
		name    string
		rules   Rules
		need    int
		votes   []Vote
		at      int // minutes after t0
		met     bool
		missing string
		counted int
	}{
		{"one of one", Rules{}, 1, []Vote{vote("a", 0)}, 1, true, "", 1},
		{"none yet", Rules{}, 1, nil, 1, false, "1 more approval(s) of 1", 0},
		{"quorum of 2: one is not enough", Rules{}, 2, []Vote{vote("a", 0)}, 1, false, "1 more approval(s) of 2", 1},
		{"quorum of 2: the same person twice is one", Rules{}, 2, []Vote{vote("a", 0), vote("a", 1)}, 2, false, "1 more approval(s) of 2", 1},
		{"quorum of 2: two distinct", Rules{}, 2, []Vote{vote("a", 0), vote("b", 1)}, 2, true, "", 2},
		{"a zero count needs one", Rules{}, 0, nil, 0, false, "1 more approval(s) of 1", 0},
		{"groups: both from security", twoGroups, 1, []Vote{vote("a", 0, "security"), vote("b", 0, "security")}, 1, false, "1 more from production", 2},
		{"groups: one from each", twoGroups, 1, []Vote{vote("a", 0, "security"), vote("b", 0, "production")}, 1, true, "", 2},
		{"groups: one person in both stands for one", twoGroups, 1, []Vote{vote("a", 0, "security", "production")}, 1, false, "1 more approval(s) of 2; 1 more from", 1},
		{"groups: the matching finds the assignment", twoGroups, 1, []Vote{vote("a", 0, "security", "production"), vote("b", 0, "security")}, 1, true, "", 2},
		{"groups: two from one group", Rules{Quorum: []Group{{Name: "sec", Count: 2}}}, 1, []Vote{vote("a", 0, "sec"), vote("b", 0)}, 1, false, "1 more from sec", 2},
		{"expiry: an old approval no longer counts", Rules{ApprovalExpiry: time.Hour}, 1, []Vote{vote("a", 0)}, 60, false, "1 more approval(s) of 1", 0},
		{"expiry: a young one does", Rules{ApprovalExpiry: time.Hour}, 1, []Vote{vote("a", 0)}, 59, true, "", 1},
		{"expiry: a fresh vote of the same person counts", Rules{ApprovalExpiry: time.Hour}, 1, []Vote{vote("a", 0), vote("a", 30)}, 61, true, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.rules.Count(tc.need, tc.votes, t0.Add(time.Duration(tc.at)*time.Minute))
			if got.Met != tc.met || len(got.Counted) != tc.counted || !strings.Contains(got.Missing, tc.missing) || (tc.met && got.Missing != "") {
				t.Errorf("Count = met %t, %d counted, missing %q; want %t, %d, …%s…", got.Met, len(got.Counted), got.Missing, tc.met, tc.counted, tc.missing)
			}
		})
	}
}

func TestCountNextExpiry(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := Rules{ApprovalExpiry: time.Hour}
	got := r.Count(3, []Vote{{Actor: "a", At: t0.Add(10 * time.Minute)}, {Actor: "b", At: t0}}, t0.Add(20*time.Minute))
	if !got.NextExpiry.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextExpiry = %v, want %v", got.NextExpiry, t0.Add(time.Hour))
	}
	if exp := r.Count(1, []Vote{{Actor: "a", At: t0}}, t0.Add(2*time.Hour)); len(exp.Expired) != 1 || !exp.NextExpiry.IsZero() {
		t.Errorf("expired: %+v", exp)
	}
}

func TestRequired(t *testing.T) {
	r := Rules{Quorum: []Group{{Name: "a", Count: 2}, {Name: "b"}}}
	if got := r.Required(1); got != 3 {
		t.Errorf("Required(1) = %d, want 3 (2 from a, 1 from b)", got)
	}
	if got := r.Required(5); got != 5 {
		t.Errorf("Required(5) = %d", got)
	}
	if got := (Rules{}).Required(0); got != 1 {
		t.Errorf("Required(0) = %d", got)
	}
}
