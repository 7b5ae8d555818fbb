package dockerlint

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func layerRules() []Rule {
	return []Rule{
		{
			ID: "HG024", Group: Layers, Severity: Warning, Title: "apt-get update alone in a RUN",
			Description: "A RUN runs `apt-get update` without installing in the same RUN: the cached update layer goes stale and a later install fetches outdated or missing packages.",
			Fix:         "Update and install in one RUN: `RUN apt-get update && apt-get install -y --no-install-recommends pkg && rm -rf /var/lib/apt/lists/*`.",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				if installs(cmds, "apt-get", "update") && !installs(cmds, "apt-get", "install") && !installs(cmds, "apt-get", "upgrade") && !installs(cmds, "apt-get", "dist-upgrade") {
					emit(in.Line, "apt-get update without an install in the same RUN")
				}
			}),
		},
		{
			ID: "HG025", Group: Layers, Severity: Info, Title: "Consecutive RUN instructions",
			Description: "Three or more RUN instructions in a row, with no other instruction between them, each make a layer; two are often kept apart on purpose for caching and do not fire. RUNs with their own mounts or heredocs are left alone.",
			Fix:         "Join them with `&&` (and `\\` line breaks) into one RUN, or use a heredoc `RUN <<EOF`.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					start, n := 0, 0
					flush := func() {
						if n >= 3 {
							emit(s.Instrs[start].Line, fmt.Sprintf("%d consecutive RUN instructions (lines %d–%d) make %d layers", n, s.Instrs[start].Line, s.Instrs[start+n-1].Line, n))
						}
						n = 0
					}
					for i, in := range s.Instrs {
						plain := in.Cmd == "run" && len(in.Node.Flags) == 0 && len(in.Node.Heredocs) == 0
						if !plain {
							flush()
							continue
						}
						if n == 0 {
							start = i
						}
						n++
					}
					flush()
				}
			},
		},
		{
			ID: "HG026", Group: Layers, Severity: Warning, Title: "Whole context copied before installing dependencies",
			Description: "`COPY . .` (the whole build context) comes before the dependency install (npm/yarn/pnpm install or ci, pip install -r, poetry/pipenv install, go mod download, bundle install, composer install, cargo fetch) in the same stage: any source change re-runs the install.",
			Fix:         "Copy the manifests first and install, then copy the rest: `COPY package.json package-lock.json ./` → `RUN npm ci` → `COPY . .`.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					var copied *Instr
					for _, in := range s.Instrs {
						if c, ok := in.Typed.(*instructions.CopyCommand); ok && copied == nil && c.From == "" {
							for _, src := range c.SourcePaths {
								if src == "." || src == "./" || src == "*" {
									copied = in
								}
							}
							continue
						}
						text, ok := runText(in)
						if !ok || copied == nil {
							continue
						}
						if what := depInstall(commands(text)); what != "" {
							emit(copied.Line, fmt.Sprintf("the whole context is copied before %s on line %d: every source change re-installs", what, in.Line))
							break
						}
					}
				}
			},
		},
		{
			ID: "HG027", Group: Layers, Severity: Style, Title: "cd in RUN instead of WORKDIR",
			Description: "A RUN changes directory with `cd`; the next RUN starts elsewhere again, which is easy to get wrong.",
			Fix:         "Set `WORKDIR /path` before the RUN.",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					if p, _ := c.program(); p == "cd" {
						emit(in.Line, "cd in RUN")
						return
					}
				}
			}),
		},
	}
}

// depInstall names the first dependency install in cmds, or "".
func depInstall(cmds []command) string {
	for _, c := range cmds {
		p, args := c.program()
		sub := subcommand(args)
		switch {
		case (p == "npm" || p == "pnpm") && (sub == "install" || sub == "ci" || sub == "i"),
			p == "yarn" && (sub == "" || sub == "install"),
			(p == "pip" || p == "pip3") && sub == "install" && has(args, "-r", "--requirement"),
			(p == "poetry" || p == "pipenv") && sub == "install",
			p == "go" && sub == "mod" && has(args, "download"),
			p == "bundle" && (sub == "install" || sub == ""),
			p == "composer" && sub == "install",
			p == "cargo" && sub == "fetch":
			if p == "go" {
				return "go mod download"
			}
			return strings.TrimSpace(p + " " + sub)
		}
	}
	return ""
}
