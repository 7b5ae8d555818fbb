// Package coredeps holds only a test: the one that keeps hugai's pure core pure.
package coredeps
