// Package policy decides what governance a rollout is held to. For now it
// holds the time windows: freeze windows are a cron expression for their
// start and a duration, judged at a time it is given (it reads no clock).
package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Schedule is a parsed 5-field cron expression: one bit per allowed value.
//
// It is hand-written rather than github.com/robfig/cron/v3, the Go library this field uses, because
// robfig/cron falls short in three ways that freeze windows need (checked against its v3.0.1
// source): its Schedule interface has only Next, and a freeze window's question is the previous
// start ("did a window open within the last 2h?", Prev in window.go); its day-of-week bounds are
// 0-6, so `0 0 * * 7` and `5-7`, which Vixie cron and crontab(5) accept as Sunday, are errors
// there (robfig/cron issue #122 declined them); and its errors are bare strings naming neither
// the field nor the column, while hugai reports file:line and the column in the expression
// (CronError).
type Schedule struct {
	minute uint64 // bits 0..59
	hour   uint32 // bits 0..23
	dom    uint32 // bits 1..31
	month  uint16 // bits 1..12
	dow    uint8  // bits 0..6, Sunday = 0
	// domStar and dowStar record a `*` in the field: as in Vixie cron, when
	// both day fields are restricted a day matches if EITHER matches.
	domStar, dowStar bool
	expr             string
}

// CronError says which field of an expression is wrong, and where.
type CronError struct {
	Expr   string
	Field  string // "minute", "hour", "day-of-month", "month", "day-of-week", or "" for the whole
	Column int    // 1-based column of the offending text in Expr
	Msg    string
}

func (e *CronError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cron %q: %s", e.Expr, e.Msg)
	}
	return fmt.Sprintf("cron %q: %s field (col %d): %s", e.Expr, e.Field, e.Column, e.Msg)
}

type fieldSpec struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i … or nil
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// fields is read-only: the layout of the five fields.
var fields = [5]fieldSpec{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: monthNames},
	{name: "day-of-week", min: 0, max: 7, names: dayNames}, // 7 is Sunday too
}

var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// ParseCron parses "minute hour day-of-month month day-of-week": each field is
// `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a comma list
// of those; months and days may be named (JAN-DEC, SUN-SAT, any case); 0 and 7
// are both Sunday. The @daily style macros are accepted too.
func ParseCron(expr string) (Schedule, error) {
	text := expr
	if m, ok := macros[strings.ToLower(strings.TrimSpace(expr))]; ok {
		text = m
	}
	type span struct {
		s   string
		col int
	}
	var parts []span
	for i := 0; i < len(text); {
		if text[i] == ' ' || text[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(text) && text[j] != ' ' && text[j] != '\t' {
			j++
		}
		parts = append(parts, span{text[i:j], i + 1})
		i = j
	}
	if len(parts) != 5 {
		return Schedule{}, &CronError{Expr: expr, Msg: fmt.Sprintf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(parts))}
	}
	s := Schedule{expr: expr}
	var sets [5]uint64
	for i, p := range parts {
		set, err := parseField(p.s, fields[i])
		if err != nil {
			err.Expr, err.Field = expr, fields[i].name
			if text != expr {
				err.Column = 1 // a macro: point at the macro itself
			} else {
				err.Column += p.col - 1
			}
			return Schedule{}, err
		}
		sets[i] = set
	}
	s.minute, s.hour, s.dom, s.month = sets[0], uint32(sets[1]), uint32(sets[2]), uint16(sets[3])
	dow := sets[4]
	if dow&(1<<7) != 0 {
		dow = dow&^(1<<7) | 1
	}
	s.dow = uint8(dow)
	// Vixie cron looks at the first character only: "*/2" counts as a star.
	s.domStar = strings.HasPrefix(parts[2].s, "*")
	s.dowStar = strings.HasPrefix(parts[4].s, "*")
	return s, nil
}

// parseField returns the bit set of one field; an error's Column is relative
// to the field (1-based) and its Expr and Field are filled by the caller.
func parseField(f string, spec fieldSpec) (uint64, *CronError) {
	var set uint64
	col := 1
	for _, item := range strings.Split(f, ",") {
		lo, hi, step := spec.min, spec.max, 1
		rng, stepText, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || !digits(stepText) || n <= 0 || n > spec.max {
				return 0, &CronError{Column: col + len(rng) + 1, Msg: fmt.Sprintf("bad step %q", stepText)}
			}
			step = n
		}
		switch {
		case rng == "*":
			if spec.name == "day-of-week" {
				hi = 6 // 7 would only repeat Sunday
			}
		case rng == "":
			return 0, &CronError{Column: col, Msg: "empty value"}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err *CronError
			if lo, err = value(a, spec, col); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = value(b, spec, col+len(a)+1); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, &CronError{Column: col, Msg: fmt.Sprintf("range %q goes backwards", rng)}
				}
			} else if hasStep {
				hi = spec.max // "a/n": from a to the end, as most crons read it
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
		col += len(item) + 1
	}
	return set, nil
}

func value(s string, spec fieldSpec, col int) (int, *CronError) {
	if s == "" {
		return 0, &CronError{Column: col, Msg: "empty value"}
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || !digits(s) || n < spec.min || n > spec.max {
			return 0, &CronError{Column: col, Msg: fmt.Sprintf("%q is not within %d..%d", s, spec.min, spec.max)}
		}
		return n, nil
	}
	for i, name := range spec.names {
		if strings.EqualFold(s, name) {
			return spec.min + i, nil
		}
	}
	if spec.names == nil {
		return 0, &CronError{Column: col, Msg: fmt.Sprintf("%q is not a number", s)}
	}
	return 0, &CronError{Column: col, Msg: fmt.Sprintf("unknown name %q (want %s-%s or a number)", s, spec.names[0], spec.names[len(spec.names)-1])}
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String returns the expression the Schedule was parsed from.
func (s Schedule) String() string { return s.expr }
