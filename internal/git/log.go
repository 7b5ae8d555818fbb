package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
)

// commitMark starts every commit record. Git's -z output separates fields
// and paths with NUL; a byte that no hash, name or numstat line starts with
// tells a commit header apart from a file entry.
const commitMark = '\x01'

// logFormat prints hash, author, email, author time and subject, NUL-separated;
// messageFormat adds the parents and the body.
const (
	logFormat     = "--format=%x01%H%x00%an%x00%ae%x00%at%x00%s"
	messageFormat = logFormat + "%x00%P%x00%b"
)

// Query selects what Log reads.
type Query struct {
	From, To string   // as for Changes
	Paths    []string // only commits and files under these paths (git's pathspecs); none: all
	Messages bool     // also read each commit's parents and body (release notes need them)
}

// Changes returns the change between two refs of the repository in dir:
// the commits reachable from `to` and not from `from` ("" from: from the root,
// "" to: HEAD), newest first as git lists them, and each file aggregated across
// those commits, classified and sorted by path. A file renamed and then edited
// is one File whose OldPath is its name at `from`.
//
// It runs one `git log --numstat -M -z` and parses it while git writes it.
func Changes(ctx context.Context, dir, from, to string) (*change.Set, error) {
	return Log(ctx, dir, Query{From: from, To: to})
}

// Log is Changes with a choice of paths and of reading whole messages, still in one `git log`.
func Log(ctx context.Context, dir string, q Query) (*change.Set, error) {
	from, to := q.From, q.To
	set := &change.Set{From: from, To: to}
	var err error
	if set.ToHash, err = ResolveRef(ctx, dir, to); err != nil {
		return nil, fmt.Errorf("changes %s..%s: %w", from, refName(to), err)
	}
	rng := set.ToHash
	if from != "" {
		if set.FromHash, err = ResolveRef(ctx, dir, from); err != nil {
			return nil, fmt.Errorf("changes %s..%s: %w", from, refName(to), err)
		}
		rng = set.FromHash + ".." + set.ToHash
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// --topo-order: renames are folded assuming every commit comes before its
	// parents, which date order does not promise when clocks were skewed.
	format := logFormat
	if q.Messages {
		format = messageFormat
	}
	args := []string{"log", "--numstat", "-M", "-z", "--topo-order", "--no-color", "--no-ext-diff", "--no-textconv", format, rng, "--"}
	args = append(args, q.Paths...)
	cmd := command(ctx, dir, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git log: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{buf: &stderr, max: 8 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git log: %w", err)
	}
	perr := parseLogOf(bufio.NewReaderSize(stdout, 64<<10), set, q.Messages)
	if perr != nil {
		cancel() // stop git; its exit status no longer matters
	}
	werr := cmd.Wait()
	if perr != nil {
		return nil, fmt.Errorf("read git log %s: %w", rng, perr)
	}
	if werr != nil {
		return nil, classify(dir, args, werr, stderr.String())
	}
	set.Classify()
	return set, nil
}

// parseLog reads the -z output of logFormat plus --numstat into set.
func parseLog(r *bufio.Reader, set *change.Set) error { return parseLogOf(r, set, false) }

// parseLogOf reads logFormat, or messageFormat when messages is set.
func parseLogOf(r *bufio.Reader, set *change.Set, messages bool) error {
	p := &logParser{r: r, set: set, byName: make(map[string]int), names: make(map[string]string), messages: messages}
	if err := p.run(); err != nil {
		return err
	}
	set.Files = mergeSamePath(set.Files)
	return nil
}

// mergeSamePath folds entries that ended with the same path: a name reused
// by an older, since deleted file before another file was renamed onto it.
// The range changed that path once, so it is one File.
func mergeSamePath(files []change.File) []change.File {
	at := make(map[string]int, len(files))
	out := files[:0]
	for _, f := range files {
		i, dup := at[f.Path]
		if !dup {
			at[f.Path] = len(out)
			out = append(out, f)
			continue
		}
		g := &out[i] // the newer entry: its OldPath stands
		g.Added += f.Added
		g.Deleted += f.Deleted
		g.Binary = g.Binary || f.Binary
		g.Commits += f.Commits
	}
	return out
}

type logParser struct {
	r        *bufio.Reader
	set      *change.Set
	byName   map[string]int    // path as of the commit being read -> index in set.Files
	names    map[string]string // interned paths: many commits touch the same file
	long     []byte            // a token longer than the reader's buffer
	commit   int               // index of the current commit, -1 before the first
	messages bool              // records carry parents and body
}

func (p *logParser) run() error {
	p.commit = -1
	for {
		tok, err := p.token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case len(tok) > 0 && tok[0] == commitMark:
			if err := p.header(tok[1:]); err != nil {
				return err
			}
		case len(bytes.TrimLeft(tok, "\n")) == 0:
			// The separator after a commit with no files.
		default:
			if p.commit < 0 {
				return fmt.Errorf("file entry before any commit: %q", tok)
			}
			if err := p.numstat(bytes.TrimLeft(tok, "\n")); err != nil {
				return err
			}
		}
	}
}

// token returns the next NUL-terminated field, valid until the next call.
func (p *logParser) token() ([]byte, error) {
	b, err := p.r.ReadSlice(0)
	if err == nil {
		return b[:len(b)-1], nil
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		p.long = append(p.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = p.r.ReadSlice(0)
			p.long = append(p.long, b...)
		}
		if err == nil {
			return p.long[:len(p.long)-1], nil
		}
		b = p.long
	}
	if err == io.EOF && len(b) > 0 {
		return b, nil // git ends the last record without a NUL
	}
	return nil, err
}

// header reads a commit: the hash is in tok, then author, email, time, subject.
func (p *logParser) header(hash []byte) error {
	c := change.Commit{Hash: string(hash)}
	fields := [4]string{}
	for i := range fields {
		tok, err := p.token()
		if err != nil {
			return fmt.Errorf("commit %s: truncated header: %w", c.Hash, noEOF(err))
		}
		fields[i] = string(tok)
	}
	c.Author, c.Email, c.Subject = fields[0], fields[1], fields[3]
	secs, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		return fmt.Errorf("commit %s: author time %q: %w", c.Hash, fields[2], err)
	}
	c.Time = time.Unix(secs, 0).UTC()
	if p.messages {
		parents, err := p.token()
		if err != nil {
			return fmt.Errorf("commit %s: truncated header: %w", c.Hash, noEOF(err))
		}
		if len(parents) > 0 {
			c.Parents = strings.Fields(string(parents))
		}
		body, err := p.token()
		if err != nil {
			return fmt.Errorf("commit %s: truncated header: %w", c.Hash, noEOF(err))
		}
		c.Body = strings.TrimRight(string(body), "\n")
	}
	p.set.Commits = append(p.set.Commits, c)
	p.commit++
	return nil
}

