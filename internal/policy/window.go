package policy

import (
	"fmt"
	"math/bits"
	"time"
)

// Window is a span of time that opens at each match of a cron expression and
// lasts Duration: a freeze window, for instance "0 18 * * FRI" for 62h.
type Window struct {
	Name     string
	Start    string // 5-field cron expression, in the location the window is judged in
	Duration time.Duration
}

// Matches reports whether the minute of t (in t's location) is a match.
func (s Schedule) Matches(t time.Time) bool {
	return s.dayMatches(t.Year(), t.Month(), t.Day()) &&
		s.hour&(1<<uint(t.Hour())) != 0 && s.minute&(1<<uint(t.Minute())) != 0
}

func (s Schedule) dayMatches(y int, m time.Month, d int) bool {
	if s.month&(1<<uint(m)) == 0 {
		return false
	}
	domOK := s.dom&(1<<uint(d)) != 0
	dowOK := s.dow&(1<<uint(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday())) != 0
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// Prev returns the latest match at or before at (to the minute, in loc), if
// one exists no earlier than notBefore. It walks back a day at a time and
// finds the hour and minute within a day with bit operations, so a search
// over days costs days, not minutes.
func (s Schedule) Prev(at, notBefore time.Time, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	local := at.In(loc)
	y, m, d := local.Date()
	// Wall-clock days may be 23 or 25 hours long (DST): allow one extra day.
	days := int(at.Sub(notBefore)/(24*time.Hour)) + 2
	for back := 0; back <= days; back++ {
		day := time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC) // calendar arithmetic only
		dy, dm, dd := day.Date()
		if !s.dayMatches(dy, dm, dd) {
			continue
		}
		maxHour, maxMin := 23, 59
		if back == 0 {
			maxHour, maxMin = local.Hour(), local.Minute()
		}
		for h := highestAtMost(uint64(s.hour), maxHour); h >= 0; h = highestAtMost(uint64(s.hour), h-1) {
			lim := 59
			if back == 0 && h == maxHour {
				lim = maxMin
			}
			for mi := highestAtMost(s.minute, lim); mi >= 0; mi = highestAtMost(s.minute, mi-1) {
				t := time.Date(dy, dm, dd, h, mi, 0, 0, loc)
				// In a DST gap or fold time.Date may normalise to another
				// instant; keep only candidates that really are at or before at.
				if t.After(at) {
					continue
				}
				if t.Before(notBefore) {
					return time.Time{}, false
				}
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// highestAtMost returns the highest set bit of set that is <= limit, or -1.
func highestAtMost(set uint64, limit int) int {
	if limit < 0 {
		return -1
	}
	if limit < 63 {
		set &= 1<<uint(limit+1) - 1
	}
	return bits.Len64(set) - 1
}

// Active reports whether at falls inside a window that opened at a match of
// start no more than d ago: match <= at < match+d.
func (s Schedule) Active(at time.Time, d time.Duration, loc *time.Location) (opened time.Time, ok bool) {
	if d <= 0 {
		return time.Time{}, false
	}
	// A match at exactly at-d has already closed: search strictly after it.
	t, ok := s.Prev(at, at.Add(-d).Add(time.Nanosecond), loc)
	if !ok || !at.Before(t.Add(d)) {
		return time.Time{}, false
	}
	return t, true
}

// ActiveWindow returns the name of the first window, in order, that at falls
// inside, judged in loc (nil: UTC). A window with a bad expression or a
// duration that is not positive is an error naming the window.
func ActiveWindow(ws []Window, at time.Time, loc *time.Location) (name string, ok bool, err error) {
	for i, w := range ws {
		s, err := ParseCron(w.Start)
		if err != nil {
			return "", false, fmt.Errorf("window %d (%s): %w", i, w.Name, err)
		}
		if w.Duration <= 0 {
			return "", false, fmt.Errorf("window %d (%s): duration %s is not positive", i, w.Name, w.Duration)
		}
		if _, ok := s.Active(at, w.Duration, loc); ok {
			return w.Name, true, nil
		}
	}
	return "", false, nil
}
