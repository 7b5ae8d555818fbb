package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"
)

// transports holds one net/http Transport per upstream protocol, for the requests the lean
// HTTP/1.1 client does not take: bodies, HTTP/2 clients (gRPC) and backends that speak HTTP/2.
type transports struct {
	http1, h2c, h2 *http.Transport
}

func newTransports() transports {
	mk := func(set func(*http.Protocols)) *http.Transport {
		dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		var pr http.Protocols
		set(&pr)
		return &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          0, // no global cap: the per-host cap bounds it
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       idleConnTimeout,
			ResponseHeaderTimeout: responseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true,
			Protocols:             &pr,
			TLSClientConfig:       upstreamTLS(nil),
		}
	}
	return transports{
		http1: mk(func(p *http.Protocols) { p.SetHTTP1(true) }),
		// Prior knowledge: an http:// URL is spoken to in HTTP/2 from the first byte.
		h2c: mk(func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }),
		h2:  mk(func(p *http.Protocols) { p.SetHTTP2(true) }),
	}
}

// forProtocol returns the transport and URL scheme for a backend's protocol.
func (ts transports) forProtocol(proto string) (*http.Transport, string) {
	switch proto {
	case ProtocolH2C:
		return ts.h2c, "http"
	case ProtocolH2:
		return ts.h2, "https"
	}
	return ts.http1, "http"
}

func (ts transports) closeIdle() {
	ts.http1.CloseIdleConnections()
	ts.h2c.CloseIdleConnections()
	ts.h2.CloseIdleConnections()
}

// upstreamTLS is the client side of TLS to replicas that serve it (protocol h2). The certificate
// is not verified: the replicas are processes hugai started on this machine, reached on loopback,
// whose certificates are whatever the service was given for its own users, often self-signed and
// never issued for 127.0.0.1. Encryption here protects nothing the kernel does not already.
func upstreamTLS(nextProtos []string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: nextProtos, MinVersion: tls.VersionTLS12}
}

// isGRPC reports whether a response is gRPC's (RFC-less, grpc.io's PROTOCOL-HTTP2.md).
func isGRPC(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "application/grpc")
}

// grpcFailed reports whether a gRPC response ended with a status other than OK (0). The status is
// a trailer, or a header in a trailers-only response; a response with neither failed too (the
// call broke off).
func grpcFailed(resp *http.Response) bool {
	st := resp.Trailer["Grpc-Status"]
	if len(st) == 0 {
		st = resp.Header["Grpc-Status"]
	}
	return len(st) == 0 || st[0] != "0"
}
