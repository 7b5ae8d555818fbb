package server

import (
	"context"
	"net"
	"net/http"
	"os/user"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hugai-dev/hugai/internal/policy"
)

// peerKey keys the peer's uid in a connection's context.
type peerKey struct{}

// ConnContext records the OS user of a unix-socket peer (SO_PEERCRED) in the connection's context;
// every request on that connection then knows who sent it. Set it as http.Server.ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, cred.Uid)
}

// Actor names who sent a request: the peer's user name, "uid:N" when the uid has no name, and
// "unknown" for a connection that carries no credentials (not a unix socket).
func Actor(ctx context.Context) string {
	if who, ok := identityOf(ctx); ok && who.Name != "" {
		return who.Name
	}
	uid, ok := ctx.Value(peerKey{}).(uint32)
	if !ok {
		return "unknown"
	}
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + id
}

// Who is the identity of a request as the policy judges it: the one the guard authenticated, else
// on the unix socket the peer's OS
// user, with the OS groups it belongs to (so `group:ops` in a policy names them), authenticated
// via "unix" from "uid:N". A connection without credentials has an identity with no name, which
// no principal matches.
func Who(ctx context.Context) policy.Identity {
	if who, ok := identityOf(ctx); ok {
		return who // authenticated by the guard: a token, or the peer completed by --users
	}
	uid, ok := ctx.Value(peerKey{}).(uint32)
	if !ok {
		return policy.Identity{}
	}
	id := strconv.FormatUint(uint64(uid), 10)
	who := policy.Identity{Name: "uid:" + id, Via: policy.ViaUnix, From: "uid:" + id}
	u, err := user.LookupId(id)
	if err != nil || u.Username == "" {
		return who
	}
	who.Name = u.Username
	gids, err := u.GroupIds()
	if err != nil {
		return who
	}
	for _, gid := range gids {
		if g, err := user.LookupGroupId(gid); err == nil {
			who.Groups = append(who.Groups, g.Name)
		}
	}
	return who
}

// HTTPServer wraps h in an http.Server that records peers' identities. Long polls set their own
// deadline, so there is no write timeout; the header timeout stops idle half-open peers.
// A handler from New ends its long polls when the server shuts down.
func HTTPServer(h http.Handler) *http.Server {
	hs := &http.Server{
		Handler:           h,
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
	}
	if api, ok := h.(interface{ endWaits() }); ok { // the API, or the guard in front of it
		hs.RegisterOnShutdown(api.endWaits)
	}
	return hs
}
