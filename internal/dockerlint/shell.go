package dockerlint

import (
	"strings"
)

// A light reading of shell text, enough for the rules: commands split on ; && || | and newlines,
// words split on blanks with quotes removed. It is not a shell parser (no expansions, no
// subshells); rules that need more say so in their description.

// command is one simple command and the operator that ends it ("|" for a pipe).
type command struct {
	words []string
	op    string
}

// commands splits shell text into simple commands.
func commands(s string) []command {
	var out []command
	var cur strings.Builder
	flush := func(op string) {
		words := words(cur.String())
		cur.Reset()
		// Drop leading env assignments (DEBIAN_FRONTEND=noninteractive apt-get …) and sudo's
		// own word: the rules look at the program run.
		for len(words) > 0 && isAssignment(words[0]) {
			words = words[1:]
		}
		if len(words) > 0 || op == "|" {
			out = append(out, command{words: words, op: op})
		}
	}
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			cur.WriteByte(c)
			continue
		}
		switch {
		case c == '\'' || c == '"':
			quote = c
			cur.WriteByte(c)
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
			cur.WriteByte(' ')
		case c == ';' || c == '\n':
			flush(";")
		case c == '&' && i+1 < len(s) && s[i+1] == '&':
			i++
			flush("&&")
		case c == '|' && i+1 < len(s) && s[i+1] == '|':
			i++
			flush("||")
		case c == '|':
			flush("|")
		case c == '(' || c == ')' || c == '{' || c == '}':
			cur.WriteByte(' ')
		default:
			cur.WriteByte(c)
		}
	}
	flush("")
	return out
}

func isAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	if i <= 0 {
		return false
	}
	for _, c := range w[:i] {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// words splits on blanks and strips quotes.
func words(s string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		w = strings.Trim(w, `"'`)
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// program returns the program a command runs, past sudo, env and variable prefixes, and its
// arguments.
func (c command) program() (string, []string) {
	w := c.words
	afterSudo := false
	for len(w) > 0 {
		switch {
		case w[0] == "sudo" || w[0] == "env" || w[0] == "exec" || w[0] == "command":
			afterSudo = w[0] == "sudo"
		case afterSudo && (w[0] == "-u" || w[0] == "-g") && len(w) > 1:
			w = w[1:] // the user or group the flag takes
		case isAssignment(w[0]), afterSudo && strings.HasPrefix(w[0], "-"):
		default:
			prog := w[0]
			if i := strings.LastIndexByte(prog, '/'); i >= 0 {
				prog = prog[i+1:]
			}
			return prog, w[1:]
		}
		w = w[1:]
	}
	return "", nil
}

// has reports whether args hold any of the words.
func has(args []string, want ...string) bool {
	for _, a := range args {
		for _, w := range want {
			if a == w {
				return true
			}
		}
	}
	return false
}

// hasPrefix reports whether an arg starts with any of the prefixes.
func hasPrefix(args []string, prefixes ...string) bool {
	for _, a := range args {
		for _, p := range prefixes {
			if strings.HasPrefix(a, p) {
				return true
			}
		}
	}
	return false
}

// subcommand returns the first argument that is not a flag.
func subcommand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// isShortFlag reports whether args hold -x alone or inside a cluster of short flags (-qy).
func isShortFlag(args []string, x byte) bool {
	for _, a := range args {
		if len(a) >= 2 && a[0] == '-' && a[1] != '-' && strings.IndexByte(a[1:], x) >= 0 {
			return true
		}
	}
	return false
}
