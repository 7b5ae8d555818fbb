package dockerlint

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func securityRules() []Rule {
	return []Rule{
		{
			ID: "HG001", Group: Security, Severity: Warning, Title: "Base image without a tag",
			Description: "A FROM names an image with neither tag nor digest, so it means `latest` and changes under you. Stages, `scratch` and ARG-built references are not checked.",
			Fix:         "Pin a version: `FROM node:22.11-bookworm-slim`.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					if r := parseImage(s.Base); f.isExternal(s) && r.tag == "" && r.digest == "" {
						emit(s.Line, fmt.Sprintf("FROM %s has no tag, so it is whatever `latest` is at build time", s.Base))
					}
				}
			},
		},
		{
			ID: "HG002", Group: Security, Severity: Warning, Title: "Base image tagged latest",
			Description: "A FROM uses the `latest` tag: builds are not reproducible and a rollback may not get the old base back.",
			Fix:         "Replace `latest` with a version tag (and a digest: see HG003).",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					if r := parseImage(s.Base); f.isExternal(s) && strings.EqualFold(r.tag, "latest") {
						emit(s.Line, fmt.Sprintf("FROM %s uses the latest tag", s.Base))
					}
				}
			},
		},
		{
			ID: "HG003", Group: Security, Severity: Info, Title: "Base image not pinned by digest",
			Description: "A tag can be moved to another image; a digest cannot. Fires on every external FROM without `@sha256:`.",
			Fix:         "Add the digest: `FROM image:tag@sha256:…` (`docker buildx imagetools inspect image:tag` prints it); let a bot such as Renovate update it.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					if r := parseImage(s.Base); f.isExternal(s) && r.digest == "" {
						emit(s.Line, fmt.Sprintf("FROM %s is not pinned by digest", s.Base))
					}
				}
			},
		},
		{
			ID: "HG004", Group: Security, Severity: Warning, Title: "Final image runs as root",
			Description: "The final stage (and the stages it is built from) sets no USER, or the last USER is root or 0. A final image FROM scratch or an ARG is checked too: its default user is root.",
			Fix:         "Create and switch to an unprivileged user at the end: `RUN useradd -r -u 10001 app` then `USER 10001`.",
			check: func(f *File, emit func(int, string)) {
				final := f.Final()
				if final == nil {
					return
				}
				for s := final; s != nil; s = f.parent(s) {
					for i := len(s.Instrs) - 1; i >= 0; i-- {
						u, ok := s.Instrs[i].Typed.(*instructions.UserCommand)
						if !ok {
							continue
						}
						name, _, _ := strings.Cut(u.User, ":")
						if name == "root" || name == "0" {
							emit(s.Instrs[i].Line, "the last USER is root: the container runs as root")
						}
						return
					}
				}
				emit(final.Line, "no USER in the final stage: the container runs as root")
			},
		},
		{
			ID: "HG005", Group: Security, Severity: Error, Title: "Secret in ARG or ENV",
			Description: "An ARG default or ENV value is a literal for a name that holds a secret (PASSWORD, PASSWD, SECRET, TOKEN, CREDENTIALS, PRIVATE, APIKEY, or KEY after API, ACCESS, SECRET, PRIVATE, AUTH, ENCRYPTION, SIGNING or MASTER). Build args and env end up in the image's history and config. Empty values, `$VAR` references and names ending in PATH, FILE, DIR, NAME, URL, URI, ENDPOINT, ID, TYPE, HEADER, VAR, ENV, VERSION or LENGTH (they point at a secret) do not fire; GPG_KEY-style fingerprints do not either.",
			Fix:         "Pass it at build time as a secret: `RUN --mount=type=secret,id=token …` with `docker build --secret id=token,env=TOKEN`, or at run time from the orchestrator's secret store.",
			check: func(f *File, emit func(int, string)) {
				check := func(in *Instr) {
					switch c := in.Typed.(type) {
					case *instructions.ArgCommand:
						for _, a := range c.Args {
							if a.Value != nil && secretName(a.Key) && literal(*a.Value) {
								emit(in.Line, fmt.Sprintf("ARG %s has a literal default: it is kept in the image history", a.Key))
							}
						}
					case *instructions.EnvCommand:
						for _, kv := range c.Env {
							if secretName(kv.Key) && literal(kv.Value) {
								emit(in.Line, fmt.Sprintf("ENV %s holds a literal secret: anyone with the image can read it", kv.Key))
							}
						}
					}
				}
				for _, in := range f.MetaArgs {
					check(in)
				}
				for _, s := range f.Stages {
					for _, in := range s.Instrs {
						check(in)
					}
				}
			},
		},
		{
			ID: "HG006", Group: Security, Severity: Warning, Title: "ADD for local files",
			Description: "ADD copies local files but also fetches URLs and unpacks archives, which makes what it does depend on the source. Fires when no source is a URL or a local archive (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .txz, .tar.zst) meant to be unpacked.",
			Fix:         "Use COPY: `COPY src/ /app/src/`.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					a, ok := in.Typed.(*instructions.AddCommand)
					if !ok {
						return
					}
					for _, src := range a.SourcePaths {
						if isURL(src) || isArchive(src) {
							return
						}
					}
					emit(in.Line, "ADD of local files: COPY does the same with no surprises")
				})
			},
		},
		{
			ID: "HG007", Group: Security, Severity: Warning, Title: "ADD from a URL without a checksum",
			Description: "ADD downloads a URL with nothing checking what came back. `ADD --checksum=sha256:…` does not fire; git sources (`.git` URLs) are pinned by ref instead and do not fire.",
			Fix:         "Add `--checksum=sha256:<digest>` to the ADD, or download in a RUN and verify with `sha256sum -c`.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					a, ok := in.Typed.(*instructions.AddCommand)
					if !ok || a.Checksum != "" {
						return
					}
					for _, src := range a.SourcePaths {
						if isURL(src) && !strings.HasSuffix(strings.SplitN(src, "#", 2)[0], ".git") {
							emit(in.Line, fmt.Sprintf("ADD %s is not checked against a checksum", src))
							return
						}
					}
				})
			},
		},
		{
			ID: "HG008", Group: Security, Severity: Warning, Title: "sudo in RUN",
			Description: "RUN already runs as the current USER; sudo adds a setuid binary and unpredictable TTY and signal behaviour.",
			Fix:         "Drop sudo; switch with `USER root` before the step and back to the app user after it.",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					if len(c.words) > 0 && c.words[0] == "sudo" {
						emit(in.Line, "sudo in RUN")
						return
					}
				}
			}),
		},
		{
			ID: "HG009", Group: Security, Severity: Warning, Title: "Remote script piped to a shell",
			Description: "`curl … | sh` (or wget, into sh, bash, python, perl…) runs whatever the server sends, unchecked.",
			Fix:         "Download to a file, check it (`echo \"<sha256>  install.sh\" | sha256sum -c`), then run it.",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				for i := 0; i+1 < len(cmds); i++ {
					p, _ := cmds[i].program()
					q, _ := cmds[i+1].program()
					if cmds[i].op == "|" && (p == "curl" || p == "wget") && isInterpreter(q) {
						emit(in.Line, fmt.Sprintf("%s output piped to %s", p, q))
						return
					}
				}
			}),
		},
		{
			ID: "HG010", Group: Security, Severity: Warning, Title: "World-writable permissions",
			Description: "`chmod 777` (or 666, a+w, o+w) lets any user in the container change the files; `COPY --chmod=777` too.",
			Fix:         "Give ownership to the app user instead: `COPY --chown=app:app …` or `chown -R app /data && chmod 750 /data`.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					switch c := in.Typed.(type) {
					case *instructions.CopyCommand:
						if worldWritable(c.Chmod) {
							emit(in.Line, "COPY --chmod="+c.Chmod+" makes the files world-writable")
						}
					case *instructions.AddCommand:
						if worldWritable(c.Chmod) {
							emit(in.Line, "ADD --chmod="+c.Chmod+" makes the files world-writable")
						}
					}
					text, _ := runText(in)
					for _, c := range commands(text) {
						if p, args := c.program(); p == "chmod" {
							for _, a := range args {
								if worldWritable(a) {
									emit(in.Line, "chmod "+a+" makes files world-writable")
									return
								}
							}
						}
					}
				})
			},
		},
		{
			ID: "HG011", Group: Security, Severity: Info, Title: "Whole-system upgrade in RUN",
			Description: "`apt-get upgrade`, `dist-upgrade`, `apk upgrade`, `yum/dnf upgrade|update` with no package named: the image depends on the day it was built. Prefer a fresher base image.",
			Fix:         "Move to a newer base tag (or digest) instead; install only the packages you need, with versions.",
			check: runCheck(func(_ *Stage, in *Instr, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					p, args := c.program()
					sub := subcommand(args)
					switch {
					case (p == "apt-get" || p == "apt") && (sub == "upgrade" || sub == "dist-upgrade" || sub == "full-upgrade"),
						p == "apk" && sub == "upgrade",
						(p == "yum" || p == "dnf" || p == "microdnf") && (sub == "upgrade" || sub == "update") && len(nonFlags(args)) == 1:
						emit(in.Line, fmt.Sprintf("%s %s upgrades every package", p, sub))
						return
					}
				}
			}),
		},
		{
			ID: "HG012", Group: Security, Severity: Warning, Title: "FROM --platform hard-coded",
			Description: "`FROM --platform=linux/amd64` forces one platform and breaks multi-platform builds. `--platform=$BUILDPLATFORM` (or any ARG) does not fire.",
			Fix:         "Remove the flag, or use `--platform=$BUILDPLATFORM` for build stages that cross-compile.",
			check: func(f *File, emit func(int, string)) {
				for _, s := range f.Stages {
					if s.Platform != "" && !strings.Contains(s.Platform, "$") {
						emit(s.Line, fmt.Sprintf("FROM --platform=%s is fixed", s.Platform))
					}
				}
			},
		},
		{
			ID: "HG013", Group: Security, Severity: Error, Title: "EXPOSE with an invalid port",
			Description: "EXPOSE takes `port[/tcp|/udp|/sctp]` or a range `a-b`, ports 1–65535. A `host:container` mapping is not valid here. `$VAR` ports are not checked.",
			Fix:         "Write the container port only, e.g. `EXPOSE 8080/tcp`; publish to the host with `docker run -p`.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(_ *Stage, in *Instr) {
					e, ok := in.Typed.(*instructions.ExposeCommand)
					if !ok {
						return
					}
					for _, p := range e.Ports {
						if msg := badPort(p); msg != "" {
							emit(in.Line, fmt.Sprintf("EXPOSE %s: %s", p, msg))
						}
					}
				})
			},
		},
		{
			ID: "HG014", Group: Security, Severity: Error, Title: "Duplicate stage name",
			Description: "Two FROM … AS share a name: COPY --from and --target pick one silently.",
			Fix:         "Give each stage its own name.",
			check: func(f *File, emit func(int, string)) {
				seen := map[string]int{}
				for _, s := range f.Stages {
					if s.Name == "" {
						continue
					}
					if first, ok := seen[s.Name]; ok {
						emit(s.Line, fmt.Sprintf("stage %q is already defined on line %d", s.Name, first))
						continue
					}
					seen[s.Name] = s.Line
				}
			},
		},
		{
			ID: "HG015", Group: Security, Severity: Error, Title: "COPY --from its own or a later stage",
			Description: "COPY --from names the stage it is in, or an index that is not an earlier stage: the build fails or copies from an image of that name instead.",
			Fix:         "Point --from at an earlier stage (by name), or move the stage it needs before this one.",
			check: func(f *File, emit func(int, string)) {
				eachInstr(f, func(s *Stage, in *Instr) {
					c, ok := in.Typed.(*instructions.CopyCommand)
					if !ok || c.From == "" {
						return
					}
					if n, err := strconv.Atoi(c.From); err == nil {
						if n < 0 || n >= s.Index {
							emit(in.Line, fmt.Sprintf("COPY --from=%d: stage %d is not an earlier stage", n, n))
						}
						return
					}
					if s.Name != "" && strings.EqualFold(c.From, s.Name) {
						emit(in.Line, fmt.Sprintf("COPY --from=%s copies from the stage it is in", c.From))
						return
					}
					for _, later := range f.Stages[s.Index+1:] {
						if later.Name != "" && strings.EqualFold(later.Name, c.From) && f.stageByName(c.From, s.Index) == nil {
							emit(in.Line, fmt.Sprintf("COPY --from=%s: that stage comes later, on line %d", c.From, later.Line))
							return
						}
					}
				})
			},
		},
	}
}

