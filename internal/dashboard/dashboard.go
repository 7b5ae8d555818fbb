// Package dashboard is hugai's web dashboard: pages rendered on the server (html/template) with a
// little JavaScript, served by `hugai server` beside the API. It reads through the same engine the
// API serves, and every action a person takes in it (approve, reject, promote, abort, resume,
// rollback) is a call of the API from the page, with the same identity and the same policy: the
// dashboard shows a button only to whom the policy would allow it, and the API refuses a forged one.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/plan"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Engine is what the dashboard reads (the engine, as the API serves it).
type Engine interface {
	Info() api.ServerInfo
	Get(ctx context.Context, id string) (api.Rollout, error)
	List(ctx context.Context, f api.ListFilter) ([]api.Rollout, error)
	Measurements(ctx context.Context, id string) ([]api.Measurement, error)
	Approvals(ctx context.Context, id string) ([]api.Approval, error)
	Plan(ctx context.Context, id string) ([]byte, error)
	Audit(ctx context.Context, f api.AuditFilter) ([]audit.Event, error)
}

// Roles, lowest first: what a person may do grows with each.
const (
	RoleViewer   = "viewer"
	RoleDeployer = "deployer"
	RoleApprover = "approver"
	RoleAdmin    = "admin"
)

var roleRank = map[string]int{RoleViewer: 1, RoleDeployer: 2, RoleApprover: 3, RoleAdmin: 4}

// Viewer is who looks at a page, as the server's authentication found them.
type Viewer struct {
	Subject string
	// Role is the highest role the policy gives them anywhere; Can refines it per environment.
	Role string
	// Can says whether the API would let them run a command on a rollout; nil: by Role alone
	// (approve and reject need approver, the other commands deployer).
	Can func(r api.Rollout, kind string) bool
	// CSRF is the token the page sends back with every API call it makes (X-CSRF-Token).
	CSRF string
}

func (v Viewer) can(r api.Rollout, kind string) bool {
	if v.Can != nil {
		return v.Can(r, kind)
	}
	need := RoleDeployer
	if kind == "approve" || kind == "reject" {
		need = RoleApprover
	}
	return roleRank[v.Role] >= roleRank[need]
}

// Options wire the dashboard into its server.
type Options struct {
	// Who is the viewer of a request; false sends the browser to the login page.
	Who func(r *http.Request) (Viewer, bool)
	// Login, when set, serves the login page (a token, or OIDC) at /login: the server's own.
	Login http.Handler
	Logf  func(format string, args ...any)
}

// Handler serves the dashboard's pages; mount it on the server's mux at "/".
type Handler struct {
	e    Engine
	opts Options
	tmpl *template.Template
	mux  *http.ServeMux
}

// New parses the templates and returns the dashboard.
func New(e Engine, opts Options) (*Handler, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard templates: %w", err)
	}
	h := &Handler{e: e, opts: opts, tmpl: t, mux: http.NewServeMux()}
	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	h.mux.HandleFunc("GET /{$}", h.authed(h.overview))
	h.mux.HandleFunc("GET /rollouts", h.authed(h.rollouts))
	h.mux.HandleFunc("GET /rollouts/{id}", h.authed(h.rollout))
	h.mux.HandleFunc("GET /audit", h.authed(h.audit))
	h.mux.HandleFunc("GET /tokens", h.authed(func(w http.ResponseWriter, r *http.Request, v Viewer) {
		h.render(w, "tokens.html", page{Title: "Tokens", Viewer: v, Now: time.Now()})
	}))
	if opts.Login != nil {
		h.mux.Handle("/login", opts.Login)
		h.mux.Handle("/login/", opts.Login)
		h.mux.Handle("/logout", opts.Login)
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Pages are never framed (clickjacking) and load nothing from elsewhere.
	hd := w.Header()
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(d/time.Second)))
		next.ServeHTTP(w, r)
	})
}

