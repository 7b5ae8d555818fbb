package change

import (
	"path"
	"strings"
)

// Class is what kind of file a path is, as far as deployment risk goes.
type Class string

// The classes, from the most to the least specific. A path gets the first
// class whose rule matches, in the order Classify checks them.
const (
	Migration      Class = "migration"
	Config         Class = "config"
	Dependency     Class = "dependency"
	Infrastructure Class = "infrastructure"
	Source         Class = "source"
	Test           Class = "test"
	Docs           Class = "docs"
	Other          Class = "other"
)

// Classes lists every class, for callers that report counts per class.
var Classes = [...]Class{Migration, Config, Dependency, Infrastructure, Source, Test, Docs, Other}

// Classify returns the class of a slash-separated repository path. Rules are
// checked in this order, because a path can match several: tests (a fixture
// SQL file under tests/ is not a migration), migrations, dependency manifests,
// infrastructure, docs, config, source, other.
func Classify(p string) Class {
	p = strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./")
	lower := strings.ToLower(p)
	base := path.Base(lower)
	dirs := dirSegments(lower)
	ext := path.Ext(base)

	switch {
	case isTest(path.Base(p), base, ext, dirs):
		return Test
	case isMigration(lower, base, ext, dirs):
		return Migration
	case isDependency(base, ext, dirs):
		return Dependency
	case isInfrastructure(lower, base, ext, dirs):
		return Infrastructure
	case isDocs(base, ext, dirs):
		return Docs
	case isConfig(base, ext, dirs):
		return Config
	case sourceExt[ext]:
		return Source
	}
	return Other
}

// dirSegments returns the directory names of a path, without the file name.
func dirSegments(p string) []string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return nil
	}
	return strings.Split(p[:i], "/")
}

func hasDir(dirs []string, names ...string) bool {
	for _, d := range dirs {
		for _, n := range names {
			if d == n {
				return true
			}
		}
	}
	return false
}

func isTest(origBase, base, ext string, dirs []string) bool {
	if hasDir(dirs, "test", "tests", "__tests__", "testdata", "e2e", "__mocks__") {
		return true
	}
	if hasDir(dirs, "spec", "specs") && sourceExt[ext] { // spec/ also holds API specs
		return true
	}
	stem := strings.TrimSuffix(base, ext)
	switch ext {
	case ".go", ".rs", ".exs", ".ex", ".c", ".cc", ".cpp":
		return strings.HasSuffix(stem, "_test")
	case ".py":
		return strings.HasPrefix(stem, "test_") || strings.HasSuffix(stem, "_test") || base == "conftest.py"
	case ".rb":
		return strings.HasSuffix(stem, "_spec") || strings.HasSuffix(stem, "_test")
	case ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue":
		return strings.HasSuffix(stem, ".test") || strings.HasSuffix(stem, ".spec") ||
			strings.HasSuffix(stem, "_test") || strings.HasSuffix(stem, "-test")
	case ".java", ".kt", ".scala", ".cs", ".swift", ".php", ".groovy":
		// Case matters here: FooTest.java is a test, Latest.java is not.
		s := strings.TrimSuffix(origBase, path.Ext(origBase))
		return strings.HasSuffix(s, "Test") || strings.HasSuffix(s, "Tests") ||
			strings.HasSuffix(s, "Spec") || strings.HasSuffix(s, "IT")
	}
	return false
}

func isMigration(lower, base, ext string, dirs []string) bool {
	if hasDir(dirs, "migrations", "migration", "migrate", "db_migrations", "flyway", "liquibase", "changelogs") {
		return true
	}
	if strings.Contains(lower, "alembic/versions/") {
		return true
	}
	switch ext {
	case ".sql", ".cql", ".ddl":
		return true
	case ".xml", ".yaml", ".yml", ".json":
		// Liquibase: db.changelog-master.yaml, changelog-1.0.xml (CHANGELOG.md is docs).
		if strings.Contains(base, "changelog") {
			return true
		}
	}
	switch base {
	case "schema.rb", "structure.sql", "schema.prisma":
		return hasDir(dirs, "db", "prisma")
	}
	return false
}

var dependencyFiles = map[string]bool{
	"go.mod": true, "go.sum": true, "go.work": true, "go.work.sum": true, "modules.txt": false,
	"package.json": true, "package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true,
	"pnpm-lock.yaml": true, "pnpm-workspace.yaml": true, "bun.lockb": true, "bun.lock": true,
	"pipfile": true, "pipfile.lock": true, "poetry.lock": true, "pyproject.toml": true, "uv.lock": true,
	"setup.py": true, "setup.cfg": true, "constraints.txt": true, "environment.yml": true,
	"pom.xml": true, "build.gradle": true, "build.gradle.kts": true, "settings.gradle": true,
	"settings.gradle.kts": true, "gradle.lockfile": true, "libs.versions.toml": true, "build.sbt": true,
	"gemfile": true, "gemfile.lock": true, "cargo.toml": true, "cargo.lock": true,
	"composer.json": true, "composer.lock": true, "mix.exs": true, "mix.lock": true,
	"package.swift": true, "package.resolved": true, "podfile": true, "podfile.lock": true,
	"packages.config": true, "directory.packages.props": true, "paket.dependencies": true, "paket.lock": true,
	"vcpkg.json": true, "conanfile.txt": true, "conanfile.py": true, "flake.lock": true,
	"pubspec.yaml": true, "pubspec.lock": true, "rebar.config": true, "stack.yaml": true, "cabal.project": true,
}

