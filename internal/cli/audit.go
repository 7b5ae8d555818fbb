package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

// auditCmd reads the audit log straight from the store in the data dir: verifying must not
// depend on the server that wrote the log being up, or being honest.
func (a *app) auditCmd() *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "audit",
		Short: "Read, verify and export the tamper-evident audit log",
		Long: "Every decision hugai takes is an audit event carrying its own SHA-256 and the previous event's;\n" +
			"the last event's hash is also kept apart, so editing, deleting, reordering or cutting off\n" +
			"events is detected by `hugai audit verify`, which names the first bad event.",
	}
	c.PersistentFlags().StringVar(&dataDir, "data-dir", "", "hugai's data dir (default: $HUGAI_DATA_DIR, else the nearest .hugai/)")
	c.AddCommand(a.auditLogCmd(&dataDir), a.auditVerifyCmd(&dataDir), a.auditExportCmd(&dataDir))
	return c
}

// openStoreIn opens the store of the data dir, refusing to create one where none exists.
func openStoreIn(dataDirFlag string) (*sqlite.Store, error) {
	dir, err := findDataDir(dataDirFlag)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DatabaseFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no store at %s: nothing has been recorded in this data dir (`hugai server` creates it)", path)
	} else if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return sqlite.Open(path)
}

func (a *app) auditLogCmd(dataDir *string) *cobra.Command {
	var (
		output string
		f      store.EventFilter
	)
	c := &cobra.Command{
		Use:   "log",
		Short: "List audit events, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.Limit < 0 || f.AfterSeq < 0 {
				return badInput(errors.New("--limit and --after must not be negative"))
			}
			s, err := openStoreIn(*dataDir)
			if err != nil {
				return err
			}
			defer s.Close()
			events, err := s.Events(c.Context(), f)
			if err != nil {
				return err
			}
			out := make([]eventOut, len(events))
			for i, e := range events {
				out[i] = toEventOut(e)
			}
			return a.print(output, out, func(w io.Writer) error { return eventTable(w, out) })
		},
	}
	c.Flags().StringVar(&f.Subject, "subject", "", "only events of this subject, e.g. rollout/demo-7")
	c.Flags().IntVar(&f.Limit, "limit", 0, "at most this many events (0: all)")
	c.Flags().Int64Var(&f.AfterSeq, "after", 0, "only events after this sequence number")
	addOutputFlag(c, &output)
	return c
}

func eventTable(w io.Writer, events []eventOut) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tSUBJECT\tTYPE\tACTOR\tPAYLOAD")
	for _, e := range events {
		p := string(e.Payload)
		if len(p) > 60 {
			p = p[:57] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time, e.Subject, e.Type, e.Actor, p)
	}
	return tw.Flush()
}

func (a *app) auditVerifyCmd(dataDir *string) *cobra.Command {
	var output, statement, keyFile string
	var kf kubeAuditFlags
	c := &cobra.Command{
		Use:   "verify [--target kubernetes NAME|--all]",
		Short: "Check the audit chain and its head (or, with --statement, a rollout's signed statement); exit 1 naming what is wrong",
		Long: "Check the audit chain of the data dir's store, or with --target kubernetes the chain a\n" +
			"HugAIDeployment keeps in the cluster (its status and its audit ConfigMaps); exit 1 naming\n" +
			"the first bad event.",
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			switch kf.target {
			case "kubernetes":
				if statement != "" {
					return badInput(errors.New("audit verify: --statement is for the data dir's rollouts, not --target kubernetes"))
				}
				return a.verifyKube(c.Context(), kf, args, output)
			case "", "local":
			default:
				return badInput(fmt.Errorf("audit verify: --target %q: want local or kubernetes", kf.target))
			}
			if len(args) > 0 || kf.all || kf.namespace != "" {
				return badInput(errors.New("audit verify: a name, --all and -n are for --target kubernetes"))
			}
			if statement != "" {
				return a.verifyStatement(c.Context(), *dataDir, statement, keyFile, output)
			}
			s, err := openStoreIn(*dataDir)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.VerifyAudit(c.Context())
			var ve *audit.VerifyError
			if errors.As(err, &ve) {
				return withCode(ExitFailed, fmt.Errorf("audit verify: %w", ve))
			}
			if err != nil {
				return err
			}
			return a.print(output, res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "audit log verified: %d events, head %s\n", res.Events, res.Head)
				return err
			})
		},
	}
	addOutputFlag(c, &output)
	c.Flags().StringVar(&statement, "statement", "", "a rollout's signed statement (`FILE`, from the data dir's attestations/) to verify")
	c.Flags().StringVar(&keyFile, "key", "", "the public key (PEM) to verify --statement with (default: the data dir's attest/ed25519.pub)")
	c.Flags().StringVar(&kf.target, "target", "local", "where the chain is: local (the data dir) or kubernetes (a HugAIDeployment)")
	c.Flags().StringVarP(&kf.namespace, "namespace", "n", "", "kubernetes: the HugAIDeployment's namespace (default: the kubeconfig context's)")
	c.Flags().BoolVar(&kf.all, "all", false, "kubernetes: every HugAIDeployment in the namespace")
	kf.kube.add(c)
	return c
}

