package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/policy"
)

// ShareSocket lets the members of OS group reach the server: the socket becomes group's, mode
// 0660, and the data dir it lives in group-traversable (0710, not readable: the store and keys
// stay the owner's). Who they are then is their own OS user, judged by each environment's policy.
func ShareSocket(dataDir, socket, group string) error {
	g, err := user.LookupGroup(group)
	if err != nil {
		return fmt.Errorf("--socket-group %s: %w", group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("--socket-group %s: gid %q: %w", group, g.Gid, err)
	}
	share := func(path string, mode os.FileMode) error {
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("--socket-group %s: %w (is this user a member of it?)", group, err)
		}
		return os.Chmod(path, mode)
	}
	if err := share(socket, 0o660); err != nil {
		return err
	}
	dataDir, err = filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if filepath.Dir(socket) == dataDir {
		return share(dataDir, 0o710)
	}
	// The socket lives elsewhere (a long data dir path): its recorded path must be readable.
	if err := share(dataDir, 0o710); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dataDir, SocketPathFile), 0o640); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Chown(filepath.Join(dataDir, SocketPathFile), -1, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// UnixUser is how a unix peer's OS user is known to the policies (`hugai server --users FILE`):
// under another name (an e-mail address, say), with an e-mail, and in more groups than the OS's.
type UnixUser struct {
	Name   string   `json:"name,omitempty"`
	Email  string   `json:"email,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// ParseUsers reads a users file: a map from OS user name to UnixUser.
//
//	alice: {email: alice@company.com, groups: [production-team@company.com]}
//	root:  {name: ops-root}
func ParseUsers(data []byte) (map[string]UnixUser, error) {
	var m map[string]UnixUser
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	for os, u := range m {
		if strings.TrimSpace(os) == "" {
			return nil, errors.New("users file: an entry has no OS user name")
		}
		if u.Name != "" && policy.ValidPrincipal(u.Name) != "" {
			return nil, fmt.Errorf("users file: %s: name %q %s", os, u.Name, policy.ValidPrincipal(u.Name))
		}
		if strings.ContainsAny(u.Name, ":*") {
			return nil, fmt.Errorf("users file: %s: name %q: a name has no prefix and is not *", os, u.Name)
		}
	}
	return m, nil
}

// MapUsers completes a unix peer's identity from the users file; a user not in it is as the OS
// knows them.
func MapUsers(m map[string]UnixUser) func(policy.Identity) policy.Identity {
	return func(id policy.Identity) policy.Identity {
		u, ok := m[id.Name]
		if !ok {
			return id
		}
		if u.Name != "" {
			id.Name = u.Name
		}
		if u.Email != "" {
			id.Email = u.Email
		}
		id.Groups = append(append([]string(nil), id.Groups...), u.Groups...)
		return id
	}
}
