package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Path is a parsed JSONPath of the common subset that picks one value: $ followed by member
// names ($.a.b, $['a'], $["a b"]) and array indexes ($.a[0], negative from the end: $.a[-1]).
// Wildcards, slices, filters and recursive descent select several values and are refused: a
// metric is one number.
type Path []step

// step is a member name or, when isIndex, an array index.
type step struct {
	name    string
	index   int
	isIndex bool
}

// ParsePath parses a JSONPath of the subset Path describes.
func ParsePath(s string) (Path, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("jsonPath %q: must start with $", s)
	}
	var p Path
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '.' {
				return nil, fmt.Errorf("jsonPath %q: recursive descent (..) selects several values; name the path", s)
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			name := s[i:j]
			switch {
			case name == "":
				return nil, fmt.Errorf("jsonPath %q: empty member name at offset %d", s, i)
			case name == "*":
				return nil, fmt.Errorf("jsonPath %q: a wildcard selects several values", s)
			}
			p = append(p, step{name: name})
			i = j
		case '[':
			st, n, err := bracket(s[i:])
			if err != nil {
				return nil, fmt.Errorf("jsonPath %q at offset %d: %w", s, i, err)
			}
			p = append(p, st)
			i += n
		default:
			return nil, fmt.Errorf("jsonPath %q: unexpected %q at offset %d", s, s[i], i)
		}
	}
	return p, nil
}

// bracket parses one [...] at the start of s and returns its step and length.
func bracket(s string) (step, int, error) {
	if len(s) < 2 {
		return step{}, 0, errors.New("unclosed [")
	}
	if q := s[1]; q == '\'' || q == '"' {
		var b strings.Builder
		for i := 2; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && i+1 < len(s):
				i++
				b.WriteByte(s[i])
			case c == q:
				if i+1 >= len(s) || s[i+1] != ']' {
					return step{}, 0, errors.New("want ] after the quoted name")
				}
				return step{name: b.String()}, i + 2, nil
			default:
				b.WriteByte(c)
			}
		}
		return step{}, 0, errors.New("unclosed quoted name")
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, 0, errors.New("unclosed [")
	}
	inner := s[1:end]
	n, err := strconv.Atoi(inner)
	if err != nil || strings.HasPrefix(inner, "+") {
		return step{}, 0, fmt.Errorf("[%s]: want an index such as [0] or a quoted name such as ['a'] (wildcards, slices and filters select several values)", inner)
	}
	return step{index: n, isIndex: true}, end + 1, nil
}

// String writes p back in bracket notation.
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range p {
		if st.isIndex {
			fmt.Fprintf(&b, "[%d]", st.index)
		} else {
			b.WriteString("['" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(st.name) + "']")
		}
	}
	return b.String()
}

// Select walks doc (as encoding/json decodes into any) along p.
func (p Path) Select(doc any) (any, error) {
	cur := doc
	for i, st := range p {
		at := Path(p[:i+1]).String()
		if st.isIndex {
			arr, ok := cur.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an array", at)
			}
			idx := st.index
			if idx < 0 {
				idx += len(arr)
			}
			if idx < 0 || idx >= len(arr) {
				return nil, fmt.Errorf("%s: index out of range (length %d)", at, len(arr))
			}
			cur = arr[idx]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an object", at)
		}
		v, ok := obj[st.name]
		if !ok {
			return nil, fmt.Errorf("%s: no such member", at)
		}
		cur = v
	}
	return cur, nil
}
