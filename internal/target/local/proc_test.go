package local

import (
	"os"
	"testing"
)

// TestAdoptable: a pid file names a process only with the same start time and command line, so a
// recycled pid is never adopted.
func TestAdoptable(t *testing.T) {
	pid := os.Getpid()
	st, err := readProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := readCmdline(pid)
	if err != nil {
		t.Fatal(err)
	}
	other := append(append([]string(nil), cl...), "--extra")
	cases := []struct {
		name string
		pf   pidFile
		want bool
	}{
		{"same process", pidFile{PID: pid, StartTime: st.startTime, Argv: cl}, true},
		{"seen command line", pidFile{PID: pid, StartTime: st.startTime, Argv: other, Cmdline: cl}, true},
		{"recycled pid", pidFile{PID: pid, StartTime: st.startTime + 1, Argv: cl}, false},
		{"other command", pidFile{PID: pid, StartTime: st.startTime, Argv: other}, false},
		{"no pid", pidFile{StartTime: st.startTime, Argv: cl}, false},
	}
	for _, c := range cases {
		if got := adoptable(c.pf); got != c.want {
			t.Errorf("%s: adoptable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReadProcStatNameWithParens(t *testing.T) {
	// The parse skips past the last ')' so a command name like "a) b" cannot shift the fields;
	// our own process must parse with a start time and a running state.
	st, err := readProcStat(os.Getpid())
	if err != nil || st.startTime == 0 || st.state == 'Z' {
		t.Fatalf("readProcStat(self) = %+v, %v", st, err)
	}
	if rssBytes(os.Getpid()) <= 0 {
		t.Fatal("rss of this process is zero")
	}
}