func (a *app) auditExportCmd(dataDir *string) *cobra.Command {
	var format, outPath, since string
	c := &cobra.Command{
		Use:   "export",
		Short: "Write the whole audit log as JSON lines or CSV, with every hash",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if format != "jsonl" && format != "csv" {
				return badInput(fmt.Errorf("--format %q: want jsonl or csv", format))
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return badInput(err)
			}
			s, err := openStoreIn(*dataDir)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.writeStreamed(outPath, func(w io.Writer) error {
				return exportEvents(c.Context(), s, format, from, w)
			})
		},
	}
	c.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	c.Flags().StringVar(&outPath, "out", "-", "file to write (- for standard output)")
	c.Flags().StringVar(&since, "since", "", "only events at or after this time: RFC 3339 (2026-12-01T00:00:00Z), a date (2026-12-01, UTC) or an age (24h, 7d)")
	return c
}

// exportPage bounds memory: the log is read in pages, never whole.
const exportPage = 1000

func exportEvents(ctx context.Context, s store.Store, format string, since time.Time, w io.Writer) error {
	cw := csv.NewWriter(w)
	enc := json.NewEncoder(w)
	if format == "csv" {
		if err := cw.Write([]string{"seq", "time", "subject", "type", "actor", "payload", "prev_hash", "hash"}); err != nil {
			return err
		}
	}
	var after int64
	for {
		events, err := s.Events(ctx, store.EventFilter{AfterSeq: after, Limit: exportPage})
		if err != nil {
			return err
		}
		for _, e := range events {
			after = e.Seq
			// Times are the chain's, not an index: the whole log is read, its old part skipped.
			if e.Time.Before(since) {
				continue
			}
			o := toEventOut(e)
			if format == "jsonl" {
				err = enc.Encode(o)
			} else {
				err = cw.Write([]string{strconv.FormatInt(o.Seq, 10), o.Time, o.Subject, o.Type, o.Actor,
					string(o.Payload), o.PrevHash, o.Hash})
			}
			if err != nil {
				return fmt.Errorf("export event %d: %w", e.Seq, err)
			}
		}
		if len(events) < exportPage {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}

// eventOut is an event as printed and exported: the time in the exact form its hash covers, so an
// export can be verified outside hugai, and a payload that is no longer JSON (someone edited the
// row) shown as a string rather than failing the whole listing.
type eventOut struct {
	Seq      int64           `json:"seq"`
	Time     string          `json:"time"`
	Subject  string          `json:"subject"`
	Type     string          `json:"type"`
	Actor    string          `json:"actor"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
}

func toEventOut(e audit.Event) eventOut {
	p := e.Payload
	if len(p) > 0 && !json.Valid(p) {
		p, _ = json.Marshal(string(p))
	}
	return eventOut{Seq: e.Seq, Time: audit.FormatTime(e.Time), Subject: e.Subject, Type: e.Type,
		Actor: e.Actor, Payload: p, PrevHash: e.PrevHash, Hash: e.Hash}
}
