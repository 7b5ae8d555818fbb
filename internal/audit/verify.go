package audit

import "fmt"

// Reasons a VerifyError gives, so callers and tests can tell the kinds of tampering apart.
const (
	ReasonHashMismatch = "hash mismatch (edited)"
	ReasonBrokenLink   = "broken link (deleted or reordered)"
	ReasonSeqGap       = "seq gap"
	ReasonTruncated    = "head mismatch (truncated)"
	ReasonHeadMismatch = "head mismatch (head edited or last event replaced)"
	ReasonPastHead     = "head mismatch (events past the head)"
)

// VerifyError names the first bad event of a log.
type VerifyError struct {
	Seq    int64
	Reason string
	Detail string // what was expected, for people; may be empty
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("event %d: %s", e.Seq, e.Reason)
	}
	return fmt.Sprintf("event %d: %s: %s", e.Seq, e.Reason, e.Detail)
}

// Verifier checks a log one event at a time, in seq order, so a log of any size is verified in
// constant memory. The first error is sticky: later calls return it again.
type Verifier struct {
	lastSeq  int64
	lastHash string
	n        int64
	err      *VerifyError
}

// NewVerifier returns a Verifier for a log that starts at its first event (seq 1).
func NewVerifier() *Verifier {
	return &Verifier{lastHash: GenesisHash}
}

// Add checks e against the events before it. The link is checked before the event's own hash so
// that a deleted or moved event is reported as such rather than as an edit.
func (v *Verifier) Add(e Event) error {
	if v.err != nil {
		return v.err
	}
	switch {
	case e.PrevHash != v.lastHash:
		v.err = &VerifyError{Seq: e.Seq, Reason: ReasonBrokenLink,
			Detail: fmt.Sprintf("follows event %d but does not carry its hash", v.lastSeq)}
	case Sum(e) != e.Hash:
		v.err = &VerifyError{Seq: e.Seq, Reason: ReasonHashMismatch}
	case e.Seq != v.lastSeq+1:
		v.err = &VerifyError{Seq: e.Seq, Reason: ReasonSeqGap,
			Detail: fmt.Sprintf("want event %d", v.lastSeq+1)}
	}
	if v.err != nil {
		return v.err
	}
	v.lastSeq, v.lastHash = e.Seq, e.Hash
	v.n++
	return nil
}

// Finish checks the last event against the head kept apart from the chain and returns how many
// events were verified and the head hash.
func (v *Verifier) Finish(head Head) (int64, string, error) {
	if v.err != nil {
		return v.n, "", v.err
	}
	switch {
	case head.Seq > v.lastSeq:
		v.err = &VerifyError{Seq: v.lastSeq + 1, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("head is event %d, log ends at event %d", head.Seq, v.lastSeq)}
	case head.Seq < v.lastSeq:
		v.err = &VerifyError{Seq: head.Seq + 1, Reason: ReasonPastHead,
			Detail: fmt.Sprintf("head is event %d, log ends at event %d", head.Seq, v.lastSeq)}
	case head.Hash != v.lastHash:
		v.err = &VerifyError{Seq: head.Seq, Reason: ReasonHeadMismatch}
	}
	if v.err != nil {
		return v.n, "", v.err
	}
	return v.n, v.lastHash, nil
}

// Verify checks a whole log held in memory; see Verifier for logs that are not.
func Verify(events []Event, head Head) error {
	v := NewVerifier()
	for _, e := range events {
		if err := v.Add(e); err != nil {
			return err
		}
	}
	_, _, err := v.Finish(head)
	return err
}
