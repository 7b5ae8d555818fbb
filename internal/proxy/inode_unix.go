//go:build unix

package proxy

import (
	"os"
	"syscall"
)

// inode returns a file's inode number, which changes when a file is replaced by a rename.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