// authed serves page only to a known viewer; anyone else goes to the login page.
func (h *Handler) authed(page func(w http.ResponseWriter, r *http.Request, v Viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := Viewer{}, false
		if h.opts.Who != nil {
			v, ok = h.opts.Who(r)
		}
		if !ok {
			if h.opts.Login == nil {
				http.Error(w, "not signed in", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		page(w, r, v)
	}
}

// page is what every template gets.
type page struct {
	Title  string
	Viewer Viewer
	Now    time.Time
	Data   any
}

func (h *Handler) render(w http.ResponseWriter, name string, p page) {
	var b strings.Builder
	if err := h.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		h.opts.Logf("dashboard %s: %v", name, err)
		http.Error(w, "the page could not be drawn; the server's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
}

func (h *Handler) fail(w http.ResponseWriter, what string, err error) {
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeNotFound {
		http.Error(w, ae.Message, http.StatusNotFound)
		return
	}
	h.opts.Logf("dashboard %s: %v", what, err)
	http.Error(w, what+": the server's log says why", http.StatusInternalServerError)
}

// envRow is one service environment on the overview.
type envRow struct {
	Service, Environment, Stable, Listen string
	Active                               *api.Rollout
	Last                                 *api.Rollout
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, v Viewer) {
	info := h.e.Info()
	var rows []envRow
	for _, s := range info.Services {
		row := envRow{Service: s.Name, Environment: s.Environment, Stable: s.Stable, Listen: s.Listen}
		rs, err := h.e.List(r.Context(), api.ListFilter{Service: s.Name, Environment: s.Environment, Limit: 1})
		if err != nil {
			h.fail(w, "overview", err)
			return
		}
		if len(rs) > 0 {
			if rs[0].Terminal {
				row.Last = &rs[0]
			} else {
				row.Active = &rs[0]
			}
		}
		rows = append(rows, row)
	}
	h.render(w, "overview.html", page{Title: "Services", Viewer: v, Now: time.Now(), Data: rows})
}

func (h *Handler) rollouts(w http.ResponseWriter, r *http.Request, v Viewer) {
	q := r.URL.Query()
	f := api.ListFilter{Service: q.Get("service"), Environment: q.Get("environment"), Active: q.Get("active") == "true", Limit: 100}
	rs, err := h.e.List(r.Context(), f)
	if err != nil {
		h.fail(w, "rollouts", err)
		return
	}
	h.render(w, "rollouts.html", page{Title: "Rollouts", Viewer: v, Now: time.Now(), Data: struct {
		Filter   api.ListFilter
		Rollouts []api.Rollout
	}{f, rs}})
}

// detail is a rollout's page.
type detail struct {
	R         api.Rollout
	Actions   []action
	Approvals []api.Approval
	Events    []audit.Event
	Risk      *plan.Risk
	Weights   chart
	Errors    chart
}

// action is a command the viewer may send in the rollout's phase.
type action struct {
	Kind, Label string
	Comment     bool // asks for a comment (approve, reject, abort, rollback)
	Danger      bool
}

func (h *Handler) rollout(w http.ResponseWriter, r *http.Request, v Viewer) {
	id := r.PathValue("id")
	ctx := r.Context()
	ro, err := h.e.Get(ctx, id)
	if err != nil {
		h.fail(w, "rollout "+id, err)
		return
	}
	d := detail{R: ro, Actions: actionsFor(ro, v)}
	if d.Approvals, err = h.e.Approvals(ctx, id); err != nil {
		h.fail(w, "approvals of "+id, err)
		return
	}
	ms, err := h.e.Measurements(ctx, id)
	if err != nil {
		h.fail(w, "measurements of "+id, err)
		return
	}
	evs, err := h.e.Audit(ctx, api.AuditFilter{Subject: "rollout/" + id, Limit: 1000})
	if err != nil {
		h.fail(w, "audit of "+id, err)
		return
	}
	d.Events = evs
	d.Weights = weightChart(ro, evs)
	d.Errors = errorChart(ms)
	if p, err := h.e.Plan(ctx, id); err == nil && len(p) > 0 {
		var dp plan.DeploymentPlan
		if yaml.Unmarshal(p, &dp) == nil {
			d.Risk = dp.Spec.Risk
		}
	}
	name := "rollout.html"
	if r.URL.Query().Get("fragment") == "live" {
		name = "live" // the part the page redraws on each event
	}
	h.render(w, name, page{Title: "Rollout " + ro.ID, Viewer: v, Now: time.Now(), Data: d})
}

// actionsFor lists the commands that make sense in r's phase and that v may send.
func actionsFor(r api.Rollout, v Viewer) []action {
	if r.Terminal {
		if r.Phase == "Succeeded" && v.can(r, "rollback") {
			return []action{{Kind: "rollback", Label: "Roll back this release", Comment: true, Danger: true}}
		}
		return nil
	}
	var out []action
	add := func(a action) {
		if v.can(r, a.Kind) {
			out = append(out, a)
		}
	}
	if r.Approval != nil {
		add(action{Kind: "approve", Label: "Approve", Comment: true})
		add(action{Kind: "reject", Label: "Reject", Comment: true, Danger: true})
	}
	switch r.Phase {
	case "Paused":
		add(action{Kind: "resume", Label: "Resume"})
	case "Progressing":
		add(action{Kind: "promote", Label: "Promote"})
	}
	add(action{Kind: "rollback", Label: "Roll back", Comment: true, Danger: true})
	add(action{Kind: "abort", Label: "Abort", Comment: true, Danger: true})
	return out
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, v Viewer) {
	q := r.URL.Query()
	f := api.AuditFilter{Subject: q.Get("subject"), Limit: 200}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "after: want a sequence number", http.StatusBadRequest)
			return
		}
		f.AfterSeq = n
	}
	evs, err := h.e.Audit(r.Context(), f)
	if err != nil {
		h.fail(w, "audit", err)
		return
	}
	typ := q.Get("type")
	actor := q.Get("actor")
	evs = slices.DeleteFunc(evs, func(e audit.Event) bool {
		return typ != "" && !strings.HasPrefix(e.Type, typ) || actor != "" && e.Actor != actor
	})
	var next int64
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	h.render(w, "audit.html", page{Title: "Audit", Viewer: v, Now: time.Now(), Data: struct {
		Subject, Type, Actor string
		Events               []audit.Event
		Next                 int64
	}{f.Subject, typ, actor, evs, next}})
}
