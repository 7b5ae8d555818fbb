package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/invopop/jsonschema"
)

// The descriptions in the schemas are plan's doc comments, as invopop extracts them. The binary has no source, so they are extracted at
// generate time into comments.json and embedded; a test fails when comments.json is stale.
// The go:generate lines in schema.go run gencomments first, then regenerate schemas/ with the
// new comments.

//go:embed comments.json
var commentsJSON []byte

// planPath is the package whose types the schemas describe, as a module path and a directory
// relative to the module root.
const (
	modulePath = "github.com/hugai-dev/hugai"
	planDir    = "internal/plan"
)

// ExtractComments reads the doc comments of plan's types and fields from the source under the
// module root, keyed as invopop's Reflector.CommentMap wants them.
func ExtractComments(root string) (map[string]string, error) {
	dir := filepath.Join(root, filepath.FromSlash(planDir))
	r := &jsonschema.Reflector{}
	// The whole comment, not invopop's default first sentence of a type's: go/doc's synopsis cuts
	// at "e.g. ", which plan's comments use.
	if err := r.AddGoComments(modulePath, dir, jsonschema.WithFullComment()); err != nil {
		return nil, fmt.Errorf("extract comments from %s: %w", dir, err)
	}
	// invopop names a package by joining the module path with the directory it walked (it assumes
	// the module root is the current directory); name plan by its import path instead, without
	// changing the process's directory.
	walked := path.Join(modulePath, filepath.ToSlash(dir)) + "."
	out := make(map[string]string, len(r.CommentMap))
	for k, v := range r.CommentMap {
		v = dropMarkers(v)
		if rest, ok := strings.CutPrefix(k, walked); ok && v != "" {
			// A comment's line breaks are the source's wrapping, not the reader's.
			out[modulePath+"/"+planDir+"."+rest] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out, nil
}

// dropMarkers removes the comment lines that are controller-gen markers (`+kubebuilder:…`, which
// shape the CRDs made from the same types): they are for the generator, not for the reader.
func dropMarkers(comment string) string {
	lines := strings.Split(comment, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "+") {
			kept = append(kept, l)
		}
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

// comments returns the embedded comment map.
func comments() (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(commentsJSON, &m); err != nil {
		return nil, fmt.Errorf("embedded comments.json: %w", err)
	}
	return m, nil
}
