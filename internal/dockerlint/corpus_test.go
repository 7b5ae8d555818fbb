package dockerlint

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// corpus is, per Dockerfile in testdata/corpus, exactly the findings expected as "ID:line", all
// rules on. Each file was written to make some rules fire and to hold the near misses that must
// not (a tar ADD, a git ADD, ADD --checksum, chmod 1777, apt lists removed, a cache mount, a
// builder stage's caches, SHELL with pipefail, `set -o pipefail`, `||`, GPG_KEY, $VAR values,
// HEALTHCHECK NONE, ${PORT}, --platform=$BUILDPLATFORM…). Expectations were reviewed by hand.
var corpus = map[string][]string{
	"add-variants.Dockerfile":     {"HG003:1", "HG033:1", "HG006:2", "HG007:4"},
	"alpine-apk.Dockerfile":       {"HG003:1", "HG033:1", "HG017:2", "HG025:2"},
	"cache-mount.Dockerfile":      {"HG003:2", "HG003:6"},
	"cd-workdir.Dockerfile":       {"HG003:1", "HG033:1", "HG027:3"},
	"consecutive-runs.Dockerfile": {"HG003:1", "HG033:1", "HG025:2"},
	"copy-no-workdir.Dockerfile":  {"HG003:1", "HG029:2", "HG033:5"},
	"curl-pipe.Dockerfile":        {"HG003:1", "HG033:1", "HG025:2", "HG009:3", "HG032:3"},
	"debian-apt-good.Dockerfile":  {},
	"expose.Dockerfile":           {"HG003:1", "HG033:1", "HG013:3", "HG013:4", "HG013:5"},
	"go-multistage.Dockerfile":    {"HG026:4"},
	"go-single.Dockerfile":        {"HG003:1", "HG022:1", "HG023:1"},
	"heredoc.Dockerfile":          {"HG003:2", "HG033:2", "HG009:9", "HG032:9"},
	"ignores.Dockerfile":          {"HG004:2", "HG033:2", "HG024:4"},
	"invalid.Dockerfile":          {"HG003:1", "HG033:1", "HG000:2", "HG000:3"},
	"java-single.Dockerfile":      {"HG003:1", "HG022:1", "HG023:1", "HG033:1"},
	"multi-cmd.Dockerfile":        {"HG003:1", "HG031:2", "HG031:3", "HG031:4", "HG030:7"},
	"node-good.Dockerfile":        {},
	"node-latest.Dockerfile":      {"HG002:1", "HG003:1", "HG022:1", "HG033:1", "HG034:2", "HG028:3", "HG023:7"},
	"node-naive.Dockerfile":       {"HG001:1", "HG003:1", "HG004:1", "HG022:1", "HG033:1", "HG026:3", "HG019:4", "HG030:6"},
	"php-composer.Dockerfile":     {"HG003:1", "HG003:6"},
	"pipefail-missing.Dockerfile": {"HG003:1", "HG033:1", "HG032:2"},
	"pipefail-shell.Dockerfile":   {"HG003:1", "HG033:1"},
	"platform.Dockerfile":         {"HG003:1", "HG012:1", "HG003:6"},
	"python-good.Dockerfile":      {},
	"python-gcc-final.Dockerfile": {"HG003:1", "HG003:4", "HG023:6"},
	"rust-chef.Dockerfile":        {"HG023:1"},
	"python-naive.Dockerfile":     {"HG003:1", "HG004:1", "HG022:1", "HG033:1", "HG005:2", "HG005:3", "HG026:5", "HG018:6", "HG018:7", "HG030:8"},
	"rhel-dnf.Dockerfile":         {"HG003:1", "HG033:1", "HG025:2", "HG021:3", "HG011:4"},
	"root-user.Dockerfile":        {"HG003:1", "HG033:1", "HG010:4", "HG004:5"},
	"ruby-rails.Dockerfile":       {"HG003:1", "HG004:1", "HG022:1", "HG033:1", "HG020:2", "HG023:2", "HG026:4"},
	"scratch.Dockerfile":          {"HG003:1", "HG004:8", "HG033:8"},
	"secrets-arg.Dockerfile":      {"HG005:1", "HG033:3", "HG005:5", "HG005:9"},
	"stages-dup.Dockerfile":       {"HG003:1", "HG015:5", "HG015:6", "HG015:8", "HG003:10", "HG003:13", "HG014:13", "HG033:13"},
	"sudo-chmod.Dockerfile":       {"HG003:1", "HG008:5", "HG010:5", "HG010:7"},
	"ubuntu-apt-bad.Dockerfile":   {"HG003:1", "HG004:1", "HG033:1", "HG024:2", "HG025:2", "HG016:3", "HG020:3", "HG036:3", "HG011:4", "HG035:5"},
}

func analyzeFile(t testing.TB, path string, opts Options) []Finding {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(filepath.Base(path), src)
	if err != nil {
		t.Fatal(err)
	}
	return Analyze(f, opts)
}

func ids(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.RuleID+":"+itoa(f.Line))
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/corpus/*.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(corpus) {
		t.Errorf("%d Dockerfiles in testdata/corpus, %d in the table: keep them in step", len(files), len(corpus))
	}
	fired := map[string]int{}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := corpus[name]
			if !ok {
				t.Fatalf("%s has no row in the table", name)
			}
			got := ids(analyzeFile(t, path, Options{}))
			slices.Sort(got)
			want = slices.Sorted(slices.Values(want))
			if !slices.Equal(got, want) {
				t.Errorf("findings\n got %q\nwant %q", got, want)
			}
		})
		for _, w := range corpus[name] {
			id, _, _ := strings.Cut(w, ":")
			fired[id]++
		}
	}
	// Every rule fires somewhere in the corpus and stays quiet somewhere else.
	for _, r := range Rules() {
		if fired[r.ID] == 0 {
			t.Errorf("%s never fires in the corpus", r.ID)
		}
		quiet := 0
		for _, want := range corpus {
			if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, r.ID+":") }) {
				quiet++
			}
		}
		if quiet == 0 {
			t.Errorf("%s fires in every file of the corpus", r.ID)
		}
	}
}
