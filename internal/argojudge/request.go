package argojudge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
)

// Request is what Argo's web provider asks, from the URL's query (GET and POST) and, for a POST,
// a JSON object with the same keys (the template's jsonBody) filling in what the URL left out.
type Request struct {
	// Service is the service file's metadata.name ({{args.service-name}}).
	Service string `json:"service"`
	// Namespace is the Rollout's namespace ({{args.namespace}}); it picks the service file when
	// several namespaces have one of the same name, and the environment when none is named.
	Namespace string `json:"namespace"`
	// Environment is the service file's environment whose analysis settings rule; default: the
	// one named like the namespace, else the file's only one.
	Environment string `json:"environment"`
	// Canary and Stable are the two versions, as the service file's queries read them in
	// {{.Version}}: with Argo, the pod-template hashes valueFrom.podTemplateHashValue gives
	// (Latest and Stable), which pods carry as rollouts-pod-template-hash.
	Canary string `json:"canary"`
	Stable string `json:"stable"`
}

// The arguments end up inside PromQL label matchers ({{.Version}}, {{.Service}}): only characters
// that cannot close a string or a matcher are taken, so an argument cannot rewrite a query.
var (
	dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	version = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._+-]{0,126}[A-Za-z0-9])?$`)
)

// maxBody bounds a POST's body: the arguments are a few short strings.
const maxBody = 64 << 10

// ParseRequest reads a request's arguments and checks each. Its errors say which argument is
// wrong and why; the handler answers them with 400.
func ParseRequest(r *http.Request) (Request, error) {
	var q Request
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return q, fmt.Errorf("read the body: %w", err)
		}
		if len(b) > maxBody {
			return q, fmt.Errorf("body over %d bytes", maxBody)
		}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &q); err != nil {
				return q, fmt.Errorf("body: want a JSON object with service, namespace, environment, canary, stable: %v", err)
			}
		}
	default:
		return q, errMethod
	}
	u, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, fmt.Errorf("query: %w", err)
	}
	for _, f := range []struct {
		key string
		to  *string
	}{{"service", &q.Service}, {"namespace", &q.Namespace}, {"environment", &q.Environment}, {"canary", &q.Canary}, {"stable", &q.Stable}} {
		if vs := u[f.key]; len(vs) > 1 {
			return q, fmt.Errorf("%s given %d times", f.key, len(vs))
		} else if len(vs) == 1 {
			*f.to = vs[0]
		}
	}
	return q, q.check(false)
}

var errMethod = errors.New("want GET or POST")

// check checks each argument; versions says whether canary and stable must be there (after the
// handler's Versions filled them in) or may still be empty (a Versions will).
func (q Request) check(versions bool) error {
	for _, f := range []struct {
		key, value string
		re         *regexp.Regexp
		required   bool
	}{
		{"service", q.Service, dnsName, true},
		{"namespace", q.Namespace, dnsName, false},
		{"environment", q.Environment, dnsName, false},
		{"canary", q.Canary, version, versions},
		{"stable", q.Stable, version, versions},
	} {
		switch {
		case f.value == "" && f.required:
			return fmt.Errorf("%s: missing", f.key)
		case f.value != "" && !f.re.MatchString(f.value):
			return fmt.Errorf("%s: %q is not a name (want letters, digits, '-', '.', at most 253)", f.key, trim(f.value))
		}
	}
	if q.Canary == q.Stable && q.Canary != "" {
		return fmt.Errorf("canary and stable are both %q: nothing to compare (the rollout has no canary yet?)", q.Canary)
	}
	return nil
}

func trim(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
