package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hugai-dev/hugai/internal/attest"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/token"
)

// Where the server keeps its signing key and the statements it signs, inside the data dir.
const (
	attestKeyDir      = "attest"
	attestPrivateKey  = "ed25519.key"
	attestPublicKey   = "ed25519.pub"
	attestStatementsD = "attestations"
)

// signingKey loads the data dir's ed25519 key, making it (and its public half, for verifiers) at
// the first start.
func signingKey(dataDir string) (ed25519.PrivateKey, error) {
	dir := filepath.Join(dataDir, attestKeyDir)
	privPath := filepath.Join(dir, attestPrivateKey)
	b, err := os.ReadFile(privPath)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: not PEM", privPath)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", privPath, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an ed25519 key", privPath)
		}
		return ek, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make a signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, attestPublicKey), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), 0o644); err != nil {
		return nil, err
	}
	// The private key last, exclusively: a crash between leaves no key without its public half.
	f, err := os.OpenFile(privPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	if _, err := f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})); err != nil {
		f.Close()
		return nil, err
	}
	return priv, f.Close()
}

// readPublicKey reads a PEM public key (the data dir's attest/ed25519.pub).
func readPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("public key %s: not PEM", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s: not ed25519", path)
	}
	return ek, nil
}

// statementPath is where the signed statement of a rollout is kept.
func statementPath(dataDir, id string) string {
	return filepath.Join(dataDir, attestStatementsD, id+".intoto.json")
}

// attestor signs each finished rollout's statement into the data dir and records that it did
// in the audit log (the file's SHA-256 and the key's ID), binding the two both ways.
func attestor(dataDir string, key ed25519.PrivateKey, eng func() *engine.Engine, st store.Store, logf func(string, ...any)) func(context.Context, string) {
	return func(ctx context.Context, id string) {
		if err := writeStatement(ctx, dataDir, key, eng(), st, id); err != nil {
			logf("attest %s: %v", id, err)
		}
	}
}

func writeStatement(ctx context.Context, dataDir string, key ed25519.PrivateKey, eng *engine.Engine, st store.Store, id string) error {
	s, err := eng.Statement(ctx, id)
	if err != nil {
		return err
	}
	env, err := attest.Sign(s, key)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := statementPath(dataDir, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	payload, _ := json.Marshal(map[string]any{"file": path, "sha256": hex.EncodeToString(sum[:]), "keyid": env.Signatures[0].KeyID})
	_, err = st.Commit(ctx, store.Tx{Events: []audit.Event{{Subject: "rollout/" + id, Type: "rollout.attested", Actor: "hugai", Time: time.Now().UTC(), Payload: payload}}})
	return err
}

// parseSince reads --since: RFC 3339, a date (midnight UTC), or an age before now in hours,
// minutes or days ("24h", "7d"). Empty: the beginning.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := token.ParseLifetime(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want RFC 3339 (2026-12-01T00:00:00Z), a date (2026-12-01) or an age (24h, 7d)", s)
}

// verifyStatement checks a statement's signature and, where the data dir's store is at hand,
// that it agrees with the store: the rollout's plan, and its last audit event in a chain that
// verifies.
func (a *app) verifyStatement(ctx context.Context, dataDirFlag, file, keyFile, output string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return badInput(fmt.Errorf("--statement: %w", err))
	}
	env, err := attest.ParseEnvelope(b)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", file, err))
	}
	dir, dirErr := findDataDir(dataDirFlag)
	if keyFile == "" {
		if dirErr != nil {
			return badInput(fmt.Errorf("--statement: no --key and no data dir to find its public key in: %w", dirErr))
		}
		keyFile = filepath.Join(dir, attestKeyDir, attestPublicKey)
	}
	pub, err := readPublicKey(keyFile)
	if err != nil {
		return badInput(err)
	}
	s, err := attest.Verify(env, pub)
	if err != nil {
		return withCode(ExitFailed, fmt.Errorf("statement %s: %w", file, err))
	}
	p := s.Predicate
	checked := "signature"
	if dirErr == nil {
		if st, err := openStoreIn(dir); err == nil {
			defer st.Close()
			if err := crossCheck(ctx, st, p); err != nil {
				return withCode(ExitFailed, fmt.Errorf("statement %s: %w", file, err))
			}
			checked = "signature, plan and audit chain"
		}
	}
	approvers := []string{}
	for _, ap := range p.Approvals {
		approvers = append(approvers, ap.Actor+" ("+ap.Decision+")")
	}
	res := map[string]any{"verified": checked, "keyid": attest.KeyID(pub), "statement": s}
	return a.print(output, res, func(w io.Writer) error {
		fmt.Fprintf(w, "statement verified (%s): rollout %s of %s/%s %s → %s, %s\n", checked, p.ID, p.Service, p.Environment, p.Version, p.Phase, p.FinishedAt.Format(time.RFC3339))
		fmt.Fprintf(w, "  plan sha256 %s; started by %s; four-eyes %t; approvals: %v\n", p.PlanSHA256, p.StartedBy, p.FourEyes, approvers)
		fmt.Fprintf(w, "  audit: %d events, the last #%d %s; key %s\n", p.Audit.Events, p.Audit.LastSeq, p.Audit.LastHash, attest.KeyID(pub)[:16])
		return nil
	})
}

func crossCheck(ctx context.Context, st store.Store, p attest.Rollout) error {
	r, err := st.Rollout(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("rollout %s: %w", p.ID, err)
	}
	if r.PlanSHA256 != p.PlanSHA256 {
		return fmt.Errorf("rollout %s ran plan %s, the statement says %s", p.ID, r.PlanSHA256, p.PlanSHA256)
	}
	if p.Audit.LastSeq > 0 {
		evs, err := st.Events(ctx, store.EventFilter{AfterSeq: p.Audit.LastSeq - 1, Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) == 0 || evs[0].Hash != p.Audit.LastHash {
			return fmt.Errorf("audit event #%d is not the one the statement names (%s)", p.Audit.LastSeq, p.Audit.LastHash)
		}
	}
	if _, err := st.VerifyAudit(ctx); err != nil {
		return fmt.Errorf("the audit chain: %w", err)
	}
	return nil
}
