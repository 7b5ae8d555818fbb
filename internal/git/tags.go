package git

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// TagsMerged lists the tags matching pattern (a git glob, e.g. "api/v*") whose commits are
// reachable from ref ("" means HEAD): the releases a new one follows.
func TagsMerged(ctx context.Context, dir, ref, pattern string) ([]string, error) {
	hash, err := ResolveRef(ctx, dir, ref)
	if err != nil {
		return nil, err
	}
	out, err := run(ctx, dir, "tag", "--list", "--merged", hash, "--", pattern)
	if err != nil {
		return nil, fmt.Errorf("list tags %s: %w", pattern, err)
	}
	return strings.Fields(string(out)), nil
}

// TopLevel returns the root of the work tree dir is in.
func TopLevel(ctx context.Context, dir string) (string, error) {
	out, err := run(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// RemoteURL returns the URL of a remote, or "" when the repository has no such remote.
func RemoteURL(ctx context.Context, dir, name string) (string, error) {
	out, err := run(ctx, dir, "remote", "get-url", "--", name)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.code == 2 || errors.As(err, &ee) && strings.Contains(ee.stderr, "No such remote") {
			return "", nil
		}
		return "", fmt.Errorf("remote %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CreateTag makes an annotated tag at ref with message; it fails if the tag exists.
func CreateTag(ctx context.Context, dir, name, ref, message string) error {
	hash, err := ResolveRef(ctx, dir, ref)
	if err != nil {
		return err
	}
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("tag %q: a name may not start with '-'", name)
	}
	cmd := command(ctx, dir, "tag", "-a", "-F", "-", name, hash)
	cmd.Stdin = strings.NewReader(message)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tag %s: %w", name, classify(dir, []string{"tag"}, err, stderr.String()))
	}
	return nil
}
