package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat. It is 100 on every Linux
// architecture Go supports; reading it through sysconf would need cgo.
const clockTicks = 100

// procStat is what hugai reads of /proc/PID/stat.
type procStat struct {
	state     byte
	session   int    // session id: the pid of a process hugai started, which leads its own session
	cpuTicks  uint64 // utime + stime
	startTime uint64 // clock ticks after boot: with the pid, names one process for good
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); field N is f[N-3].
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	sid, err4 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return procStat{state: f[0][0], session: sid, cpuTicks: ut + st, startTime: start}, nil
}

func readCmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\x00"), nil
}

// rssBytes reads the resident set size from /proc/PID/statm (second field, in pages).
func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// alive reports whether the process pid that started at startTime still runs. A zombie is dead:
// after a server restart in the same process the old child may wait there to be reaped.
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	if err != nil {
		return false
	}
	return st.startTime == startTime && st.state != 'Z' && st.state != 'X'
}

// uptime is the time since boot, for the average cpu use of a process seen for the first time.
func uptime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("parse /proc/uptime: empty")
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/uptime: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// pidFile records one process hugai started, so that a later hugai finds it again. Cmdline is the
// command line last seen in /proc: a release script that execs the real binary changes it.
type pidFile struct {
	PID       int      `json:"pid"`
	Port      int      `json:"port,omitempty"`
	Argv      []string `json:"argv"`
	Cmdline   []string `json:"cmdline,omitempty"`
	Version   string   `json:"version,omitempty"`
	Replica   int      `json:"replica"`
	StartTime uint64   `json:"startTime"`
}

func readPidFile(path string) (pidFile, error) {
	var pf pidFile
	b, err := os.ReadFile(path)
	if err != nil {
		return pf, err
	}
	if err := json.Unmarshal(b, &pf); err != nil {
		return pf, fmt.Errorf("decode pid file %s: %w", path, err)
	}
	return pf, nil
}

func writePidFile(path string, pf pidFile) error {
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode pid file: %w", err)
	}
	return writeFileAtomic(path, b)
}

// writeFileAtomic writes through a temporary file and a rename, so a crash never leaves half a file.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create dir for %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// adoptable reports whether the process a pid file names is still the one hugai started: same pid,
// same start time (so a recycled pid is never taken) and the command line hugai launched or last saw.
func adoptable(pf pidFile) bool {
	if !alive(pf.PID, pf.StartTime) {
		return false
	}
	cl, err := readCmdline(pf.PID)
	if err != nil {
		return false
	}
	return equalArgv(cl, pf.Argv) || (pf.Cmdline != nil && equalArgv(cl, pf.Cmdline))
}

func equalArgv(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// terminate stops a process group: SIGTERM, then SIGKILL once grace has passed. It returns when the
// leader is gone (or a zombie waiting to be reaped).
func terminate(pid int, startTime uint64, grace time.Duration) {
	if !alive(pid, startTime) {
		return
	}
	// The process runs in its own session, so its pid is its process group id.
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid, startTime) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 250 && alive(pid, startTime); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}
