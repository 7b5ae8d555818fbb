package kubestore

import "github.com/hugai-dev/hugai/internal/store/kubestore/segment"

// Bounds of what one HugAIDeployment's status holds. They keep an object at a few tens of KiB
// whatever its history (docs/kubernetes.md, "State in the cluster"), so an operator caching 500 of
// them stays far below its memory budget; what falls off is either summarized (history), kept in
// the audit chain (every decision is also an audit event) or sealed into segments.
const (
	// TailMax is the most events the status' audit tail holds before a commit seals the oldest;
	// TailKeep how many stay.
	TailMax  = segment.TailMax
	TailKeep = segment.TailKeep
	// HistoryMax, ApprovalsMax, MeasurementsMax and ReleasesMax bound the status' lists.
	HistoryMax      = 20
	ApprovalsMax    = 32
	MeasurementsMax = 48
	ReleasesMax     = 10
)
