package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names inside the data dir; internal/client reads the same two.
const (
	SocketName     = "hugai.sock" // the socket, when its path fits
	SocketPathFile = "socket"     // holds the socket's path when it lives elsewhere
)

// maxSocketPath is the longest path a unix socket may have on Linux (sun_path is 108 bytes with
// its terminating NUL).
const maxSocketPath = 107

// ListenUnix listens on the data dir's socket, mode 0600 so that only its owner (and root) can
// talk to the server. A socket path too long for sun_path moves to a short path under
// $XDG_RUNTIME_DIR or the temp dir, recorded in <dataDir>/socket for clients to find. A socket file
// left by a server that died is removed; one that answers is another server, and an error.
func ListenUnix(dataDir string) (net.Listener, string, error) {
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	path := filepath.Join(dataDir, SocketName)
	record := filepath.Join(dataDir, SocketPathFile)
	if len(path) > maxSocketPath {
		path = ShortSocketPath(dataDir)
	}
	if err := removeStale(path); err != nil {
		return nil, "", err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, "", fmt.Errorf("listen on %s: %w", path, err)
	}
	if path == filepath.Join(dataDir, SocketName) {
		// A record left from a longer data dir path would send clients to the wrong socket.
		if err := os.Remove(record); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.Close()
			return nil, "", fmt.Errorf("listen: %w", err)
		}
		return l, path, nil
	}
	if err := writeFileAtomic(record, []byte(path+"\n")); err != nil {
		l.Close()
		return nil, "", fmt.Errorf("record socket path: %w", err)
	}
	return l, path, nil
}

// ShortSocketPath is where the socket of a data dir with a long path lives: a name derived from
// the data dir, so a restarted server lands on the same path its followers retry.
func ShortSocketPath(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	name := "hugai-" + hex.EncodeToString(sum[:8]) + ".sock"
	for _, dir := range []string{os.Getenv("XDG_RUNTIME_DIR"), os.TempDir(), "/tmp"} {
		if dir == "" {
			continue
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		if p := filepath.Join(dir, name); len(p) <= maxSocketPath {
			return p
		}
	}
	return filepath.Join("/tmp", name)
}

// removeStale removes a socket file nobody answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listen on %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen on %s: a file that is not a socket is in the way", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("listen on %s: another hugai server is running there (stop it with 'hugai server stop')", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".socket-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
