package proxy

import (
	"math/bits"
	"time"
)

// The latency histogram is log-linear over microseconds: exact below 128µs, then 64 sub-buckets per
// power of two, so no bucket is wider than 1/64 (1.6%) of its lower bound. That is fine enough to
// tell 2.1 s from 2 s, and small enough (numBuckets counters) to keep per version as plain atomics.
const (
	subBits    = 6
	subCount   = 1 << subBits // 64
	numBuckets = 64 * 28      // up to 128<<26 µs, about 2.4 hours; longer requests share the last one
)

// bucketOf returns the bucket index of a duration.
func bucketOf(d time.Duration) int {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	if us < 2*subCount {
		return int(us)
	}
	e := bits.Len64(us) - (subBits + 1)
	i := subCount*e + int(us>>uint(e))
	if i >= numBuckets {
		return numBuckets - 1
	}
	return i
}

// bucketBounds returns the half-open range [lo, hi) of durations that fall in bucket i.
func bucketBounds(i int) (lo, hi time.Duration) {
	if i < 2*subCount {
		return time.Duration(i) * time.Microsecond, time.Duration(i+1) * time.Microsecond
	}
	e := uint(i/subCount - 1)
	m := uint64(i%subCount + subCount)
	return time.Duration(m<<e) * time.Microsecond, time.Duration((m+1)<<e) * time.Microsecond
}

// bucketMid is the value reported for a bucket: its middle, within 0.8% of any sample in it.
func bucketMid(i int) time.Duration {
	lo, hi := bucketBounds(i)
	return lo + (hi-lo)/2
}

// BucketUpper is the upper bound of latency bucket i (the index Second.Hist pairs carry): what a
// reader of the history needs to place a latency against a threshold.
func BucketUpper(i int) time.Duration {
	_, hi := bucketBounds(i)
	return hi
}
