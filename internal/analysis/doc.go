// Package analysis judges a rollout's metrics: it turns one window's readings into measurements
// (Successful, Failed, Inconclusive or Error) and a run of windows into a verdict, with Argo
// Rollouts' failureLimit, consecutiveErrorLimit and inconclusiveLimit. It is part of the pure core:
// it reads nothing itself, is given its readings and its times, and keeps no state between calls
// other than the Tally its caller persists.
//
// # Methods
//
// Judge is the threshold method: each condition of the success criteria against the candidate's
// own reading. The statistical method (a canary-vs-baseline test, plan's "sequential") is a later
// issue; it belongs here as a second function that reads the candidate and the baseline and returns
// the same []Measurement, so that Tally, Limits and Verdict serve both methods unchanged.
package analysis

// Method is how a window's readings are judged, as hugai.yaml's analysis.method names it.
type Method string

// Threshold compares each reading with its condition (Judge).
const Threshold Method = "threshold"
