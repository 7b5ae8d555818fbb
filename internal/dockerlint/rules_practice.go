package dockerlint

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func practiceRules() []Rule {
	return []Rule{
		{
			ID: "HG028", Group: BestPractice, Severity: Warning, Title: "Relative WORKDIR",
			Description: "WORKDIR with a relative path depends on every WORKDIR before it (and on the base image's). `$VAR` paths are not checked.",
			Fix:         "Use an absolute path: `WORKDIR /app`.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					if w, ok := in.Typed.(*instructions.WorkdirCommand); ok && !absPath(w.Path) {
						emit(in.Line, fmt.Sprintf("WORKDIR %s is relative", w.Path))
					}
				})
			},
		},
		{
			ID: "HG029", Group: BestPractice, Severity: Info, Title: "COPY to a relative path with no WORKDIR",
			Description: "COPY or ADD to a relative destination in a stage (and its parent stages) that sets no WORKDIR first: the files land in whatever directory the base image chose.",
			Fix:         "Set `WORKDIR /app` before the COPY, or copy to an absolute path.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					workdir := false
					for p := f.parent(s); p != nil && !workdir; p = f.parent(p) {
						for _, in := range p.Instrs {
							workdir = workdir || in.Cmd == "workdir"
						}
					}
					for _, in := range s.Instrs {
						var dest string
						switch c := in.Typed.(type) {
						case *instructions.WorkdirCommand:
							workdir = true
						case *instructions.CopyCommand:
							dest = c.DestPath
						case *instructions.AddCommand:
							dest = c.DestPath
						}
						if dest != "" && !workdir && !absPath(dest) {
							emit(in.Line, fmt.Sprintf("%s to %s with no WORKDIR set", strings.ToUpper(in.Cmd), dest))
						}
					}
				}
			},
		},
		{
			ID: "HG030", Group: BestPractice, Severity: Warning, Title: "CMD or ENTRYPOINT in shell form",
			Description: "Shell form runs the program under `/bin/sh -c`, which becomes PID 1 and does not pass SIGTERM on: the container is killed after the grace period instead of stopping cleanly.",
			Fix:         "Use the JSON form: `CMD [\"node\", \"server.js\"]` (`exec` in a wrapper script if you need the shell).",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					switch c := in.Typed.(type) {
					case *instructions.CmdCommand:
						if c.PrependShell {
							emit(in.Line, "CMD in shell form: signals do not reach the program")
						}
					case *instructions.EntrypointCommand:
						if c.PrependShell {
							emit(in.Line, "ENTRYPOINT in shell form: signals do not reach the program")
						}
					}
				})
			},
		},
		{
			ID: "HG031", Group: BestPractice, Severity: Warning, Title: "CMD or ENTRYPOINT overridden in the same stage",
			Description: "A stage has more than one CMD (or ENTRYPOINT, or HEALTHCHECK): only the last counts, the others are dead code. Fires on the earlier ones.",
			Fix:         "Keep only the last one.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					last := map[string]int{}
					for _, in := range s.Instrs {
						if in.Cmd == "cmd" || in.Cmd == "entrypoint" || in.Cmd == "healthcheck" {
							last[in.Cmd] = in.Line
						}
					}
					for _, in := range s.Instrs {
						if l, ok := last[in.Cmd]; ok && l != in.Line {
							emit(in.Line, fmt.Sprintf("%s is overridden by the one on line %d", strings.ToUpper(in.Cmd), l))
						}
					}
				}
			},
		},
		{
			ID: "HG032", Group: BestPractice, Severity: Warning, Title: "Pipe in RUN without pipefail",
			Description: "A shell-form RUN pipes commands (`a | b`) while the shell is /bin/sh without `-o pipefail`: a failing `a` is hidden by a succeeding `b` and the build goes on. A `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` earlier in the stage, or `set -o pipefail` in the RUN, does not fire; neither do PowerShell or cmd shells.",
			Fix:         "Add `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the RUN (`/bin/ash` on Alpine), or start the RUN with `set -o pipefail &&`.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					safe := false
					for p := f.parent(s); p != nil; p = f.parent(p) {
						safe = safe || shellSafe(p, len(p.Instrs))
					}
					for i, in := range s.Instrs {
						text, ok := runText(in)
						if !ok || safe || shellSafe(s, i) || strings.Contains(text, "pipefail") {
							continue
						}
						for _, c := range commands(text) {
							if c.op == "|" {
								emit(in.Line, "pipe in RUN without pipefail: a failure before the pipe is ignored")
								break
							}
						}
					}
				}
			},
		},
		{
			ID: "HG033", Group: BestPractice, Severity: Info, Title: "No HEALTHCHECK in the final image",
			Description: "The final stage (and those it is built FROM) declares no HEALTHCHECK, so `docker ps` and Compose cannot tell a hung container from a healthy one. `HEALTHCHECK NONE` states the choice and does not fire. Orchestrators with their own probes (Kubernetes) ignore it: ignore this rule there.",
			Fix:         "Add `HEALTHCHECK --interval=30s --timeout=3s CMD [\"/app/healthcheck\"]` (or `curl -fsS http://localhost:8080/healthz` where curl exists).",
			check: func(f *File, emit func(int, string)) {
				final := f.Final()
				if final == nil {
					return
				}
				for s := final; s != nil; s = f.parent(s) {
					for _, in := range s.Instrs {
						if in.Cmd == "healthcheck" {
							return
						}
					}
				}
				emit(final.Line, "the final stage has no HEALTHCHECK")
			},
		},
		{
			ID: "HG034", Group: BestPractice, Severity: Style, Title: "MAINTAINER is deprecated",
			Description: "MAINTAINER has been deprecated since Docker 1.13.",
			Fix:         "Use `LABEL org.opencontainers.image.authors=\"name <email>\"`.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					if in.Cmd == "maintainer" {
						emit(in.Line, "MAINTAINER is deprecated")
					}
				})
			},
		},
		{
			ID: "HG035", Group: BestPractice, Severity: Warning, Title: "apt instead of apt-get",
			Description: "`apt` is meant for people at a terminal: its command line is not stable and it warns so in scripts.",
			Fix:         "Use `apt-get` (or `apt-cache`).",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					if p, _ := c.program(); p == "apt" {
						emit(in.Line, "apt in a RUN")
						return
					}
				}
			}),
		},
		{
			ID: "HG036", Group: BestPractice, Severity: Warning, Title: "apt-get install without -y",
			Description: "`apt-get install` without `-y`/`--yes`/`--assume-yes` waits for an answer no build can give and fails.",
			Fix:         "Use `apt-get install -y …`.",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					if p, args := c.program(); p == "apt-get" && subcommand(args) == "install" && !isShortFlag(args, 'y') && !has(args, "--yes", "--assume-yes") {
						emit(in.Line, "apt-get install without -y")
						return
					}
				}
			}),
		},
	}
}

func absPath(p string) bool {
	p = strings.Trim(p, `"'`)
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, "$") || strings.HasPrefix(p, `\`) ||
		len(p) >= 2 && p[1] == ':' // C:\app on Windows images
}

// shellSafe tells whether a SHELL among the first n instructions of s makes pipes fail, or is not
// a POSIX shell at all.
func shellSafe(s *Stage, n int) bool {
	safe := false
	for _, in := range s.Instrs[:n] {
		sh, ok := in.Typed.(*instructions.ShellCommand)
		if !ok {
			continue
		}
		joined := strings.ToLower(strings.Join(sh.Shell, " "))
		safe = strings.Contains(joined, "pipefail") || strings.Contains(joined, "pwsh") ||
			strings.Contains(joined, "powershell") || strings.Contains(joined, "cmd")
	}
	return safe
}

func ruleTable() []Rule {
	var rs []Rule
	rs = append(rs, securityRules()...)
	rs = append(rs, sizeRules()...)
	rs = append(rs, layerRules()...)
	rs = append(rs, practiceRules()...)
	return rs
}
