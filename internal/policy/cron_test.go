package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, expr string) Schedule {
	t.Helper()
	s, err := ParseCron(expr)
	if err != nil {
		t.Fatalf("ParseCron(%q): %v", expr, err)
	}
	return s
}

func TestParseCron(t *testing.T) {
	tests := []struct {
		expr             string
		minute           uint64
		hour, dom        uint32
		month            uint16
		dow              uint8
		domStar, dowStar bool
	}{
		{"* * * * *", 1<<60 - 1, 1<<24 - 1, 1<<32 - 2, 1<<13 - 2, 1<<7 - 1, true, true},
		{"0 18 * * FRI", 1, 1 << 18, 1<<32 - 2, 1<<13 - 2, 1 << 5, true, false},
		{"0,30 9-17 * * mon-fri", 1 | 1<<30, 0x3fe00, 1<<32 - 2, 1<<13 - 2, 0x3e, true, false},
		{"*/15 */6 1,15 JAN,jul *", 1 | 1<<15 | 1<<30 | 1<<45, 1 | 1<<6 | 1<<12 | 1<<18, 1<<1 | 1<<15, 1<<1 | 1<<7, 1<<7 - 1, false, true},
		{"5-20/5 0 * * 7", 1<<5 | 1<<10 | 1<<15 | 1<<20, 1, 1<<32 - 2, 1<<13 - 2, 1, true, false},
		{"50/5 0 * * 0,7", 1<<50 | 1<<55, 1, 1<<32 - 2, 1<<13 - 2, 1, true, false},
		{"0 0 * * 5-7", 1, 1, 1<<32 - 2, 1<<13 - 2, 1 | 1<<5 | 1<<6, true, false},
		{"  0\t0  31 DEC   *  ", 1, 1, 1 << 31, 1 << 12, 1<<7 - 1, false, true},
		{"@daily", 1, 1, 1<<32 - 2, 1<<13 - 2, 1<<7 - 1, true, true},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.expr)
		if s.minute != tt.minute || s.hour != tt.hour || s.dom != tt.dom || s.month != tt.month ||
			s.dow != tt.dow || s.domStar != tt.domStar || s.dowStar != tt.dowStar {
			t.Errorf("ParseCron(%q) = %+v", tt.expr, s)
		}
		if s.String() != tt.expr {
			t.Errorf("String() = %q, want %q", s.String(), tt.expr)
		}
	}
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct {
		expr, field string
		col         int
		msg         string
	}{
		{"0 18 * * FRX", "day-of-week", 10, `unknown name "FRX"`},
		{"60 * * * *", "minute", 1, `"60" is not within 0..59`},
		{"0 24 * * *", "hour", 3, `"24" is not within 0..23`},
		{"0 0 0 * *", "day-of-month", 5, `"0" is not within 1..31`},
		{"0 0 * 13 *", "month", 7, `"13" is not within 1..12`},
		{"0 0 * * 8", "day-of-week", 9, `"8" is not within 0..7`},
		{"0 0 * JAN-FOO *", "month", 11, `unknown name "FOO"`},
		{"0 0 * * 1,,2", "day-of-week", 11, "empty value"},
		{"*/0 * * * *", "minute", 3, `bad step "0"`},
		{"0 5-1 * * *", "hour", 3, "goes backwards"},
		{"0 0 * * *,x", "day-of-week", 11, `unknown name "x"`},
		{"a * * * *", "minute", 1, `"a" is not a number`},
		{"0 1-+2 * * *", "hour", 5, `"+2" is not a number`},
		{"0 */+2 * * *", "hour", 5, `bad step "+2"`},
	}
	for _, tt := range tests {
		_, err := ParseCron(tt.expr)
		var ce *CronError
		if !errors.As(err, &ce) {
			t.Errorf("ParseCron(%q) = %v, want a CronError", tt.expr, err)
			continue
		}
		if ce.Field != tt.field || ce.Column != tt.col || !strings.Contains(ce.Msg, tt.msg) {
			t.Errorf("ParseCron(%q) = field %q col %d %q; want field %q col %d containing %q",
				tt.expr, ce.Field, ce.Column, ce.Msg, tt.field, tt.col, tt.msg)
		}
		if !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), "col ") {
			t.Errorf("error %q does not name field and column", err)
		}
	}
	for _, expr := range []string{"", "* * * *", "* * * * * *", "@never"} {
		if _, err := ParseCron(expr); err == nil || !strings.Contains(err.Error(), "want 5 fields") {
			t.Errorf("ParseCron(%q) = %v, want a field count error", expr, err)
		}
	}
}

func TestMatchesDayRule(t *testing.T) {
	// Both day fields restricted: either matches (Vixie cron).
	either := mustParse(t, "0 0 13 * FRI")
	// One starred: both must match.
	both := mustParse(t, "0 0 */2 * FRI")
	for _, tt := range []struct {
		date         string
		either, both bool
	}{
		{"2026-11-13T00:00:00Z", true, true},   // Friday the 13th
		{"2026-11-20T00:00:00Z", true, false},  // a Friday, even day
		{"2026-11-27T00:00:00Z", true, true},   // a Friday, odd day
		{"2026-03-13T00:00:00Z", true, true},   // Friday
		{"2026-01-13T00:00:00Z", true, false},  // Tuesday the 13th
		{"2026-11-21T00:00:00Z", false, false}, // Saturday
		{"2026-11-13T00:01:00Z", false, false}, // wrong minute
	} {
		at, _ := time.Parse(time.RFC3339, tt.date)
		if got := either.Matches(at); got != tt.either {
			t.Errorf("%q.Matches(%s) = %v", either, tt.date, got)
		}
		if got := both.Matches(at); got != tt.both {
			t.Errorf("%q.Matches(%s) = %v", both, tt.date, got)
		}
	}
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 18 * * FRI", "*/15 9-17 * * MON-FRI", "0 0 1 1 *", "@hourly", "0 0 29 2 *", "5-55/10 * * * 0,7"} {
		f.Add(s)
	}
	at := time.Date(2026, 11, 27, 20, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseCron(expr)
		if err != nil {
			var ce *CronError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a CronError: %v", err)
			}
			if ce.Field != "" && (ce.Column < 1 || ce.Column > len(expr)+1) {
				t.Fatalf("column %d outside %q", ce.Column, expr)
			}
			return
		}
		// A found match is a match, at or before at, within the bound.
		if m, ok := s.Prev(at, at.Add(-400*24*time.Hour), time.UTC); ok {
			if !s.Matches(m) || m.After(at) || m.Second() != 0 {
				t.Fatalf("%q: Prev = %s does not match", expr, m)
			}
		}
	})
}
