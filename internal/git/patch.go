package git

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// AddedLine is one line a commit added.
type AddedLine struct {
	Commit string
	Path   string
	Line   int // 1-based, in the file as the commit left it
	Text   string
}

// maxAddedLine bounds the text kept of one added line: a minified bundle's megabyte lines are
// read through, not kept.
const maxAddedLine = 8 << 10

// AddedLines streams every line each non-merge commit of from..to ("" from: from the root, ""
// to: HEAD) adds, limited to paths when given, to fn, newest commit first. It runs one
// `git log -p -U0` and parses it while git writes it; fn's error stops it.
func AddedLines(ctx context.Context, dir, from, to string, paths []string, fn func(AddedLine) error) error {
	toHash, err := ResolveRef(ctx, dir, to)
	if err != nil {
		return err
	}
	rng := toHash
	if from != "" {
		fromHash, err := ResolveRef(ctx, dir, from)
		if err != nil {
			return err
		}
		rng = fromHash + ".." + toHash
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	args := append([]string{"log", "-p", "-U0", "--no-merges", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
		"--format=%x01%H", rng, "--"}, paths...)
	cmd := command(ctx, dir, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git log -p: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{buf: &stderr, max: 8 << 10}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start git log -p: %w", err)
	}
	perr := parsePatches(bufio.NewReaderSize(stdout, 64<<10), fn)
	if perr != nil {
		cancel()
	}
	werr := cmd.Wait()
	if perr != nil {
		return perr
	}
	if werr != nil {
		return classify(dir, args, werr, stderr.String())
	}
	return nil
}

// parsePatches reads `git log -p -U0 --format=%x01%H`: a commit line, then per file a diff
// header and hunks whose "@@ -a,b +c,d @@" counts say which of the following lines are the hunk's
// (so an added line that starts with "+++" is never read as a header).
func parsePatches(r *bufio.Reader, fn func(AddedLine) error) error {
	var (
		commit, path     string
		line             int
		oldLeft, newLeft int
		long             []byte
	)
	for {
		b, err := readLine(r, &long)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if oldLeft > 0 || newLeft > 0 {
			switch {
			case len(b) > 0 && b[0] == '+':
				if path != "" {
					if err := fn(AddedLine{Commit: commit, Path: path, Line: line, Text: string(b[1:])}); err != nil {
						return err
					}
				}
				line++
				newLeft--
			case len(b) > 0 && b[0] == '-':
				oldLeft--
			case len(b) > 0 && b[0] == '\\': // "\ No newline at end of file"
			default:
				return fmt.Errorf("commit %s %s: unexpected line in a hunk: %.80q", commit, path, b)
			}
			continue
		}
		switch {
		case len(b) > 0 && b[0] == 1:
			commit, path = string(b[1:]), ""
		case bytes.HasPrefix(b, []byte("diff --git ")):
			path = ""
		case bytes.HasPrefix(b, []byte("+++ ")):
			path = patchPath(string(b[4:]))
		case bytes.HasPrefix(b, []byte("@@ ")):
			var err error
			if oldLeft, newLeft, line, err = hunkHeader(string(b)); err != nil {
				return fmt.Errorf("commit %s %s: %w", commit, path, err)
			}
		}
	}
}

// readLine returns the next line without its newline; a line longer than maxAddedLine is cut.
func readLine(r *bufio.Reader, long *[]byte) ([]byte, error) {
	b, isPrefix, err := r.ReadLine()
	if err != nil || !isPrefix {
		return b, err
	}
	*long = append((*long)[:0], b...)
	for isPrefix {
		b, isPrefix, err = r.ReadLine()
		if err != nil {
			return nil, err
		}
		if len(*long) < maxAddedLine {
			*long = append(*long, b...)
		}
	}
	return *long, nil
}

// patchPath reads the path of "+++ b/path" ("" for /dev/null), unquoting git's C-style quotes.
func patchPath(s string) string {
	s = strings.TrimSuffix(s, "\t") // git ends a name that holds a space with a tab
	if s == "/dev/null" {
		return ""
	}
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
	}
	return strings.TrimPrefix(s, "b/")
}

// hunkHeader reads "@@ -a[,b] +c[,d] @@…": the old and new line counts and the first new line.
func hunkHeader(s string) (oldN, newN, start int, err error) {
	f := strings.Fields(s)
	if len(f) < 3 || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q", s)
	}
	_, oldN, err = rangeOf(f[1][1:])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("hunk header %q: %w", s, err)
	}
	start, newN, err = rangeOf(f[2][1:])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("hunk header %q: %w", s, err)
	}
	return oldN, newN, start, nil
}

func rangeOf(s string) (start, n int, err error) {
	a, b, ok := strings.Cut(s, ",")
	if start, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	n = 1
	if ok {
		if n, err = strconv.Atoi(b); err != nil {
			return 0, 0, err
		}
	}
	if start < 0 || n < 0 {
		return 0, 0, fmt.Errorf("negative range %q", s)
	}
	return start, n, nil
}
