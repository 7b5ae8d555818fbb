// Command gencomments writes the doc comments of plan's types and fields to a JSON file, which the
// schema package embeds so that `hugai schema` gives editors descriptions without the source at
// hand. Run by `go generate ./internal/schema`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/hugai-dev/hugai/internal/schema"
)

func main() {
	root := flag.String("root", "../..", "the module root")
	out := flag.String("out", "comments.json", "the file to write")
	flag.Parse()
	if err := run(*root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencomments:", err)
		os.Exit(1)
	}
}

func run(root, out string) error {
	m, err := schema.ExtractComments(root)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
