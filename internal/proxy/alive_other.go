//go:build !unix

package proxy

import "net"

// connAlive cannot look without reading here: the connection is taken as open.
func connAlive(net.Conn) bool { return true }
