package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Vote is one approval as the quorum counts it: who, when, and the quorum groups they were in.
type Vote struct {
	Actor  string
	Groups []string
	At     time.Time
}

// Tally is where a gate's approvals stand.
type Tally struct {
	// Met: enough distinct approvals, and enough from each quorum group.
	Met bool
	// Counted are the approvals still valid; Expired those too old to count (oldest first).
	Counted []Vote
	Expired []Vote
	// Missing says what is still needed, for people ("1 more approval from security").
	Missing string
	// NextExpiry is when the oldest counted approval stops counting (zero: never).
	NextExpiry time.Time
}

// Count tallies votes for a gate that needs need distinct approvals under r at now.
func (r Rules) Count(need int, votes []Vote, now time.Time) Tally {
	var t Tally
	seen := map[string]bool{}
	for _, v := range votes {
		if r.ApprovalExpiry > 0 && !now.Before(v.At.Add(r.ApprovalExpiry)) {
			t.Expired = append(t.Expired, v)
			continue
		}
		if seen[v.Actor] {
			continue // one person, one vote
		}
		seen[v.Actor] = true
		t.Counted = append(t.Counted, v)
		if r.ApprovalExpiry > 0 {
			if exp := v.At.Add(r.ApprovalExpiry); t.NextExpiry.IsZero() || exp.Before(t.NextExpiry) {
				t.NextExpiry = exp
			}
		}
	}
	need = r.Required(need)
	var missing []string
	if short := need - len(t.Counted); short > 0 {
		missing = append(missing, fmt.Sprintf("%d more approval(s) of %d", short, need))
	}
	if unmet := r.unmetGroups(t.Counted); len(unmet) > 0 {
		missing = append(missing, unmet...)
	}
	t.Met = len(missing) == 0
	t.Missing = strings.Join(missing, "; ")
	return t
}

// unmetGroups matches votes to the groups' seats, each voter filling one seat at most (who is in
// two groups does not stand for both), and names the seats left empty. A bipartite matching by
// augmenting paths: seats and voters are few.
func (r Rules) unmetGroups(votes []Vote) []string {
	type seat struct{ group string }
	var seats []seat
	for _, g := range r.Quorum {
		for range max(g.Count, 1) {
			seats = append(seats, seat{g.Name})
		}
	}
	if len(seats) == 0 {
		return nil
	}
	holder := make([]int, len(seats)) // seat -> vote index, -1 empty
	for i := range holder {
		holder[i] = -1
	}
	var try func(v int, visited []bool) bool
	try = func(v int, visited []bool) bool {
		for s, st := range seats {
			if visited[s] || !slices.Contains(votes[v].Groups, st.group) {
				continue
			}
			visited[s] = true
			if holder[s] < 0 || try(holder[s], visited) {
				holder[s] = v
				return true
			}
		}
		return false
	}
	for v := range votes {
		try(v, make([]bool, len(seats)))
	}
	empty := map[string]int{}
	var order []string
	for s, st := range seats {
		if holder[s] < 0 {
			if empty[st.group] == 0 {
				order = append(order, st.group)
			}
			empty[st.group]++
		}
	}
	out := make([]string, 0, len(order))
	for _, g := range order {
		out = append(out, fmt.Sprintf("%d more from %s", empty[g], g))
	}
	return out
}
