// Package git reads what a release changes from a git repository, by running
// the git binary: git itself is the floor for speed, and its rename detection
// is the reference. It is an adapter: internal/change holds the types.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrNotRepo is matched (errors.Is) by every error about a directory that is
// not inside a git work tree.
var ErrNotRepo = errors.New("not a git repository")

// ErrNoTag is returned by LastTag when no tag is reachable from the ref.
var ErrNoTag = errors.New("no tag reachable")

// NotRepoError says a directory is not inside a git repository.
type NotRepoError struct{ Dir string }

func (e *NotRepoError) Error() string { return fmt.Sprintf("%s is not a git repository", e.Dir) }

// Is makes errors.Is(err, ErrNotRepo) hold.
func (e *NotRepoError) Is(target error) bool { return target == ErrNotRepo }

// UnknownRefError says a ref names no commit of the repository.
type UnknownRefError struct{ Ref string }

func (e *UnknownRefError) Error() string { return fmt.Sprintf("unknown revision %q", e.Ref) }

// IsRepo reports whether dir is inside a git work tree (or is a bare repository).
func IsRepo(ctx context.Context, dir string) bool {
	_, err := run(ctx, dir, "rev-parse", "--git-dir")
	return err == nil
}

// ResolveRef returns the full hash of the commit a ref names ("" means HEAD).
func ResolveRef(ctx context.Context, dir, ref string) (string, error) {
	name := ref
	if name == "" {
		name = "HEAD"
	}
	if strings.HasPrefix(name, "-") {
		// Never let a ref be read as an option.
		return "", &UnknownRefError{Ref: ref}
	}
	out, err := run(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", name+"^{commit}")
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.code == 1 {
			return "", &UnknownRefError{Ref: name}
		}
		return "", fmt.Errorf("resolve %q: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// LastTag returns the nearest tag reachable from ref ("" means HEAD), as
// `git describe --tags --abbrev=0` finds it. With no tag it returns ErrNoTag.
func LastTag(ctx context.Context, dir, ref string) (string, error) {
	hash, err := ResolveRef(ctx, dir, ref)
	if err != nil {
		return "", err
	}
	out, err := run(ctx, dir, "describe", "--tags", "--abbrev=0", hash)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && (strings.Contains(ee.stderr, "No names found") ||
			strings.Contains(ee.stderr, "No tags can describe") || strings.Contains(ee.stderr, "cannot describe")) {
			return "", fmt.Errorf("describe %q: %w", refName(ref), ErrNoTag)
		}
		return "", fmt.Errorf("describe %q: %w", refName(ref), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func refName(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return ref
}

// exitError is git exiting non-zero, with what it said.
type exitError struct {
	args   []string
	code   int
	stderr string
}

func (e *exitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.code)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), msg)
}

// command builds a git command in dir whose output does not depend on the
// user's configuration where that would break parsing.
func command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	full := append([]string{"-C", dir, "-c", "core.quotepath=off", "-c", "log.showSignature=false", "-c", "diff.relative=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat")
	return cmd
}

// run runs a short git command and returns its standard output.
func run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := command(ctx, dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, classify(dir, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// classify turns a failed git run into a typed error where one applies.
func classify(dir string, args []string, err error, stderr string) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("run git %s: %w", args[0], err)
	}
	if strings.Contains(stderr, "not a git repository") || strings.Contains(stderr, "cannot change to") {
		return &NotRepoError{Dir: dir}
	}
	return &exitError{args: args, code: ee.ExitCode(), stderr: stderr}
}
