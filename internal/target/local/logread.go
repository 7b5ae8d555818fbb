package local

import (
	"bytes"
	"context"
	"encoding/json"
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

// ServiceLogs is what a target's data dir holds of one service's logs. It is read from the files
// alone, so `hugai logs` works with no server running.
type ServiceLogs struct {
	Dir string // logs/<service>
	// Current is the version serving users: the routing's stable version, else the one with the
	// most traffic; "" when nothing is routed.
	Current string
	// Replicas lists, per version with logs, the replica indexes that have one.
	Replicas map[string][]int
	// Runs names the one-shot commands with a log (Target.Run's name: smoke-test, …), sorted.
	Runs []string
}

// ReadServiceLogs lists the logs of service in the local target's data dir dir.
func ReadServiceLogs(dir, service string) (ServiceLogs, error) {
	sl := ServiceLogs{Dir: filepath.Join(dir, "logs", service), Replicas: map[string][]int{}}
	ents, err := os.ReadDir(sl.Dir)
	if err != nil {
		return sl, fmt.Errorf("read logs of %s: %w", service, err)
	}
	for _, e := range ents {
		v, i, ok := parseLogName(e.Name())
		if ok && !slices.Contains(sl.Replicas[v], i) {
			sl.Replicas[v] = append(sl.Replicas[v], i)
		}
		if name, ok := strings.CutPrefix(e.Name(), "run-"); ok && strings.HasSuffix(name, ".log") {
			sl.Runs = append(sl.Runs, strings.TrimSuffix(name, ".log"))
		}
	}
	slices.Sort(sl.Runs)
	for v := range sl.Replicas {
		slices.Sort(sl.Replicas[v])
	}
	var st state
	b, err := os.ReadFile(filepath.Join(dir, "run", service, "state.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return sl, fmt.Errorf("read state of %s: %w", service, err)
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return sl, fmt.Errorf("decode state of %s: %w", service, err)
		}
	}
	sl.Current = st.Routing.Stable
	if sl.Current == "" {
		best := 0
		for v, w := range st.Routing.Weights {
			if w > best || w == best && w > 0 && v < sl.Current {
				sl.Current, best = v, w
			}
		}
	}
	return sl, nil
}

// Versions lists the versions with logs, sorted.
func (sl ServiceLogs) Versions() []string {
	vs := make([]string, 0, len(sl.Replicas))
	for v := range sl.Replicas {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// LogSource is one process's log: Path and its rotated copies Path.1, Path.2, …
type LogSource struct {
	Name string // how a line is prefixed when several sources are shown
	Path string
}

// VersionLogs are the logs of a version's replicas, in replica order.
func (sl ServiceLogs) VersionLogs(version string) []LogSource {
	var out []LogSource
	for _, i := range sl.Replicas[version] {
		out = append(out, LogSource{
			Name: version + "/" + strconv.Itoa(i),
			Path: filepath.Join(sl.Dir, fmt.Sprintf("%s-%d.log", version, i)),
		})
	}
	return out
}

// RunLog is the log of the one-shot command name (Target.Run).
func (sl ServiceLogs) RunLog(name string) LogSource {
	return LogSource{Name: name, Path: filepath.Join(sl.Dir, "run-"+name+".log")}
}

// ProxyLog is the log of the service's proxy.
func (sl ServiceLogs) ProxyLog() LogSource {
	return LogSource{Name: "proxy", Path: filepath.Join(sl.Dir, "proxy.log")}
}

// CopyLogs writes the logs of sources to w, each one whole (its rotated copies oldest first, then
// the live file), every line prefixed with "[name] " when prefix is set. With follow it then
// writes what is appended, until ctx ends: list is called again every second so that replicas
// started meanwhile are followed too, and a log rotated under it is read on from the copy, so no
// line is lost or shown twice.
func CopyLogs(ctx context.Context, w io.Writer, list func() []LogSource, prefix, follow bool) error {
	tails := map[string]*logTail{}
	var order []string
	add := func() error {
		for _, s := range list() {
			if tails[s.Path] != nil {
				continue
			}
			lt := &logTail{src: s, w: w, prefix: prefix}
			tails[s.Path] = lt
			order = append(order, s.Path)
			if err := lt.whole(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(); err != nil {
		return err
	}
	if !follow {
		for _, p := range order {
			if err := tails[p].flush(); err != nil {
				return err
			}
		}
		return nil
	}
	const poll = 200 * time.Millisecond
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if n%int(time.Second/poll) == 0 {
			if err := add(); err != nil {
				return err
			}
		}
		for _, p := range order {
			if err := tails[p].more(); err != nil {
				return err
			}
		}
	}
}

// logTail is how far one log has been written out.
type logTail struct {
	src     LogSource
	w       io.Writer
	prefix  bool
	offset  int64  // in the live file
	partial []byte // a last line with no newline yet
	copy1   copyID // the newest rotated copy when last looked at
}

// copyID tells one rotated copy from the next: a rotation writes a new one.
type copyID struct {
	size int64
	mod  time.Time
}

func statCopy(path string) copyID {
	fi, err := os.Stat(path)
	if err != nil {
		return copyID{}
	}
	return copyID{fi.Size(), fi.ModTime()}
}

// whole writes the rotated copies, oldest first, then the live file.
func (lt *logTail) whole() error {
	n := 0
	for {
		if _, err := os.Stat(rotated(lt.src.Path, n+1)); err != nil {
			break
		}
		n++
	}
	for i := n; i >= 1; i-- {
		if _, err := lt.copyFrom(rotated(lt.src.Path, i), 0); err != nil {
			return err
		}
	}
	var err error
	lt.copy1 = statCopy(rotated(lt.src.Path, 1))
	lt.offset, err = lt.copyFrom(lt.src.Path, 0)
	return err
}

// more writes what was appended since the last call. A live file shorter than what was read, or a
// new newest copy, means it was rotated: the rest of what was read is in that copy.
func (lt *logTail) more() error {
	fi, err := os.Stat(lt.src.Path)
	if err != nil {
		return nil // not there (yet, or any more): nothing to show
	}
	// A new copy with a live file at least as long is a rotation caught between its copy and its
	// truncate: the live file is still whole, and the truncate shows next time.
	if c := statCopy(rotated(lt.src.Path, 1)); fi.Size() < lt.offset || c != lt.copy1 && fi.Size() < c.size {
		lt.copy1 = c
		if _, err := lt.copyFrom(rotated(lt.src.Path, 1), lt.offset); err != nil {
			return err
		}
		lt.offset = 0
	}
	end, err := lt.copyFrom(lt.src.Path, lt.offset)
	if err != nil {
		return err
	}
	lt.offset = end
	return nil
}

// copyFrom writes the complete lines of path from offset on and returns the offset it reached. A
// file that is missing, or shorter than offset, writes nothing.
func (lt *logTail) copyFrom(path string, offset int64) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			offset += int64(n)
			if werr := lt.lines(buf[:n]); werr != nil {
				return offset, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return offset, nil
		}
		if err != nil {
			return offset, err
		}
	}
}

// lines writes every complete line of partial+b and keeps the rest.
func (lt *logTail) lines(b []byte) error {
	lt.partial = append(lt.partial, b...)
	for {
		i := bytes.IndexByte(lt.partial, '\n')
		if i < 0 {
			return nil
		}
		if err := lt.emit(lt.partial[:i+1]); err != nil {
			return err
		}
		lt.partial = lt.partial[i+1:]
	}
}

// flush writes a last line that has no newline.
func (lt *logTail) flush() error {
	if len(lt.partial) == 0 {
		return nil
	}
	line := append(lt.partial, '\n')
	lt.partial = nil
	return lt.emit(line)
}

func (lt *logTail) emit(line []byte) error {
	if lt.prefix {
		if _, err := fmt.Fprintf(lt.w, "[%s] ", lt.src.Name); err != nil {
			return err
		}
	}
	_, err := lt.w.Write(line)
	return err
}
