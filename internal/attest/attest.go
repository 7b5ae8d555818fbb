// Package attest signs what happened in a rollout as an in-toto Statement (v1) in a DSSE envelope
// with ed25519: the plan's hash is the subject; the predicate holds the verdicts, the approvers,
// the times and where the rollout's events end in the audit chain. A compliance tool verifies it
// with the server's public key, without hugai. It only encodes, signs and checks.
package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The in-toto and DSSE constants.
const (
	StatementType = "https://in-toto.io/Statement/v1"
	PredicateType = "https://hugai.io/attestation/rollout/v1"
	PayloadType   = "application/vnd.in-toto+json"
)

// Statement is an in-toto Statement about one rollout.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Rollout   `json:"predicate"`
}

// Subject is what the statement is about: the frozen plan, by its SHA-256.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Rollout is the predicate: what the rollout did and who decided.
type Rollout struct {
	ID              string     `json:"id"`
	Service         string     `json:"service"`
	Environment     string     `json:"environment"`
	Version         string     `json:"version"`
	PreviousVersion string     `json:"previousVersion,omitempty"`
	Strategy        string     `json:"strategy"`
	Phase           string     `json:"phase"`
	Reason          string     `json:"reason,omitempty"`
	PlanSHA256      string     `json:"planSHA256"`
	StartedBy       string     `json:"startedBy"`
	StartedAt       time.Time  `json:"startedAt"`
	FinishedAt      time.Time  `json:"finishedAt"`
	FourEyes        bool       `json:"fourEyes"`
	Approvals       []Approval `json:"approvals"`
	Verdicts        []Verdict  `json:"verdicts"`
	// Audit is where the rollout's events end in the audit chain: the statement is bound to it.
	Audit AuditRef `json:"audit"`
}

// Approval is one person's decision at a gate.
type Approval struct {
	Gate     string    `json:"gate"`
	Actor    string    `json:"actor"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment,omitempty"`
	Time     time.Time `json:"time"`
}

// Verdict is how one metric was judged over the rollout: windows by phase, the last value.
type Verdict struct {
	Metric       string  `json:"metric"`
	Windows      int     `json:"windows"`
	Successful   int     `json:"successful"`
	Failed       int     `json:"failed"`
	Inconclusive int     `json:"inconclusive"`
	Errors       int     `json:"errors"`
	Last         float64 `json:"last"`
	LastPhase    string  `json:"lastPhase"`
}

// AuditRef names the rollout's last audit event and the chain head when the statement was made.
type AuditRef struct {
	Events   int    `json:"events"`
	LastSeq  int64  `json:"lastSeq"`
	LastHash string `json:"lastHash"`
}

// New wraps a predicate in a statement whose subject is its plan.
func New(p Rollout) Statement {
	return Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: fmt.Sprintf("plan of %s/%s@%s (%s)", p.Service, p.Environment, p.Version, p.ID), Digest: map[string]string{"sha256": p.PlanSHA256}}},
		PredicateType: PredicateType,
		Predicate:     p,
	}
}

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"` // base64 of the statement's JSON
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature; KeyID is the hex SHA-256 of the ed25519 public key.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// KeyID names a public key: the hex SHA-256 of its bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// pae is DSSE's pre-authentication encoding: what is actually signed.
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Sign encodes s and signs it with key.
func Sign(s Statement, key ed25519.PrivateKey) (Envelope, error) {
	payload, err := json.Marshal(s)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode statement: %w", err)
	}
	sig := ed25519.Sign(key, pae(PayloadType, payload))
	return Envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []Signature{{KeyID: KeyID(key.Public().(ed25519.PublicKey)), Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// ErrBadSignature is an envelope no signature of which verifies with the key.
var ErrBadSignature = errors.New("no valid signature by this key")

// Verify checks that e carries a valid signature of pub and returns its statement.
func Verify(e Envelope, pub ed25519.PublicKey) (Statement, error) {
	if e.PayloadType != PayloadType {
		return Statement{}, fmt.Errorf("payload type %q: want %s", e.PayloadType, PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return Statement{}, fmt.Errorf("payload: %w", err)
	}
	ok := false
	for _, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil && ed25519.Verify(pub, pae(e.PayloadType, payload), sig) {
			ok = true
			break
		}
	}
	if !ok {
		return Statement{}, fmt.Errorf("%w (key %s)", ErrBadSignature, KeyID(pub)[:16])
	}
	var s Statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Statement{}, fmt.Errorf("statement: %w", err)
	}
	if s.Type != StatementType || s.PredicateType != PredicateType {
		return Statement{}, fmt.Errorf("statement type %q / predicate %q: not a hugai rollout statement", s.Type, s.PredicateType)
	}
	if len(s.Subject) != 1 || s.Subject[0].Digest["sha256"] != s.Predicate.PlanSHA256 {
		return Statement{}, errors.New("statement: its subject is not the plan it describes")
	}
	return s, nil
}

// ParseEnvelope reads an envelope file.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Envelope{}, fmt.Errorf("read envelope: %w", err)
	}
	if len(e.Signatures) == 0 {
		return Envelope{}, errors.New("read envelope: no signatures")
	}
	return e, nil
}
