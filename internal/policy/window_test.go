package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // as the binary does: the zone resolves on any machine

	"pgregory.net/rapid"
)

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestActiveWindowWeekendFreeze(t *testing.T) {
	loc := berlin(t)
	ws := []Window{
		{Name: "nightly", Start: "0 2 * * *", Duration: 30 * time.Minute},
		{Name: "weekend", Start: "0 18 * * FRI", Duration: 62 * time.Hour},
	}
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 27, 17, 59, 59, 0, loc), ""},           // Friday just before
		{time.Date(2026, 11, 27, 18, 0, 0, 0, loc), "weekend"},      // opens
		{time.Date(2026, 11, 28, 12, 0, 0, 0, loc), "weekend"},      // Saturday
		{time.Date(2026, 11, 29, 2, 10, 0, 0, loc), "nightly"},      // first window listed wins
		{time.Date(2026, 11, 30, 7, 59, 59, 0, loc), "weekend"},     // Monday 07:59:59 (62h after Fri 18:00 is Mon 08:00)
		{time.Date(2026, 11, 30, 8, 0, 0, 0, loc), ""},              // closed
		{time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC), "weekend"}, // 18:00 in Berlin
		{time.Date(2026, 12, 1, 2, 29, 0, 0, loc), "nightly"},
		{time.Date(2026, 12, 1, 2, 30, 0, 0, loc), ""},
	}
	for _, tt := range tests {
		name, ok, err := ActiveWindow(ws, tt.at, loc)
		if err != nil {
			t.Fatal(err)
		}
		if name != tt.want || ok != (tt.want != "") {
			t.Errorf("ActiveWindow(%s) = %q, %v; want %q", tt.at, name, ok, tt.want)
		}
	}
}

func TestActiveWindowAcrossDST(t *testing.T) {
	loc := berlin(t)
	// Europe/Berlin leaves summer time on 2026-10-25 at 03:00 -> 02:00: the
	// window from Saturday 22:00 lasts 12 real hours, to 09:00 wall clock.
	ws := []Window{{Name: "w", Start: "0 22 * * SAT", Duration: 12 * time.Hour}}
	in := time.Date(2026, 10, 25, 8, 59, 0, 0, loc)
	out := time.Date(2026, 10, 25, 9, 0, 0, 0, loc)
	if _, ok, _ := ActiveWindow(ws, in, loc); !ok {
		t.Errorf("%s should be inside", in)
	}
	if _, ok, _ := ActiveWindow(ws, out, loc); ok {
		t.Errorf("%s should be outside", out)
	}
}

func TestActiveWindowErrors(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	_, _, err := ActiveWindow([]Window{{Name: "bad", Start: "0 18 * * FRX", Duration: time.Hour}}, at, nil)
	if err == nil || !strings.Contains(err.Error(), "bad") || !strings.Contains(err.Error(), "day-of-week") {
		t.Errorf("bad cron: %v", err)
	}
	_, _, err = ActiveWindow([]Window{{Name: "zero", Start: "* * * * *"}}, at, nil)
	if err == nil || !strings.Contains(err.Error(), "zero") {
		t.Errorf("zero duration: %v", err)
	}
	if name, ok, err := ActiveWindow(nil, at, nil); name != "" || ok || err != nil {
		t.Errorf("no windows: %q %v %v", name, ok, err)
	}
}

// bruteActive scans minute by minute: the reference Active must agree with.
func bruteActive(s Schedule, at time.Time, d time.Duration, loc *time.Location) (time.Time, bool) {
	for t := at.Truncate(time.Minute); at.Sub(t) < d; t = t.Add(-time.Minute) {
		if s.Matches(t.In(loc)) {
			return t, true
		}
	}
	return time.Time{}, false
}

func cronField(t *rapid.T, name string, lo, hi int) string {
	switch rapid.IntRange(0, 4).Draw(t, name+"-kind") {
	case 0:
		return "*"
	case 1:
		return fmt.Sprint(rapid.IntRange(lo, hi).Draw(t, name))
	case 2:
		a := rapid.IntRange(lo, hi).Draw(t, name+"-a")
		b := rapid.IntRange(a, hi).Draw(t, name+"-b")
		return fmt.Sprintf("%d-%d", a, b)
	case 3:
		return fmt.Sprintf("*/%d", rapid.IntRange(1, hi).Draw(t, name+"-step"))
	default:
		a := rapid.IntRange(lo, hi).Draw(t, name+"-x")
		b := rapid.IntRange(lo, hi).Draw(t, name+"-y")
		return fmt.Sprintf("%d,%d", a, b)
	}
}

func TestActiveMatchesBruteForce(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800)}
	rapid.Check(t, func(t *rapid.T) {
		expr := strings.Join([]string{
			cronField(t, "minute", 0, 59), cronField(t, "hour", 0, 23), cronField(t, "dom", 1, 31),
			cronField(t, "month", 1, 12), cronField(t, "dow", 0, 7),
		}, " ")
		s, err := ParseCron(expr)
		if err != nil {
			t.Fatalf("ParseCron(%q): %v", expr, err)
		}
		loc := zones[rapid.IntRange(0, len(zones)-1).Draw(t, "zone")]
		at := time.Unix(rapid.Int64Range(1.7e9, 1.9e9).Draw(t, "at"), 0)
		d := time.Duration(rapid.IntRange(1, 4*24*60).Draw(t, "minutes")) * time.Minute
		got, gotOK := s.Active(at, d, loc)
		want, wantOK := bruteActive(s, at, d, loc)
		if gotOK != wantOK || !got.Equal(want) {
			t.Fatalf("%q at %s for %s: Active = %s %v, brute force = %s %v", expr, at.In(loc), d, got, gotOK, want, wantOK)
		}
	})
}

func BenchmarkActiveWindow62h(b *testing.B) {
	ws := []Window{{Name: "weekend", Start: "0 18 * * FRI", Duration: 62 * time.Hour}}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Skip(err)
	}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, loc) // Thursday: a full search, no match
	for b.Loop() {
		if _, ok, err := ActiveWindow(ws, at, loc); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkActiveWindowYearly(b *testing.B) {
	// A rare start (29 February) with a year-long duration: the worst case
	// walks back about 366 days.
	ws := []Window{{Name: "leap", Start: "0 0 29 2 *", Duration: 366 * 24 * time.Hour}}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, _, err := ActiveWindow(ws, at, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}
