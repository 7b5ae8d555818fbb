// Package segment is the bookkeeping of an audit chain kept as a bounded tail plus sealed
// segments (internal/store/kubestore keeps them in a HugAIDeployment's status and in immutable
// ConfigMaps): how many events to seal, how segments are cut, named, encoded and read back, and
// how the copies a crash leaves behind are merged. It is pure, so that it is tested and fuzzed
// without a cluster.
package segment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/hugai-dev/hugai/internal/audit"
)

// Bounds of the tail and of one segment.
const (
	// TailMax is the most events a tail holds before a commit seals the oldest.
	TailMax = 40
	// TailKeep is how many events stay in the tail when it is sealed, so the latest decisions
	// are still read from the status alone.
	TailKeep = 8
	// Max is the most events one segment holds (~150 KiB of JSON, far below a ConfigMap's 1 MiB).
	Max = 256
)

// SealCount says how many events of a committed tail of old events to seal when next more are
// appended: none until the tail would pass TailMax, then all but the TailKeep newest of the
// result. Only committed events are ever sealed (never those of the commit being made), so a
// segment holds nothing the chain might not keep if that commit loses its race.
func SealCount(old, next int) int {
	total := old + next
	if total <= TailMax {
		return 0
	}
	return min(old, total-TailKeep)
}

// Chunks splits events into runs of at most Max.
func Chunks(events []audit.Event) [][]audit.Event {
	var out [][]audit.Event
	for len(events) > 0 {
		n := min(len(events), Max)
		out = append(out, events[:n])
		events = events[n:]
	}
	return out
}

// Merge orders the events of every segment and of the tail by seq and drops copies: a commit
// that sealed events and then lost (a crash, a conflict) leaves them both in a segment and in the
// tail, and a retried seal may cut them at other bounds. Copies must be identical: two
// different events with one seq mean one was forged, and Merge names it (*audit.VerifyError).
func Merge(parts ...[]audit.Event) ([]audit.Event, error) {
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
			if !Same(out[n-1], e) {
				return nil, &audit.VerifyError{Seq: e.Seq, Reason: audit.ReasonHashMismatch,
					Detail: "two copies of the event (a segment and the status, or two segments) differ"}
			}
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Same reports whether a and b are the same event, field by field.
func Same(a, b audit.Event) bool {
	return a.Seq == b.Seq && a.Subject == b.Subject && a.Type == b.Type && a.Actor == b.Actor &&
		a.Time.Equal(b.Time) && string(a.Payload) == string(b.Payload) && a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

// Name names the segment of events first..last of the object name: deterministic, so a seal
// retried after a crash finds its own segment instead of writing another. Names longer than a
// ConfigMap's 253 characters are cut (a label with the owner's UID, not the name, ties a segment
// to its object).
func Name(name string, first, last int64) string {
	suffix := fmt.Sprintf("-audit-%d-%d", first, last)
	if len(name)+len(suffix) > 253 {
		name = name[:253-len(suffix)]
		for len(name) > 0 && (name[len(name)-1] == '-' || name[len(name)-1] == '.') {
			name = name[:len(name)-1]
		}
	}
	return name + suffix
}

// Encode writes events as a JSON array without HTML escaping: json.Marshal would turn a
// payload's "<" into "\u003c", and the payload's bytes are part of what is hashed.
func Encode(events []audit.Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(events); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode reads a segment's events. Its data is input like any other (whoever may write
// ConfigMaps in the namespace may have replaced it): one that cannot be read is tampering,
// reported at the first seq the segment claims (firstSeq, its annotation).
func Decode(name, firstSeq, data string) ([]audit.Event, error) {
	var seg []audit.Event
	if err := json.Unmarshal([]byte(data), &seg); err != nil {
		first, _ := strconv.ParseInt(firstSeq, 10, 64)
		return nil, &audit.VerifyError{Seq: max(first, 1), Reason: audit.ReasonHashMismatch,
			Detail: fmt.Sprintf("segment %s cannot be read: %v", name, err)}
	}
	return seg, nil
}
