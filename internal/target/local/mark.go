package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Every process the target starts carries a marker in its environment, so that a server killed at
// any moment (between fork and pid file, or while a pid file is being removed) still finds all of
// them again by scanning /proc: a pid file is a cache, the marker is the truth. systemd gets the
// same guarantee from a unit's cgroup; an environment marker needs no privileges.
//
// The variable is not HUGAI_DATA_DIR: hugai itself reads that as the server's data dir, and the
// proxy or a service that runs hugai would be pointed at the target's directory instead.
const (
	envTargetDir = "HUGAI_TARGET_DIR" // the target's absolute data dir: whose process this is
	envRole      = "HUGAI_ROLE"       // replica, proxy or run (a one-shot command)
	envService   = "HUGAI_SERVICE"
	envVersion   = "HUGAI_VERSION"
	envReplica   = "HUGAI_REPLICA"
)

// Roles of marked processes.
const (
	roleReplica = "replica"
	roleProxy   = "proxy"
	roleRun     = "run"
)

// marker is what a process's environment says about who started it.
type marker struct {
	TargetDir string
	Role      string
	Service   string
	Version   string
	Replica   int
	Port      int // $PORT of a replica
}

// markEnv is the environment that marks a process the target starts. It goes last, so that it
// wins over a variable of the same name in the service's own environment.
func (t *Target) markEnv(role, version string, replica int) []string {
	env := []string{envTargetDir + "=" + t.opts.DataDir, envRole + "=" + role, envService + "=" + t.opts.Service}
	if version != "" {
		env = append(env, envVersion+"="+version, envReplica+"="+strconv.Itoa(replica))
	}
	return env
}

// readMarker reads the marker of process pid from /proc/PID/environ: the environment it was
// started with, which survives an exec (a release script that execs the real binary keeps it).
// ok is false when the process carries no marker or cannot be read (gone, or not ours).
func readMarker(pid int) (m marker, ok bool) {
	var b []byte
	var err error
	// A process in the middle of an exec (a release script exec'ing the real binary) shows an
	// empty environ for a moment: read again before deciding it carries no marker, or a scan at
	// that moment loses track of it (seen in CI). On a loaded machine the moment lasted more than
	// 50 ms (CI again), so the reads go on for up to a second; only session leaders are read
	// (scanMarked), and one with an empty environ that is not mid-exec is rare.
	for try := 0; try < 50; try++ {
		b, err = os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && len(b) > 0 || errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return m, false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		k, v, found := strings.Cut(string(kv), "=")
		if !found {
			continue
		}
		switch k {
		case envTargetDir:
			m.TargetDir = v
		case envRole:
			m.Role = v
		case envService:
			m.Service = v
		case envVersion:
			m.Version = v
		case envReplica:
			m.Replica, _ = strconv.Atoi(v)
		case "PORT":
			m.Port, _ = strconv.Atoi(v)
		}
	}
	return m, m.TargetDir != ""
}

// markedProc is a process found by scanning /proc that this target started.
type markedProc struct {
	pidFile
	Role string
}

// scanMarked lists the processes this target started and that still run: the session leaders whose
// marker names this target's data dir. Only session leaders count: the target starts every process
// in its own session, and the children a service forks (which inherit the marker) go with their
// leader's process group.
func (t *Target) scanMarked() ([]markedProc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan /proc: %w", err)
	}
	self := os.Getpid()
	var out []markedProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.session != pid || st.state == 'Z' || st.state == 'X' {
			continue
		}
		m, ok := readMarker(pid)
		if !ok || m.TargetDir != t.opts.DataDir || m.Service != t.opts.Service {
			continue
		}
		cl, err := readCmdline(pid)
		for try := 0; try < 50 && (err != nil && !errors.Is(err, os.ErrNotExist) || err == nil && len(cl) == 0); try++ {
			// Ours, caught in the middle of an exec: its command line shows again in a moment.
			time.Sleep(20 * time.Millisecond)
			cl, err = readCmdline(pid)
		}
		if err != nil {
			continue
		}
		p := markedProc{Role: m.Role, pidFile: pidFile{PID: pid, Argv: cl, StartTime: st.startTime}}
		if m.Role == roleReplica {
			p.Version, p.Replica, p.Port = m.Version, m.Replica, m.Port
		}
		out = append(out, p)
	}
	return out, nil
}

// markedBy reports whether process pid carries this target's marker. A process with no readable
// marker at all passes (one started by an older hugai, known by its pid file alone); one marked by
// another target, or with another role, version or slot, does not: its pid was reused.
func (t *Target) markedBy(pid int, role, version string, replica int) bool {
	m, ok := readMarker(pid)
	if !ok {
		return true
	}
	if m.TargetDir != t.opts.DataDir || m.Service != t.opts.Service || m.Role != role {
		return false
	}
	return role != roleReplica || m.Version == version && m.Replica == replica
}
