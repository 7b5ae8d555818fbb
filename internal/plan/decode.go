package plan

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The decoder walks yaml.v3 nodes into Go values by their json tags, so the YAML files, the JSON
// API, the JSON Schema and the CRDs all name fields alike. It keeps the line of every field path it
// decodes (sigs.k8s.io/yaml would drop them), refuses unknown fields with a did-you-mean, and goes
// on after an error so one run reports everything wrong with a file.

// nodeUnmarshaler is implemented by types with more than one YAML shape (a pause that is a number,
// a string or a mapping).
type nodeUnmarshaler interface {
	unmarshalNode(n *yaml.Node) error
}

// nodeMarshaler is its counterpart for writing.
type nodeMarshaler interface {
	marshalNode() (*yaml.Node, error)
}

var (
	nodeUnmarshalerType = reflect.TypeFor[nodeUnmarshaler]()
	nodeMarshalerType   = reflect.TypeFor[nodeMarshaler]()
)

// Positions maps a field path (`spec.strategy.canary.steps[2].setWeight`) to its line in the file.
type Positions map[string]int

// Line returns the line of path, or of its nearest ancestor present in the file (a missing field is
// reported where its parent is).
func (p Positions) Line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return p[""]
}

func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

type decoder struct {
	file string
	pos  Positions
	errs Errors
	// nodes counts nodes decoded, aliases included, so an alias bomb (a few lines that expand to
	// billions of nodes) is refused instead of eating the machine.
	nodes int
	// expanding holds the aliases being decoded, to refuse an alias that contains itself.
	expanding map[*yaml.Node]bool
}

// maxNodes bounds the decoded size of one document; real plans have a few hundred nodes.
const maxNodes = 100_000

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func joinPath(base, field string) string {
	if base == "" {
		return field
	}
	return base + "." + field
}

// decode fills v (a settable value) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil || d.expanding[target] {
			d.fail(n, path, "alias *%s refers to itself", n.Value)
			return
		}
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		line := n.Line
		d.decode(target, v, path)
		d.pos[path] = line
		return
	}
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, "document too large (more than %d values once aliases are expanded)", maxNodes)
		}
		return
	}
	d.pos[path] = n.Line
	if v.CanAddr() && v.Addr().Type().Implements(nodeUnmarshalerType) {
		if isNull(n) {
			return
		}
		if err := v.Addr().Interface().(nodeUnmarshaler).unmarshalNode(n); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping, got %s", describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := joinPath(path, k.Value)
			d.pos[kp] = k.Line
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.fail(k, kp, "duplicate key %q", k.Value)
				continue
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, kp)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		fp := joinPath(path, name)
		f, ok := fields.byName[name]
		if !ok {
			msg := fmt.Sprintf("unknown field %q", name)
			if s := didYouMean(name, fields.names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(k, fp, "%s", msg)
			continue
		}
		if seen[name] {
			d.fail(k, fp, "duplicate field %q", name)
			continue
		}
		seen[name] = true
		d.pos[fp] = k.Line
		d.decode(val, v.FieldByIndex(f.index), fp)
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, got %s", kindName(v.Kind()), describe(n))
		return
	}
	if isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := parseBool(n)
		if !ok {
			d.fail(n, path, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || n.Tag != "!!int" {
			d.fail(n, path, "want a whole number, got %q", n.Value)
			return
		}
		if v.OverflowInt(i) {
			d.fail(n, path, "%s is too large", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.fail(n, path, "want a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func parseBool(n *yaml.Node) (bool, bool) {
	if n.Tag != "!!bool" {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return k.String()
}

// fieldInfo describes one struct field as files name it.
type fieldInfo struct {
	name      string
	index     []int
	omitEmpty bool
}

type fieldSet struct {
	list   []fieldInfo
	byName map[string]fieldInfo
	names  []string
}

// structFields lists the fields of t by json tag, in declaration order. Fields tagged "-" and
// unexported ones are not part of any file.
func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{byName: map[string]fieldInfo{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fi := fieldInfo{name: name, index: f.Index, omitEmpty: strings.Contains(opts, "omitempty")}
		fs.list = append(fs.list, fi)
		fs.byName[name] = fi
		fs.names = append(fs.names, name)
	}
	sort.Strings(fs.names)
	return fs
}
