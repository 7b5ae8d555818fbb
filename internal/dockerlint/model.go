// Package dockerlint checks Dockerfiles against hugai's rules (pinned bases, non-root users, no
// secrets, cache-friendly layers, small images) and reports findings with a line and a fix. It is
// pure: bytes in, findings out; the CLI reads files and writes reports.
package dockerlint

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// File is a parsed Dockerfile: its stages in order and the source lines, kept for the inline
// ignore comments the parser drops.
type File struct {
	Name   string
	Stages []*Stage
	// MetaArgs are the ARGs before the first FROM.
	MetaArgs []*Instr
	lines    []string
	// invalid holds instructions the typed parser refused; they are reported as HG000.
	invalid []invalidInstr
}

type invalidInstr struct {
	line int
	err  error
}

// Stage is one FROM and the instructions under it.
type Stage struct {
	Index    int
	Name     string // the AS name, lowercased by buildkit; "" when unnamed
	Base     string // the image or stage it starts from
	Platform string // the --platform value, "" when none
	Line     int
	Instrs   []*Instr
}

// Instr is one instruction: its keyword (lowercase), lines, raw node and typed command.
type Instr struct {
	Cmd       string
	Line, End int
	Node      *parser.Node
	Typed     any
}

// maxSize bounds a Dockerfile: real ones are a few kilobytes, and the parser holds it all.
const maxSize = 4 << 20

// Parse reads a Dockerfile with buildkit's parser. A file the parser cannot read at all is an
// error; an instruction it reads but cannot type (a bad flag, an unknown keyword) is kept as a
// finding so the rest of the file is still checked.
func Parse(name string, src []byte) (*File, error) {
	if len(src) > maxSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a Dockerfile may have", name, len(src), maxSize)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		var le *parser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			return nil, fmt.Errorf("%s:%d: %w", name, le.Locations[0][0].Start.Line, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &File{Name: name, lines: strings.Split(string(src), "\n")}
	var cur *Stage
	for _, n := range res.AST.Children {
		in := &Instr{Cmd: strings.ToLower(n.Value), Line: n.StartLine, End: n.EndLine, Node: n}
		typed, err := instructions.ParseInstruction(n)
		if err != nil {
			f.invalid = append(f.invalid, invalidInstr{line: n.StartLine, err: err})
			continue
		}
		in.Typed = typed
		if st, ok := typed.(*instructions.Stage); ok {
			cur = &Stage{Index: len(f.Stages), Name: st.Name, Base: st.BaseName, Platform: st.Platform, Line: n.StartLine}
			f.Stages = append(f.Stages, cur)
			continue
		}
		if cur == nil {
			f.MetaArgs = append(f.MetaArgs, in)
			continue
		}
		cur.Instrs = append(cur.Instrs, in)
	}
	return f, nil
}

// Final is the stage the image is built from by default: the last one.
func (f *File) Final() *Stage {
	if len(f.Stages) == 0 {
		return nil
	}
	return f.Stages[len(f.Stages)-1]
}

var ignoreRe = regexp.MustCompile(`^\s*#\s*hugai-ignore\s*=\s*([A-Za-z0-9_,\s]+?)\s*$`)

// ignoredAt returns the rule IDs a `# hugai-ignore=ID[,ID]` comment on the line before line
// (1-based) names.
func (f *File) ignoredAt(line int) []string {
	if line < 2 || line-2 >= len(f.lines) {
		return nil
	}
	m := ignoreRe.FindStringSubmatch(f.lines[line-2])
	if m == nil {
		return nil
	}
	var ids []string
	for id := range strings.SplitSeq(m[1], ",") {
		if id = strings.ToUpper(strings.TrimSpace(id)); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// stageByName finds a stage by its AS name, before index.
func (f *File) stageByName(name string, before int) *Stage {
	for _, s := range f.Stages[:before] {
		if s.Name != "" && strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// runText is the shell text of a RUN (or "" for exec form): what the rules on commands read.
func runText(in *Instr) (string, bool) {
	r, ok := in.Typed.(*instructions.RunCommand)
	if !ok {
		return "", false
	}
	var b strings.Builder
	b.WriteString(strings.Join(r.CmdLine, " "))
	for _, h := range r.Files {
		b.WriteString("\n")
		b.WriteString(h.Data)
	}
	return b.String(), r.PrependShell || len(r.Files) > 0
}