var referenceSuffix = map[string]bool{"PATH": true, "FILE": true, "DIR": true, "NAME": true, "URL": true, "URI": true, "ENDPOINT": true, "ID": true, "TYPE": true, "HEADER": true, "VAR": true, "ENV": true, "VERSION": true, "LENGTH": true}

var keyQualifiers = map[string]bool{"API": true, "ACCESS": true, "SECRET": true, "PRIVATE": true, "AUTH": true, "ENCRYPTION": true, "SIGNING": true, "MASTER": true}

// secretName tells whether a variable name says it holds a secret.
func secretName(name string) bool {
	toks := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	// A name that ends in PATH, FILE, NAME… points at a secret (SECRET_FILE=/run/secrets/x) and
	// holds none.
	if len(toks) == 0 || referenceSuffix[toks[len(toks)-1]] {
		return false
	}
	for i, t := range toks {
		switch t {
		case "PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIALS", "CREDENTIAL", "PRIVATE", "APIKEY", "PASS":
			return true
		case "KEY":
			if len(toks) == 1 || (i > 0 && keyQualifiers[toks[i-1]]) {
				return true
			}
		}
	}
	return false
}

// literal tells whether a value is typed in the file rather than taken from another variable.
func literal(v string) bool {
	v = strings.Trim(v, `"'`)
	return v != "" && !strings.HasPrefix(v, "$")
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "git@")
}

