package server_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/hugai-dev/hugai/internal/server"
)

// --socket-group: the socket becomes the group's, 0660, and the data dir only traversable by it.
func TestShareSocket(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(t.TempDir(), "d")
	ln, sock, err := server.ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := server.ShareSocket(dir, sock, g.Name); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{sock: 0o660, dir: 0o710} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && strconv.Itoa(int(st.Gid)) != g.Gid {
			t.Errorf("%s: gid %d, want %s", path, st.Gid, g.Gid)
		}
	}
	if err := server.ShareSocket(dir, sock, "no-such-group-hugai"); err == nil {
		t.Error("an unknown group was accepted")
	}
}