// numstat reads "added\tdeleted\tpath", or for a rename "added\tdeleted\t"
// followed by the old and the new path as two more fields.
func (p *logParser) numstat(tok []byte) error {
	a, rest, ok1 := bytes.Cut(tok, []byte{'\t'})
	d, name, ok2 := bytes.Cut(rest, []byte{'\t'})
	if !ok1 || !ok2 {
		return fmt.Errorf("commit %s: malformed numstat entry %q", p.set.Commits[p.commit].Hash, tok)
	}
	binary := string(a) == "-" && string(d) == "-"
	var added, deleted int
	if !binary {
		var err error
		if added, err = strconv.Atoi(string(a)); err != nil {
			return fmt.Errorf("commit %s: added lines %q: %w", p.set.Commits[p.commit].Hash, a, err)
		}
		if deleted, err = strconv.Atoi(string(d)); err != nil {
			return fmt.Errorf("commit %s: deleted lines %q: %w", p.set.Commits[p.commit].Hash, d, err)
		}
	}
	var oldPath, newPath string
	if len(name) == 0 {
		tok, err := p.token()
		if err != nil {
			return fmt.Errorf("commit %s: truncated rename: %w", p.set.Commits[p.commit].Hash, noEOF(err))
		}
		oldPath = p.intern(tok)
		if tok, err = p.token(); err != nil {
			return fmt.Errorf("commit %s: truncated rename: %w", p.set.Commits[p.commit].Hash, noEOF(err))
		}
		newPath = p.intern(tok)
	} else {
		newPath = p.intern(name)
	}
	p.add(newPath, oldPath, added, deleted, binary)
	return nil
}

// add aggregates one entry. Commits arrive newest first, so a rename seen
// here happened before every entry already recorded under its new name: those
// belong to the same file, which was called oldPath before this commit.
func (p *logParser) add(newPath, oldPath string, added, deleted int, binary bool) {
	i, ok := p.byName[newPath]
	if !ok {
		i = len(p.set.Files)
		p.set.Files = append(p.set.Files, change.File{Path: newPath})
		p.byName[newPath] = i
	}
	f := &p.set.Files[i]
	f.Added += added
	f.Deleted += deleted
	f.Binary = f.Binary || binary
	f.Commits++
	if oldPath != "" && oldPath != newPath {
		// Before this commit newPath named nothing of ours, and oldPath named
		// this file (even if a newer commit re-created oldPath as another one).
		delete(p.byName, newPath)
		p.byName[oldPath] = i
		f.OldPath = oldPath
		if f.OldPath == f.Path {
			f.OldPath = ""
		}
	}
}

func (p *logParser) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	p.names[s] = s
	return s
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// limitedWriter keeps the first max bytes of git's standard error.
type limitedWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(b []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		if len(b) > room {
			w.buf.Write(b[:room])
		} else {
			w.buf.Write(b)
		}
	}
	return len(b), nil
}
