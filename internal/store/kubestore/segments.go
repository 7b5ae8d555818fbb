package kubestore

import (
	"fmt"
	"slices"

	"github.com/hugai-dev/hugai/internal/audit"
)

// Bounds of what one HugAIDeployment's status holds. They keep an object at a few tens of KiB
// whatever its history (docs/kubernetes.md, "State in the cluster"), so an operator caching 500 of
// them stays far below its memory budget; what falls off is either summarized (history), kept in
// the audit chain (every event, measurement and approval is also an audit event) or sealed.
const (
	// TailMax is the most events the status' audit tail holds before a commit seals the oldest.
	TailMax = 40
	// TailKeep is how many of the committed events stay in the tail when it is sealed, so the
	// latest decisions are still read from the status alone.
	TailKeep = 8
	// SegmentMax is the most events one segment ConfigMap holds (~150 KiB, far below 1 MiB).
	SegmentMax = 256
	// HistoryMax, ApprovalsMax, MeasurementsMax and ReleasesMax bound the status' lists.
	HistoryMax      = 20
	ApprovalsMax    = 32
	MeasurementsMax = 48
	ReleasesMax     = 10
)

// sealCount says how many events of the committed tail old to seal when next more are appended:
// none until the tail would pass TailMax, then all but the TailKeep newest of the result. Only
// committed events are ever sealed (never those of the commit being made), so a segment holds
// nothing the chain might not keep if that commit loses its race.
func sealCount(old, next int) int {
	total := old + next
	if total <= TailMax {
		return 0
	}
	return min(old, total-TailKeep)
}

// chunks splits events into runs of at most SegmentMax.
func chunks(events []audit.Event) [][]audit.Event {
	var out [][]audit.Event
	for len(events) > 0 {
		n := min(len(events), SegmentMax)
		out = append(out, events[:n])
		events = events[n:]
	}
	return out
}

// merge orders the events of every segment and of the tail by seq and drops copies: a commit
// that sealed events and then lost (a crash, a conflict) leaves them both in a segment and in the
// tail, and a retried seal may cut them at other boundaries. Copies must be identical: two
// different events with one seq mean one was forged, and merge names it.
func merge(parts ...[]audit.Event) ([]audit.Event, error) {
	var all []audit.Event
	for _, p := range parts {
		all = append(all, p...)
	}
	slices.SortStableFunc(all, func(a, b audit.Event) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	out := all[:0:0]
	for _, e := range all {
		if n := len(out); n > 0 && out[n-1].Seq == e.Seq {
			if !sameEvent(out[n-1], e) {
				return nil, &audit.VerifyError{Seq: e.Seq, Reason: audit.ReasonHashMismatch,
					Detail: "two copies of the event (a segment and the status, or two segments) differ"}
			}
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func sameEvent(a, b audit.Event) bool {
	return a.Seq == b.Seq && a.Subject == b.Subject && a.Type == b.Type && a.Actor == b.Actor &&
		a.Time.Equal(b.Time) && string(a.Payload) == string(b.Payload) && a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

// segmentName names the segment of events first..last of the object name: deterministic, so a
// seal retried after a crash finds its own segment instead of writing another. Names longer than
// a ConfigMap's 253 characters are cut (the owner's UID label, not the name, ties a segment to
// its object).
func segmentName(name string, first, last int64) string {
	suffix := fmt.Sprintf("-audit-%d-%d", first, last)
	if len(name)+len(suffix) > 253 {
		name = name[:253-len(suffix)]
		for len(name) > 0 && (name[len(name)-1] == '-' || name[len(name)-1] == '.') {
			name = name[:len(name)-1]
		}
	}
	return name + suffix
}
