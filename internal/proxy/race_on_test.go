//go:build race

package proxy

// raceBuild: under the race detector, sync.Pool drops a quarter of what is put back, on purpose,
// so allocation counts that rely on a pool do not hold.
const raceBuild = true
