package criteria

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// SyntaxError is a criteria text that does not parse; Col is the 1-based column (in characters)
// it points at, so callers can prefix file:line.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return "col " + strconv.Itoa(e.Col) + ": " + e.Msg }

// Parse reads conditions such as "error_rate<1%, latency_p95 < 2s" (',' is AND). Metrics are
// the builtins plus any allowed by WithMetrics; values come back in canonical units (see
// Kind). Every error is a *SyntaxError.
func Parse(s string, opts ...Option) ([]Condition, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	p := parser{s: s, cfg: &cfg}
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(p.i, "empty criteria: expected a condition such as error_rate<1%")
	}
	var conds []Condition
	for {
		c, err := p.condition()
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		p.skipSpace()
		if p.eof() {
			return conds, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.unexpected()
		}
		p.i++
		p.skipSpace()
		if p.eof() {
			return nil, p.errAt(p.i, "expected a condition after ','")
		}
	}
}

type parser struct {
	s   string
	i   int // byte offset of the next unread character
	cfg *config
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) errAt(i int, msg string) error {
	return &SyntaxError{Col: utf8.RuneCountInString(p.s[:i]) + 1, Msg: msg}
}

// found names the character at the cursor for messages: 'x', or "end of input".
func (p *parser) found() string {
	if p.eof() {
		return "end of input"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return strconv.QuoteRune(r)
}

func (p *parser) unexpected() error {
	msg := "unexpected " + p.found()
	if isIdentStart(p.s[p.i]) {
		msg += " (separate conditions with ',')"
	}
	return p.errAt(p.i, msg)
}

func (p *parser) skipSpace() {
	for !p.eof() {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '.' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func (p *parser) condition() (Condition, error) {
	start := p.i
	if !isIdentStart(p.s[p.i]) {
		return Condition{}, p.errAt(p.i, "expected a metric name, found "+p.found())
	}
	for !p.eof() && isIdent(p.s[p.i]) {
		p.i++
	}
	name := p.s[start:p.i]
	metric, kind, ok := p.cfg.resolve(name)
	if !ok {
		return Condition{}, p.errAt(start, p.cfg.unknownMetric(name))
	}
	p.skipSpace()
	op, err := p.op(name)
	if err != nil {
		return Condition{}, err
	}
	p.skipSpace()
	v, err := p.value(name, kind, " after '"+string(op)+"'")
	if err != nil {
		return Condition{}, err
	}
	return Condition{Metric: metric, Op: op, Value: v, Kind: kind}, nil
}

const opList = "(<, <=, >, >=, ==, !=)"

func (p *parser) op(metric string) (Op, error) {
	if p.eof() {
		return "", p.errAt(p.i, "expected an operator "+opList+" after "+metric)
	}
	next := byte(0)
	if p.i+1 < len(p.s) {
		next = p.s[p.i+1]
	}
	var op Op
	switch c := p.s[p.i]; {
	case c == '<' && next == '=':
		op = LessEqual
	case c == '<':
		op = Less
	case c == '>' && next == '=':
		op = GreaterEqual
	case c == '>':
		op = Greater
	case c == '=' && next == '=':
		op = Equal
	case c == '!' && next == '=':
		op = NotEqual
	case c == '=':
		return "", p.errAt(p.i, "unexpected '=' (did you mean ==?)")
	case c == '!':
		return "", p.errAt(p.i, "unexpected '!' (did you mean !=?)")
	default:
		return "", p.errAt(p.i, "expected an operator "+opList+" after "+metric+", found "+p.found())
	}
	p.i += len(op)
	return op, nil
}

// value reads a number and its unit (written without a space between them) and converts it to
// the canonical unit of kind; after says where the value stands, for messages (" after '<'").
func (p *parser) value(metric string, kind Kind, after string) (float64, error) {
	at := p.i
	if p.eof() {
		return 0, p.errAt(at, "expected a value"+after)
	}
	f, text, err := p.number(after)
	if err != nil {
		return 0, err
	}
	unitAt := p.i
	unit := ""
	if !p.eof() && p.s[p.i] == '%' {
		p.i++
		unit = "%"
	} else {
		for !p.eof() && isLetter(p.s[p.i]) {
			p.i++
		}
		unit = p.s[unitAt:p.i]
	}
	if unit != "" && !isUnit(unit) {
		return 0, p.errAt(unitAt, "unknown unit "+strconv.Quote(unit)+" (known: %, ms, s, m, rps, B, KB, MB, GB, KiB, MiB, GiB)")
	}
	if kind == Bytes && unit == "%" {
		// The seed writes memory_usage<80%; the local target runs no process under a memory
		// limit, so there is nothing to take a share of.
		return 0, p.errAt(unitAt, metric+" is measured in bytes (the processes of a version run under no memory limit to take a share of): write a size such as "+metric+"<512MiB")
	}
	if !unitFits(kind, unit) {
		pos := unitAt
		if unit == "" {
			pos = at
		}
		return 0, p.errAt(pos, metric+" expects "+expects(kind)+", not "+unitName(unit))
	}
	if kind == Duration {
		f = toSeconds(f, unit)
	}
	if kind == Bytes && unit != "" {
		f *= byteUnits[unit]
	}
	switch {
	case math.IsInf(f, 0):
		return 0, p.errAt(at, "value "+clip(text)+unit+" is out of range")
	case f < 0 && kind != Number:
		return 0, p.errAt(at, metric+" cannot be negative")
	case kind == Rate && f > 100:
		return 0, p.errAt(at, clip(text)+unit+" is not within 0..100%")
	case f == 0:
		f = 0 // -0 reads as 0, so the canonical text never says "-0"
	}
	return f, nil
}

// number reads [-]digits[.digits] (or [-].digits).
func (p *parser) number(after string) (float64, string, error) {
	at := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := 0
	for !p.eof() && isDigit(p.s[p.i]) {
		p.i++
		digits++
	}
	if !p.eof() && p.s[p.i] == '.' {
		p.i++
		frac := 0
		for !p.eof() && isDigit(p.s[p.i]) {
			p.i++
			frac++
		}
		if frac == 0 {
			return 0, "", p.errAt(p.i, "expected a digit after '.', found "+p.found())
		}
		digits += frac
	}
	if digits == 0 {
		p.i = at
		return 0, "", p.errAt(at, "expected a number"+after+", found "+p.found())
	}
	text := p.s[at:p.i]
	f, err := strconv.ParseFloat(text, 64)
	if errors.Is(err, strconv.ErrRange) {
		if math.IsInf(f, 0) {
			return 0, "", p.errAt(at, "value "+clip(text)+" is out of range")
		}
		err = nil // underflow to zero or a denormal: the nearest float is the honest reading
	}
	if err != nil {
		return 0, "", p.errAt(at, "invalid number "+clip(text))
	}
	return f, text, nil
}

// clip keeps messages short when the input holds a very long number.
func clip(s string) string {
	if len(s) > 24 {
		return s[:20] + "..."
	}
	return s
}
