package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/risk"
	"github.com/hugai-dev/hugai/internal/risk/learn"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

func (a *app) riskCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "risk",
		Short: "Learn a service's own rollback risk from its finished rollouts",
	}
	c.AddCommand(a.riskTrainCmd())
	return c
}

type trainOut struct {
	Model   string             `json:"model"`
	Service string             `json:"service"`
	Samples int                `json:"samples"`
	Failed  int                `json:"rolledBack"`
	AUC     float64            `json:"auc"`
	HeldOut int                `json:"heldOut"`
	Weights map[string]float64 `json:"weights"`
}

func (a *app) riskTrainCmd() *cobra.Command {
	var dataDir, service, file, output string
	c := &cobra.Command{
		Use:   "train",
		Short: "Fit a logistic model of rollbacks on a service's own history; deploy plan blends it in",
		Long: `train reads the service's finished rollouts from the store (at least 50: Succeeded, RolledBack or
Failed), describes each by its change (size, files, spread, kinds of files, as its plan recorded
them), its hour and day and the environment's recent failure rate, and fits a logistic regression
of "rolled back" on them (docs/risk.md). Its AUC is measured on the most recent 30% of the
rollouts, held out from a fit on the ones before. The model is written to
<data dir>/models/risk-<service>.json; from then on deploy plan blends its probability half and
half with the rule-based score, as the "learned" factor, and --explain shows both.`,
		Example: "  hugai risk train --service demo\n  hugai risk train -f hugai.yaml -o json",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if service == "" {
				_, svc, err := loadServiceFile(file)
				if err != nil {
					return err
				}
				service = svc.Metadata.Name
			}
			dir, err := findDataDir(dataDir)
			if err != nil {
				return err
			}
			st, err := openStoreIn(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			samples, err := riskSamples(c.Context(), st, service)
			if err != nil {
				return err
			}
			m, err := learn.Train(service, samples, time.Now())
			if err != nil {
				return withCode(ExitFailed, fmt.Errorf("risk train: %w", err))
			}
			path := modelPath(dir, service)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return err
			}
			if err := a.writeOutput(path, append(b, '\n')); err != nil {
				return err
			}
			out := trainOut{Model: path, Service: service, Samples: m.Samples, Failed: m.Failures, AUC: m.AUC, HeldOut: m.HeldOut, Weights: map[string]float64{}}
			for i, f := range m.Features {
				out.Weights[f] = m.Weights[i]
			}
			return a.print(output, out, func(w io.Writer) error { return printTrain(w, out, m) })
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", "", "hugai's data dir (default: $HUGAI_DATA_DIR, else the nearest .hugai/)")
	c.Flags().StringVar(&service, "service", "", "the service (default: the one hugai.yaml describes)")
	c.Flags().StringVarP(&file, "file", "f", "", "service file naming the service (default: hugai.yaml, found walking up)")
	addOutputFlag(c, &output)
	return c
}

func printTrain(w io.Writer, o trainOut, m *learn.Model) error {
	auc := "not measured (the held-out rollouts all ended alike)"
	if o.AUC >= 0 {
		auc = fmt.Sprintf("%.3f on the %d most recent rollouts, held out", o.AUC, o.HeldOut)
	}
	fmt.Fprintf(w, "Model:    %s\nService:  %s\nTrained:  %d finished rollouts, %d rolled back\nAUC:      %s\n\nWeights (standardised features, largest first):\n",
		o.Model, o.Service, o.Samples, o.Failed, auc)
	idx := make([]int, len(m.Weights))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return abs(m.Weights[idx[a]]) > abs(m.Weights[idx[b]]) })
	for _, i := range idx {
		fmt.Fprintf(w, "  %+7.3f  %s\n", m.Weights[i], m.Features[i])
	}
	return nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func modelPath(dataDir, service string) string {
	return filepath.Join(dataDir, "models", "risk-"+service+".json")
}

// finished reports whether a rollout's end says something about its change: Succeeded, or
// rolled back (an abort is a person's choice, not an outcome).
func finished(phase string) (ok, failed bool) {
	switch rollout.Phase(phase) {
	case rollout.Succeeded:
		return true, false
	case rollout.RolledBack, rollout.Failed:
		return true, true
	}
	return false, false
}

// recentFailureRate is the share rolled back among the last (up to) 10 finished rollouts of
// prior, which is newest first.
func recentFailureRate(prior []store.Rollout) float64 {
	n, failed := 0, 0
	for _, r := range prior {
		ok, f := finished(r.Phase)
		if !ok {
			continue
		}
		n++
		if f {
			failed++
		}
		if n == 10 {
			break
		}
	}
	if n == 0 {
		return 0
	}
	return float64(failed) / float64(n)
}

// riskSamples turns a service's finished rollouts, oldest first, into training samples.
func riskSamples(ctx context.Context, st store.Store, service string) ([]learn.Sample, error) {
	rs, err := st.Rollouts(ctx, store.Filter{Service: service})
	if err != nil {
		return nil, err
	}
	var samples []learn.Sample
	for i := len(rs) - 1; i >= 0; i-- { // oldest first
		r := rs[i]
		ok, failed := finished(r.Phase)
		if !ok {
			continue
		}
		p, _, err := plan.ParsePlan("rollout "+r.ID, r.Plan)
		if err != nil || p.Spec.Changes == nil || p.Spec.Changes.Note != "" {
			continue // a rollout planned without change analysis says nothing of its change
		}
		var sameEnv []store.Rollout
		for _, q := range rs[i+1:] {
			if q.Environment == r.Environment {
				sameEnv = append(sameEnv, q)
			}
		}
		x := learn.Features(learn.FromPlan(p.Spec.Changes), r.CreatedAt, time.UTC, recentFailureRate(sameEnv))
		samples = append(samples, learn.Sample{X: x, Failed: failed})
	}
	return samples, nil
}

// learnedRisk is the service's model's view of the change being planned, or nil when no model is
// trained (or the data dir has none). A model file that cannot be used is an error: the user
// trained it and expects it to count.
func learnedRisk(ctx context.Context, dataDirFlag, from string, svc *plan.Service, env string, in *learn.Change, at time.Time) (*risk.Learned, error) {
	dir, err := findDataDirFrom(dataDirFlag, os.Getenv("HUGAI_DATA_DIR"), from)
	if err != nil {
		return nil, nil
	}
	b, err := os.ReadFile(modelPath(dir, svc.Metadata.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read risk model: %w", err)
	}
	var m learn.Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("risk model %s: %w", modelPath(dir, svc.Metadata.Name), err)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	rate := 0.0
	if st, err := sqlite.Open(filepath.Join(dir, DatabaseFile)); err == nil {
		rs, err := st.Rollouts(ctx, store.Filter{Service: svc.Metadata.Name, Environment: env, Limit: 50})
		st.Close()
		if err != nil {
			return nil, err
		}
		rate = recentFailureRate(rs)
	}
	var loc *time.Location
	if e, err := svc.Env(env); err == nil {
		loc = e.Location
	}
	p := m.Probability(learn.Features(*in, at, loc, rate))
	return &risk.Learned{Probability: p, AUC: m.AUC, Samples: m.Samples}, nil
}
