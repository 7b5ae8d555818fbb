// Package analysis judges a rollout's metrics: it turns one window's readings into measurements
// (Successful, Failed, Inconclusive or Error) and a run of windows into a verdict, with Argo
// Rollouts' failureLimit, consecutiveErrorLimit and inconclusiveLimit. It is part of the pure core:
// it reads nothing itself, is given its readings and its times, and keeps no state between calls
// other than the Tally its caller persists.
//
// # Methods
//
// Judge is the threshold method: each condition of the success criteria against the candidate's
// own reading. The sequential method (sequential.go, verdict.go, latency.go) compares the
// candidate with the baseline over the same seconds with an always-valid test whose evidence
// (Evidence, LatencyEvidence) the caller persists; docs/analysis.md gives its math. Its
// calibration by simulation is the backtest subpackage.
package analysis

// Method is how a window's readings are judged, as hugai.yaml's analysis.method names it.
type Method string

// Threshold compares each reading with its condition (Judge).
const Threshold Method = "threshold"
