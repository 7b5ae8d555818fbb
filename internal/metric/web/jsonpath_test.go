package web

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	doc := map[string]any{}
	if err := json.Unmarshal([]byte(`{"a":{"b":1.5,"list":[{"v":2},{"v":3}],"x y":4,"it's":5},"top":[10,20,30]}`), &doc); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]float64{
		"$.a.b": 1.5, "$.a.list[0].v": 2, "$.a.list[-1].v": 3, "$['a']['b']": 1.5, `$["a"]["x y"]`: 4,
		`$.a['it\'s']`: 5, "$.top[2]": 30, "$['top'][1]": 20,
	} {
		p, err := ParsePath(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		got, err := p.Select(doc)
		if err != nil || got.(float64) != want {
			t.Errorf("%s = %v, %v; want %v", path, got, err, want)
		}
	}
	for path, want := range map[string]string{
		"a.b":         "must start with $",
		"$..b":        "recursive descent",
		"$.a.*":       "wildcard",
		"$.a[*]":      "select several values",
		"$.a[0:2]":    "select several values",
		"$.a[?(@.v)]": "select several values",
		"$.a[":        "unclosed",
		"$['a":        "unclosed quoted name",
		"$['a'x]":     "want ]",
		"$.":          "empty member name",
		"$a":          "unexpected",
	} {
		if _, err := ParsePath(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", path, err, want)
		}
	}
	for path, want := range map[string]string{
		"$.a.c":    "$['a']['c']: no such member",
		"$.a.b.c":  "$['a']['b']['c']: not an object",
		"$.top[3]": "$['top'][3]: index out of range (length 3)",
		"$.a[0]":   "$['a'][0]: not an array",
	} {
		p, err := ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Select(doc); err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", path, err, want)
		}
	}
}

// FuzzPath: a path that parses is written back (String) to a path that parses to the same steps,
// and selecting with it never panics.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"$.a.b", "$.a[0].b", "$['a']", `$["a b"]`, `$['it\'s']`, "$[-1]", "$..a", "$.a[*]", "$[", "$['"} {
		f.Add(s)
	}
	var doc any
	_ = json.Unmarshal([]byte(`{"a":{"b":[1,{"c":2}]},"it's":[3]}`), &doc)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		back, err := ParsePath(p.String())
		if err != nil || back.String() != p.String() || len(back) != len(p) {
			t.Fatalf("%q → %q → %v, %v", s, p.String(), back, err)
		}
		for i := range p {
			if p[i] != back[i] {
				t.Fatalf("%q: step %d %+v became %+v", s, i, p[i], back[i])
			}
		}
		_, _ = p.Select(doc)
	})
}
