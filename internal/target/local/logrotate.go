package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Log rotation is copytruncate, done by the target: every Options.LogCheckEvery (and when a target starts)
// a log past its size limit is copied to <name>.1 (older copies shifted up to <name>.<files-1>, the
// oldest dropped) and then truncated in place. The processes keep the file they were given, opened
// O_APPEND, so their next write lands at the new end: nothing needs to reopen anything.
//
// Why not a pipe to a log-writer: the data plane must survive the server, so the writer would have
// to be one more process per replica that outlives it, and if that writer died the service would
// get EPIPE (or SIGPIPE) on its next write; with a file, a service's logging never depends on
// hugai. The price of copytruncate is small: lines written between the copy and the truncate are
// lost, and a log may pass its limit by what is written in one check interval, or for as long as
// no server runs (the next one rotates at start).
const (
	defaultLogMaxBytes   = 10 << 20
	defaultLogFiles      = 5
	defaultLogCheckEvery = 5 * time.Second
	// keptPastVersions is how many versions no longer running keep their logs (the newest ones),
	// so that a server shipping a release a day for months keeps a bounded number of files.
	keptPastVersions = 10
)

// rotateLog rotates path when it has reached maxBytes, keeping files files in all (path and
// path.1 … path.<files-1>). It reports whether it rotated.
func rotateLog(path string, maxBytes int64, files int) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() < maxBytes {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return false, err
	}
	files = max(files, 2)
	if err := os.Remove(rotated(path, files-1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	for i := files - 2; i >= 1; i-- {
		if err := os.Rename(rotated(path, i), rotated(path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("rotate %s: %w", path, err)
		}
	}
	if err := copyFile(path, rotated(path, 1)); err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	if err := os.Truncate(path, 0); err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	return true, nil
}

// rotated is the name of the i-th copy of a log (1: the newest).
func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }

// copyFile copies src through a temporary file, so a reader never sees half a copy under dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// rotateLogs rotates every log of the service that has reached its limit, and removes the logs of
// the oldest versions that no longer run.
func (t *Target) rotateLogs() {
	ents, err := os.ReadDir(t.logDir)
	if err != nil {
		t.opts.Logf("local target %s: logs: %v", t.opts.Service, err)
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if _, err := rotateLog(filepath.Join(t.logDir, e.Name()), t.opts.LogMaxBytes, t.opts.LogFiles); err != nil {
			t.opts.Logf("local target %s: %v", t.opts.Service, err)
		}
	}
	t.mu.Lock()
	live := map[string]bool{}
	for v := range t.revs {
		live[v] = true
	}
	for v := range t.routing.Weights {
		live[v] = true
	}
	t.mu.Unlock()
	if err := prunePastVersions(t.logDir, live, keptPastVersions); err != nil {
		t.opts.Logf("local target %s: %v", t.opts.Service, err)
	}
}

// prunePastVersions removes every log file of the versions not in live, but the keep most recently
// written ones.
func prunePastVersions(dir string, live map[string]bool, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("prune logs: %w", err)
	}
	latest := map[string]time.Time{}
	files := map[string][]string{}
	for _, e := range ents {
		v, _, ok := parseLogName(e.Name())
		if !ok || live[v] {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if fi.ModTime().After(latest[v]) {
			latest[v] = fi.ModTime()
		}
		files[v] = append(files[v], e.Name())
	}
	past := make([]string, 0, len(latest))
	for v := range latest {
		past = append(past, v)
	}
	slices.SortFunc(past, func(a, b string) int { return latest[b].Compare(latest[a]) })
	var errs []error
	for _, v := range past[min(keep, len(past)):] {
		for _, f := range files[v] {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// parseLogName reads a replica's log file name, <version>-<replica>.log or a rotated copy of it
// (.log.N). The proxy's and one-shot commands' logs are not replicas' (no numeric replica).
func parseLogName(name string) (version string, replica int, ok bool) {
	base, found := strings.CutSuffix(name, ".log")
	if !found {
		i := strings.LastIndex(name, ".log.")
		if i < 0 {
			return "", 0, false
		}
		if n, err := strconv.Atoi(name[i+len(".log."):]); err != nil || n < 1 {
			return "", 0, false
		}
		base = name[:i]
	}
	i := strings.LastIndexByte(base, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(base[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return base[:i], n, true
}
