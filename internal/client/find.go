package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names inside a data dir, as internal/server writes them.
const (
	dataDirName    = ".hugai"
	socketName     = "hugai.sock"
	socketPathFile = "socket"
)

// Find locates the server as git finds its repository: the --server flag, else $HUGAI_SERVER
// (either a socket path or a data dir), else the nearest .hugai/ walking up from the working
// directory.
//
// A URL (https://host:port) is a server over TCP: HUGAI_TOKEN is then its bearer token, and
// HUGAI_CA_FILE or HUGAI_SERVER_FINGERPRINT how to trust its certificate. On the socket a token
// is sent too when HUGAI_TOKEN is set.
func Find(serverFlag string) (*Client, error) {
	v := serverFlag
	if v == "" {
		v = os.Getenv("HUGAI_SERVER")
	}
	if IsURL(v) {
		return NewTCP(v, TCPOptions{Token: os.Getenv("HUGAI_TOKEN"), CAFile: os.Getenv("HUGAI_CA_FILE"), Fingerprint: os.Getenv("HUGAI_SERVER_FINGERPRINT")})
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find hugai server: %w", err)
	}
	p, err := FindSocket(serverFlag, os.Getenv("HUGAI_SERVER"), wd)
	if err != nil {
		return nil, err
	}
	c := New(p)
	c.token = os.Getenv("HUGAI_TOKEN")
	return c, nil
}

// FindSocket is Find's search with its inputs passed in, so tests need not change the process's
// environment or working directory. It returns the socket's path.
func FindSocket(flagValue, envValue, wd string) (string, error) {
	for _, v := range []string{flagValue, envValue} {
		if v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(wd, v)
		}
		if fi, err := os.Stat(v); err == nil && fi.IsDir() {
			return socketIn(v)
		}
		return filepath.Clean(v), nil
	}
	for dir := wd; ; {
		p := filepath.Join(dir, dataDirName)
		fi, err := os.Stat(p)
		if err == nil && fi.IsDir() {
			return socketIn(p)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find hugai server: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no hugai server found (looked for %s/ from %s up): start one with 'hugai server -f hugai.yaml'", dataDirName, wd)
		}
		dir = parent
	}
}

// socketIn is the socket of a data dir: the path recorded in it when the socket had to live
// elsewhere, else hugai.sock inside it.
func socketIn(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, socketPathFile))
	switch {
	case err == nil:
		if p := strings.TrimSpace(string(b)); p != "" {
			return p, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("find hugai server: %w", err)
	}
	return filepath.Join(dataDir, socketName), nil
}
