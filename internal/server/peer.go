package server

import (
	"context"
	"net"
	"net/http"
	"os/user"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
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

// HTTPServer wraps h in an http.Server that records peers' identities. Long polls set their own
// deadline, so there is no write timeout; the header timeout stops idle half-open peers.
// A handler from New ends its long polls when the server shuts down.
func HTTPServer(h http.Handler) *http.Server {
	hs := &http.Server{
		Handler:           h,
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
	}
	if api, ok := h.(*handler); ok {
		hs.RegisterOnShutdown(api.endWaits)
	}
	return hs
}
