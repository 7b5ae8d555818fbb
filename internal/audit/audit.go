// Package audit is hugai's tamper-evident record: events chained by SHA-256, each carrying the
// previous event's hash, and a verifier that names the first event that was edited, deleted,
// reordered or cut off. It is pure: stores persist events, this package only hashes and checks them.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"
	"time"
)

// GenesisHash is the PrevHash of the first event and the head hash of an empty log.
var GenesisHash = strings.Repeat("0", 64)

// Event is one entry of the audit log.
type Event struct {
	Seq      int64           `json:"seq"`
	Subject  string          `json:"subject"` // "rollout/demo-7", "flag/checkout", "token/…"
	Type     string          `json:"type"`    // rollout.created, rollout.step, rollout.approved, …
	Actor    string          `json:"actor"`
	Time     time.Time       `json:"time"` // UTC, microsecond precision (what every store keeps)
	Payload  json.RawMessage `json:"payload,omitempty"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
}

// Head is the last event's sequence number and hash, kept apart from the chain so that cutting
// events off the end of the log (which leaves a valid shorter chain) is still detected.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Normalize returns e with its Time in UTC at microsecond precision and its Payload compacted, the
// form in which it is hashed: a round trip through any store then yields the same bytes. A payload
// that is not valid JSON is left as is (stores reject it before chaining).
func Normalize(e Event) Event {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	if len(e.Payload) == 0 {
		e.Payload = nil
	} else if json.Valid(e.Payload) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Payload); err == nil {
			e.Payload = json.RawMessage(buf.Bytes())
		}
	}
	return e
}

// Chain normalizes e, links it to prev (the previous event's hash, GenesisHash for the first) and
// sets its Hash. Seq must already be set: it is part of what is hashed.
func Chain(prev string, e Event) Event {
	e = Normalize(e)
	e.PrevHash = prev
	e.Hash = Sum(e)
	return e
}

// Sum is the hex SHA-256 of e's canonical encoding: a version tag, then every field but Hash in a
// fixed order, each as an 8-byte big-endian length followed by its bytes (Seq as 8 bytes, Time as
// RFC 3339 with exactly six fractional digits in UTC). Length prefixes make the encoding
// unambiguous without escaping: no two different events encode to the same bytes.
func Sum(e Event) string {
	h := sha256.New()
	writeField(h, []byte("hugai-audit-v1"))
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(e.Seq))
	writeField(h, seq[:])
	writeField(h, []byte(e.Subject))
	writeField(h, []byte(e.Type))
	writeField(h, []byte(e.Actor))
	writeField(h, []byte(FormatTime(e.Time)))
	writeField(h, e.Payload)
	writeField(h, []byte(e.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// TimeLayout is how event times are written in the canonical encoding and in exports.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t as hashed: UTC, microseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(TimeLayout)
}

func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
