package attest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func key(t *testing.T, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), ed25519.SeedSize)))
}

func statement() Statement {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return New(Rollout{ID: "demo-1", Service: "demo", Environment: "production", Version: "v2", Strategy: "canary",
		Phase: "Succeeded", PlanSHA256: strings.Repeat("ab", 32), StartedBy: "dan", StartedAt: t0, FinishedAt: t0.Add(time.Hour), FourEyes: true,
		Approvals: []Approval{{Gate: "production-approval", Actor: "ann", Decision: "approved", Time: t0}},
		Verdicts:  []Verdict{{Metric: "error_rate", Windows: 3, Successful: 3, Last: 0.1, LastPhase: "Successful"}},
		Audit:     AuditRef{Events: 9, LastSeq: 42, LastHash: strings.Repeat("cd", 32)}})
}

func TestSignVerify(t *testing.T) {
	k := key(t, 0)
	env, err := Sign(statement(), k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(env)
	back, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Verify(back, k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if s.Predicate.Approvals[0].Actor != "ann" || s.Subject[0].Digest["sha256"] != strings.Repeat("ab", 32) || back.Signatures[0].KeyID != KeyID(k.Public().(ed25519.PublicKey)) {
		t.Fatalf("round trip: %+v", s)
	}
	if _, err := Verify(back, key(t, 1).Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key verified it: %v", err)
	}
	// Any edit of the payload breaks the signature: an approver changed, a phase.
	for _, edit := range []func(*Statement){
		func(s *Statement) { s.Predicate.Approvals[0].Actor = "dan" },
		func(s *Statement) { s.Predicate.Phase = "RolledBack" },
	} {
		st := statement()
		edit(&st)
		payload, _ := json.Marshal(st)
		forged := back
		forged.Payload = base64.StdEncoding.EncodeToString(payload)
		if _, err := Verify(forged, k.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("an edited statement verified: %v", err)
		}
	}
	// The payload type is signed too.
	other := back
	other.PayloadType = "text/plain"
	if _, err := Verify(other, k.Public().(ed25519.PublicKey)); err == nil {
		t.Error("another payload type verified")
	}
}

func TestPAE(t *testing.T) {
	// DSSE's own example: PAE("http://example.com/HelloWorld", "hello world").
	got := string(pae("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Fatalf("pae = %q, want %q", got, want)
	}
}

// FuzzEnvelope: any file given to `audit verify --statement` is read without a panic, and only
// one signed by the key verifies.
func FuzzEnvelope(f *testing.F) {
	k := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	env, _ := Sign(statement(), k)
	good, _ := json.Marshal(env)
	for _, s := range []string{string(good), "{}", `{"payloadType":"x","payload":"","signatures":[]}`, "null", "["} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		s, err := Verify(e, k.Public().(ed25519.PublicKey))
		if err == nil && s.Predicate.PlanSHA256 != s.Subject[0].Digest["sha256"] {
			t.Fatal("verified a statement whose subject is not its plan")
		}
	})
}