var archiveExts = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tzst"}

func isArchive(s string) bool {
	l := strings.ToLower(s)
	for _, e := range archiveExts {
		if strings.HasSuffix(l, e) {
			return true
		}
	}
	return false
}

func isInterpreter(p string) bool {
	switch p {
	case "sh", "bash", "zsh", "ash", "dash", "ksh", "python", "python3", "perl", "ruby", "node":
		return true
	}
	return false
}

var worldWritableRe = regexp.MustCompile(`^0?[0-7]?[0-7][0-7][2367]$|^([ugoa]*[ao][ugoa]*)\+[rwxXst]*w`)

// worldWritable tells whether a chmod mode gives write to others.
func worldWritable(mode string) bool {
	// 1777 is the sticky, shared /tmp mode: writable by all on purpose, safe by the sticky bit.
	return mode != "" && !(len(mode) == 4 && mode[0] == '1') && worldWritableRe.MatchString(mode)
}

func badPort(p string) string {
	if strings.Contains(p, "$") {
		return ""
	}
	port, proto, hasProto := strings.Cut(p, "/")
	if hasProto {
		switch strings.ToLower(proto) {
		case "tcp", "udp", "sctp":
		default:
			return fmt.Sprintf("protocol %q is not tcp, udp or sctp", proto)
		}
	}
	if strings.Contains(port, ":") {
		return "a host:container mapping belongs to `docker run -p`, not EXPOSE"
	}
	lo, hi, isRange := strings.Cut(port, "-")
	for _, s := range []string{lo, hi} {
		if s == "" && !isRange {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q is not a port between 1 and 65535", s)
		}
	}
	if isRange {
		a, _ := strconv.Atoi(lo)
		b, _ := strconv.Atoi(hi)
		if a > b {
			return "the range ends before it starts"
		}
	}
	return ""
}

func nonFlags(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
		}
	}
	return out
}

// eachInstr calls fn for every instruction under a FROM.
func eachInstr(f *File, fn func(*Stage, *Instr)) {
	for _, s := range f.Stages {
		for _, in := range s.Instrs {
			fn(s, in)
		}
	}
}

// runCheck adapts a check over the shell commands of each shell-form RUN.
func runCheck(fn func(s *Stage, in *Instr, cmds []command, emit func(int, string))) func(*File, func(int, string)) {
	return func(f *File, emit func(int, string)) {
		eachInstr(f, func(s *Stage, in *Instr) {
			if text, ok := runText(in); ok {
				fn(s, in, commands(text), emit)
			}
		})
	}
}