func isDependency(base, ext string, dirs []string) bool {
	if dependencyFiles[base] {
		return true
	}
	if base == "modules.txt" && hasDir(dirs, "vendor") {
		return true
	}
	if strings.HasPrefix(base, "requirements") && (ext == ".txt" || ext == ".in") {
		return true
	}
	if hasDir(dirs, "requirements") && (ext == ".txt" || ext == ".in") {
		return true
	}
	switch ext {
	case ".gemspec", ".csproj", ".fsproj", ".vbproj", ".cabal":
		return true
	}
	return false
}

var infraFiles = map[string]bool{
	"jenkinsfile": true, "vagrantfile": true, "procfile": true, ".dockerignore": true,
	".gitlab-ci.yml": true, ".travis.yml": true, "azure-pipelines.yml": true,
	"bitbucket-pipelines.yml": true, "cloudbuild.yaml": true, "cloudbuild.yml": true,
	"chart.yaml": true, "chart.lock": true, "kustomization.yaml": true, "kustomization.yml": true,
	"skaffold.yaml": true, "helmfile.yaml": true, "fly.toml": true, "serverless.yml": true,
	"serverless.yaml": true, "app.yaml": false, "compose.yaml": true, "compose.yml": true,
	"tiltfile": true, "earthfile": true, "nomad.hcl": true,
}

var infraDirs = []string{
	"k8s", "kubernetes", "kube", "manifests", "helm", "charts", "chart", "kustomize", "overlays",
	"terraform", "tf", "infra", "infrastructure", "ansible", "playbooks", "pulumi", "cloudformation",
	"deploy", "deployment", "deployments", ".circleci", "argocd", "flux", "openshift",
}

func isInfrastructure(lower, base, ext string, dirs []string) bool {
	if infraFiles[base] {
		return true
	}
	if strings.HasPrefix(base, "dockerfile") || strings.HasSuffix(base, ".dockerfile") ||
		strings.HasPrefix(base, "containerfile") || strings.HasPrefix(base, "docker-compose") {
		return true
	}
	switch ext {
	case ".tf", ".tfvars", ".hcl", ".nomad", ".bicep", ".tpl":
		return true
	}
	if strings.HasPrefix(lower, ".github/workflows/") || strings.HasPrefix(lower, ".github/actions/") ||
		strings.HasPrefix(lower, ".buildkite/") {
		return true
	}
	if hasDir(dirs, infraDirs...) {
		switch ext {
		case ".yaml", ".yml", ".json", ".jsonnet", ".libsonnet", ".cue", ".toml", ".conf", ".sh", "":
			return true
		}
	}
	return false
}

var docsExt = map[string]bool{
	".md": true, ".markdown": true, ".rst": true, ".adoc": true, ".asciidoc": true, ".txt": true,
	".rdoc": true, ".org": true, ".pod": true, ".man": true, ".1": true, ".texi": true,
}

var docsStems = []string{"license", "licence", "copying", "notice", "authors", "contributors",
	"changelog", "changes", "history", "readme", "contributing", "code_of_conduct", "security",
	"codeowners", "maintainers"}

func isDocs(base, ext string, dirs []string) bool {
	if docsExt[ext] {
		return true
	}
	if hasDir(dirs, "docs", "doc", "documentation", "man", "site") {
		return true
	}
	stem := strings.TrimSuffix(base, ext)
	for _, s := range docsStems {
		if stem == s {
			return true
		}
	}
	return false
}

var configExt = map[string]bool{
	".yaml": true, ".yml": true, ".json": true, ".json5": true, ".toml": true, ".ini": true,
	".env": true, ".properties": true, ".cfg": true, ".conf": true, ".config": true, ".xml": true,
	".plist": true, ".editorconfig": true,
}

func isConfig(base, ext string, dirs []string) bool {
	if configExt[ext] || base == ".env" || strings.HasPrefix(base, ".env.") {
		return true
	}
	if hasDir(dirs, "config", "configs", "conf", "settings", "etc") && !sourceExt[ext] {
		return true
	}
	return false
}

var sourceExt = map[string]bool{
	".go": true, ".py": true, ".pyi": true, ".js": true, ".jsx": true, ".ts": true, ".tsx": true,
	".mjs": true, ".cjs": true, ".java": true, ".kt": true, ".kts": true, ".scala": true,
	".groovy": true, ".rb": true, ".php": true, ".cs": true, ".fs": true, ".vb": true, ".c": true,
	".h": true, ".cc": true, ".cpp": true, ".cxx": true, ".hpp": true, ".hh": true, ".rs": true,
	".swift": true, ".m": true, ".mm": true, ".sh": true, ".bash": true, ".zsh": true, ".ps1": true,
	".pl": true, ".pm": true, ".lua": true, ".ex": true, ".exs": true, ".erl": true, ".hrl": true,
	".clj": true, ".cljs": true, ".dart": true, ".r": true, ".jl": true, ".hs": true, ".ml": true,
	".elm": true, ".vue": true, ".svelte": true, ".html": true, ".htm": true, ".css": true,
	".scss": true, ".sass": true, ".less": true, ".proto": true, ".graphql": true, ".gql": true,
	".zig": true, ".nim": true, ".sol": true, ".tmpl": true, ".gotmpl": true,
}
