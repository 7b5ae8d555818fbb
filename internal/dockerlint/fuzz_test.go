package dockerlint

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzAnalyze runs every rule over arbitrary Dockerfiles: parse may refuse, nothing may panic,
// and every finding must point at a line of the file and name a known rule.
func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.Dockerfile")
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("FROM a AS b\nCOPY --from=b . .\nRUN <<EOF\n|\nEOF\n"))
	f.Add([]byte("FROM x\nEXPOSE 1-0/tcp 65536 -1 /udp\nRUN a|b||c&&d;e|\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("Dockerfile", src)
		if err != nil {
			return
		}
		for _, fd := range Analyze(file, Options{}) {
			if fd.Line < 1 {
				t.Fatalf("finding %+v has no line", fd)
			}
			if _, ok := RuleByID(fd.RuleID); !ok {
				t.Fatalf("finding of unknown rule %q", fd.RuleID)
			}
		}
		_ = SARIF(NewReport([]string{"Dockerfile"}, Analyze(file, Options{})), "fuzz")
	})
}

// FuzzConfig feeds .hugai-docker.yaml arbitrary bytes: an error or a config, never a panic, and a
// config only ever names known rules.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"ignore: [HG003]\nseverity:\n  HG022: warning\n",
		"ignore: &a [HG001, *a]\n",
		"severity: {HG001: [x]}\n",
		"? [a]\n: b\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := ParseConfig("c.yaml", src)
		if err != nil {
			return
		}
		for _, id := range cfg.Ignore {
			if _, ok := RuleByID(id); !ok {
				t.Fatalf("ignore holds unknown rule %q", id)
			}
		}
		for id := range cfg.Severity {
			if _, ok := RuleByID(id); !ok {
				t.Fatalf("severity holds unknown rule %q", id)
			}
		}
	})
}

// BenchmarkAnalyze measures Dockerfiles per second over the corpus: parse and every rule.
func BenchmarkAnalyze(b *testing.B) {
	files, _ := filepath.Glob("testdata/corpus/*.Dockerfile")
	var srcs [][]byte
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		src := srcs[n%len(srcs)]
		n++
		file, err := Parse("Dockerfile", src)
		if err != nil {
			continue
		}
		_ = Analyze(file, Options{})
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "dockerfiles/s")
}

// BenchmarkParse is the floor BenchmarkAnalyze is measured against: buildkit's parser and
// instruction typing alone, no rule.
func BenchmarkParse(b *testing.B) {
	files, _ := filepath.Glob("testdata/corpus/*.Dockerfile")
	var srcs [][]byte
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_, _ = Parse("Dockerfile", srcs[n%len(srcs)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "dockerfiles/s")
}
