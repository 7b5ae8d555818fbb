package dockerlint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// The size rules about caches look only at stages that ship (the final stage and those it is
// built FROM): a cache left in a builder stage never reaches the image.

func sizeRules() []Rule {
	return []Rule{
		{
			ID: "HG016", Group: Size, Severity: Warning, Title: "apt lists left in the image",
			Description: "A RUN with `apt-get install` does not remove `/var/lib/apt/lists/*` in the same RUN, so ~40 MB of package lists ship. A RUN with a cache mount (`--mount=type=cache`) does not fire.",
			Fix:         "End the same RUN with `&& rm -rf /var/lib/apt/lists/*`.",
			check: shippedRunCheck(func(in *Instr, text string, cmds []command, emit func(int, string)) {
				if installs(cmds, "apt-get", "install") && !strings.Contains(text, "/var/lib/apt/lists") {
					emit(in.Line, "apt-get install without removing /var/lib/apt/lists/* in the same RUN")
				}
			}),
		},
		{
			ID: "HG017", Group: Size, Severity: Warning, Title: "apk add keeps its cache",
			Description: "`apk add` without `--no-cache` leaves the index in /var/cache/apk. `rm -rf /var/cache/apk/*` in the same RUN, or a cache mount, does not fire.",
			Fix:         "Use `apk add --no-cache …`.",
			check: shippedRunCheck(func(in *Instr, text string, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					if p, args := c.program(); p == "apk" && subcommand(args) == "add" && !has(args, "--no-cache") && !strings.Contains(text, "/var/cache/apk") {
						emit(in.Line, "apk add without --no-cache")
						return
					}
				}
			}),
		},
		{
			ID: "HG018", Group: Size, Severity: Info, Title: "pip install keeps its cache",
			Description: "`pip install` without `--no-cache-dir` keeps downloaded wheels in ~/.cache/pip. `ENV PIP_NO_CACHE_DIR=1` in the stage, or a cache mount, does not fire.",
			Fix:         "Use `pip install --no-cache-dir …` (or `ENV PIP_NO_CACHE_DIR=1`).",
			check: func(f *File, emit func(int, string)) {
				shipped := f.shipped()
				for _, s := range f.Stages {
					if !shipped[s] || stageEnv(s, "PIP_NO_CACHE_DIR") {
						continue
					}
					for _, in := range s.Instrs {
						text, ok := runText(in)
						if !ok || cacheMount(in) {
							continue
						}
						for _, c := range commands(text) {
							p, args := c.program()
							if p == "python" || p == "python3" {
								if len(args) >= 2 && args[0] == "-m" {
									p, args = args[1], args[2:]
								}
							}
							if (p == "pip" || p == "pip3") && subcommand(args) == "install" && !has(args, "--no-cache-dir") {
								emit(in.Line, "pip install without --no-cache-dir")
								break
							}
						}
					}
				}
			},
		},
		{
			ID: "HG019", Group: Size, Severity: Info, Title: "npm cache left in the image",
			Description: "`npm install`/`npm ci` in a shipped stage without `npm cache clean --force` in the same RUN leaves ~/.npm behind. A cache mount does not fire; neither does a builder stage.",
			Fix:         "Append `&& npm cache clean --force`, or install in a builder stage and copy only node_modules.",
			check: shippedRunCheck(func(in *Instr, text string, cmds []command, emit func(int, string)) {
				if (installs(cmds, "npm", "install") || installs(cmds, "npm", "ci") || installs(cmds, "npm", "i")) && !strings.Contains(text, "cache clean") {
					emit(in.Line, "npm install without `npm cache clean --force` in the same RUN")
				}
			}),
		},
		{
			ID: "HG020", Group: Size, Severity: Info, Title: "apt-get install pulls recommended packages",
			Description: "`apt-get install` without `--no-install-recommends` also installs every recommended package, often doubling the layer.",
			Fix:         "Use `apt-get install -y --no-install-recommends …`.",
			check: shippedRunCheck(func(in *Instr, _ string, cmds []command, emit func(int, string)) {
				for _, c := range cmds {
					if p, args := c.program(); p == "apt-get" && subcommand(args) == "install" && !has(args, "--no-install-recommends") && !hasPrefix(args, "-oAPT::Install-Recommends=", "-o=APT::Install-Recommends=") {
						emit(in.Line, "apt-get install without --no-install-recommends")
						return
					}
				}
			}),
		},
		{
			ID: "HG021", Group: Size, Severity: Warning, Title: "yum/dnf/zypper cache left in the image",
			Description: "`yum install`, `dnf install`, `microdnf install` or `zypper install` without `clean all` (or removing /var/cache) in the same RUN.",
			Fix:         "End the same RUN with `&& dnf clean all` (yum/microdnf/zypper alike), or `rm -rf /var/cache/dnf`.",
			check: shippedRunCheck(func(in *Instr, text string, cmds []command, emit func(int, string)) {
				for _, pm := range []string{"yum", "dnf", "microdnf", "zypper"} {
					if (installs(cmds, pm, "install") || installs(cmds, pm, "in")) && !strings.Contains(text, "clean all") && !strings.Contains(text, "/var/cache/") {
						emit(in.Line, pm+" install without `"+pm+" clean all` in the same RUN")
						return
					}
				}
			}),
		},
		{
			ID: "HG022", Group: Size, Severity: Info, Title: "Large base image for the final stage",
			Description: "The final image starts from a known full-size base (node, python, golang, ruby, php, openjdk, eclipse-temurin with a JDK, rust, maven, gradle, buildpack-deps, debian, perl, elixir, haskell: images that come in a slim or alpine flavour) with no slim, alpine, distroless, minimal, or micro flavour in the tag.",
			Fix:         "Use the slim or alpine flavour (`python:3.13-slim`), or a distroless/runtime-only image in a final stage that copies the build output.",
			check: func(f *File, emit func(int, string)) {
				final := f.Final()
				if final == nil || !f.isExternal(final) {
					return
				}
				r := parseImage(final.Base)
				if fatBases[r.short()] && !slimTag(r.tag) {
					emit(final.Line, fmt.Sprintf("%s is a full-size image", final.Base))
				}
			},
		},
		{
			ID: "HG023", Group: Size, Severity: Warning, Title: "Build tools in the final image",
			Description: "The image that ships (the final stage and the stages it is built FROM) compiles in itself: a build base (golang, rust, maven, gradle, gcc, buildpack-deps, a JDK tag), a compiler installed (gcc, g++, make, build-essential, clang, cmake), or a build command (go build, cargo build, mvn package, gradle build, npm run build). Building in an earlier stage and copying only the output leaves them behind; a builder stage does not fire.",
			Fix:         "Build in a first stage (`FROM golang:1.23 AS build`) and copy only the output into a small final stage (`COPY --from=build /out/app /app`).",
			check: func(f *File, emit func(int, string)) {
				// The final stage and those it is built FROM: what ships.
				for s := f.Final(); s != nil; s = f.parent(s) {
					r := parseImage(s.Base)
					if f.isExternal(s) && (buildBases[r.short()] || strings.Contains(r.tag, "jdk")) {
						emit(s.Line, fmt.Sprintf("%s is a build image, shipped as the runtime", s.Base))
						return
					}
					for _, in := range s.Instrs {
						text, ok := runText(in)
						if !ok {
							continue
						}
						if what := buildStep(commands(text)); what != "" {
							emit(in.Line, what+" in the final image: the toolchain ships with it")
							return
						}
					}
				}
			},
		},
	}
}

