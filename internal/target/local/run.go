package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runOutputTail is how much of a command's output Run returns (for the audit log).
const runOutputTail = 2000

// Run runs a one-shot command of the service (its smoke test, a database step) the way the target
// runs its replicas: in its own session, marked as this target's, its output appended to
// logs/<service>/run-<name>.log (rotated like the others). So a server killed while it runs
// leaves no process behind that the next server does not find (and stop), and the output stays
// readable. It returns whether the command exited 0 within timeout, and the tail of its output.
func (t *Target) Run(ctx context.Context, name string, argv []string, dir string, env []string, timeout time.Duration) (bool, string) {
	if len(argv) == 0 {
		return false, "no command"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	logPath := filepath.Join(t.logDir, "run-"+name+".log")
	start := int64(0)
	if fi, err := os.Stat(logPath); err == nil {
		start = fi.Size()
	}
	header := fmt.Sprintf("--- %s %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	if err := appendFile(logPath, header); err != nil {
		return false, err.Error()
	}
	start += int64(len(header))
	env = append(append(os.Environ(), env...), t.markEnv(roleRun, "", 0)...)
	pf, cmd, err := t.startCmd(argv, dir, env, logPath)
	if err != nil {
		return false, err.Error()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-ctx.Done():
		// The whole process group: a smoke test's own children go with it.
		_ = syscall.Kill(-pf.PID, syscall.SIGKILL)
		<-exited
		err = ctx.Err()
	}
	out := strings.TrimSpace(readFrom(logPath, start))
	if len(out) > runOutputTail {
		out = "…" + out[len(out)-runOutputTail:]
	}
	if err != nil {
		return false, strings.TrimSpace(fmt.Sprintf("%s: %v\n%s", strings.Join(argv, " "), err, out))
	}
	return true, out
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("write log: %w", err)
	}
	return f.Close()
}

// readFrom reads path from offset on; a file rotated meanwhile (shorter than offset) is read whole.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < offset {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