var fatBases = map[string]bool{
	"node": true, "python": true, "golang": true, "ruby": true, "php": true, "openjdk": true,
	"rust": true, "maven": true, "gradle": true, "buildpack-deps": true, "debian": true,
	"perl": true, "elixir": true, "haskell": true,
	// ubuntu, fedora and centos are left out: they have no slim flavour to move to.
}

var buildBases = map[string]bool{"golang": true, "rust": true, "maven": true, "gradle": true, "buildpack-deps": true, "gcc": true}

func slimTag(tag string) bool {
	t := strings.ToLower(tag)
	for _, s := range []string{"slim", "alpine", "distroless", "minimal", "micro", "busybox", "scratch"} {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

var compilers = []string{"gcc", "g++", "gcc-c++", "make", "build-essential", "clang", "cmake", "build-base", "golang", "rustc", "cargo"}

// buildStep names the first compiler install or build command in cmds, or "".
func buildStep(cmds []command) string {
	for _, c := range cmds {
		p, args := c.program()
		sub := subcommand(args)
		switch {
		case (p == "apt-get" || p == "apk" || p == "yum" || p == "dnf") && (sub == "install" || sub == "add"):
			for _, a := range args {
				if slices.Contains(compilers, a) {
					return "installing " + a
				}
			}
		case p == "go" && sub == "build", p == "cargo" && sub == "build", p == "mvn" && has(args, "package", "install"),
			p == "gradle" && has(args, "build", "assemble"), p == "npm" && sub == "run" && has(args, "build"):
			return p + " " + strings.Join(args, " ")
		}
	}
	return ""
}

// installs tells whether cmds run pm with the sub-command.
func installs(cmds []command, pm, sub string) bool {
	for _, c := range cmds {
		if p, args := c.program(); p == pm && subcommand(args) == sub {
			return true
		}
	}
	return false
}

// cacheMount tells whether a RUN uses a cache mount, which keeps caches out of the layer.
func cacheMount(in *Instr) bool {
	for _, fl := range in.Node.Flags {
		if strings.HasPrefix(fl, "--mount=") && strings.Contains(fl, "type=cache") {
			return true
		}
	}
	return false
}

func stageEnv(s *Stage, name string) bool {
	for _, in := range s.Instrs {
		if e, ok := in.Typed.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				if kv.Key == name {
					return true
				}
			}
		}
	}
	return false
}

// shippedRunCheck adapts a check over the shell-form RUNs of shipped stages without a cache mount.
func shippedRunCheck(fn func(in *Instr, text string, cmds []command, emit func(int, string))) func(*File, func(int, string)) {
	return func(f *File, emit func(int, string)) {
		shipped := f.shipped()
		eachInstr(f, func(s *Stage, in *Instr) {
			if !shipped[s] || cacheMount(in) {
				return
			}
			if text, ok := runText(in); ok {
				fn(in, text, commands(text), emit)
			}
		})
	}
}
