package server

import "github.com/hugai-dev/hugai/internal/policy"

// Route is what a route of the API asks of its caller.
type Route struct {
	// Role is the least role the caller must hold. Where the request names its environment (a
	// rollout's ID, ?environment=) it is the role there; elsewhere, the role held in at least one
	// environment, or in every one with Everywhere. The engine then decides the request itself
	// by the environment's policy (approving needs approver, starting needs deployer there).
	Role       policy.Role
	Everywhere bool
	// Listing routes read every environment unless ?environment= names one: without it the role
	// is needed everywhere (a token for one environment is narrowed to it).
	Listing bool
	// Public routes need no authentication at all (health probes).
	Public bool
	// Operator routes run the server rather than a rollout (stop it, manage tokens): the
	// server's owner may call them on the socket whatever the policies say, as it could kill
	// the process and read the data dir anyway. It gains no role in any environment by it.
	Operator bool
}

// RouteRoles declares the least role of every route of the API, keyed by its ServeMux pattern. A
// route registered without an entry here is refused to everyone (403), so a new route is closed
// until its author says who may call it: add `"METHOD /api/v1/path": {Role: policy.Viewer}` here
// (docs/governance.md lists them for users).
var RouteRoles = map[string]Route{
	"GET /api/v1/info":                       {Role: policy.Viewer},
	"GET /api/v1/rollouts":                   {Role: policy.Viewer, Listing: true},
	"GET /api/v1/rollouts/{id}":              {Role: policy.Viewer},
	"GET /api/v1/rollouts/{id}/approvals":    {Role: policy.Viewer},
	"GET /api/v1/rollouts/{id}/measurements": {Role: policy.Viewer},
	"GET /api/v1/rollouts/{id}/plan":         {Role: policy.Viewer},
	"GET /api/v1/rollouts/{id}/events":       {Role: policy.Viewer},
	"GET /api/v1/events":                     {Role: policy.Viewer, Listing: true},
	"POST /api/v1/rollouts":                  {Role: policy.Deployer},
	"POST /api/v1/rollouts/{id}/commands":    {Role: policy.Deployer},
	"GET /api/v1/monitor":                    {Role: policy.Viewer},
	"GET /api/v1/audit":                      {Role: policy.Viewer, Everywhere: true},
	"GET /api/v1/audit/verify":               {Role: policy.Viewer, Everywhere: true},
	// A release run starts rollouts in every stage's environment for its executor, by name,
	// after the request is gone: its executor must deploy everywhere, with no narrower token.
	"POST /api/v1/release-runs":     {Role: policy.Deployer, Everywhere: true},
	"GET /api/v1/release-runs":      {Role: policy.Viewer, Everywhere: true},
	"GET /api/v1/release-runs/{id}": {Role: policy.Viewer, Everywhere: true},
	"GET /metrics":                  {Role: policy.Viewer},
	"GET /api/v1/openapi.yaml":      {Public: true},
	"GET /healthz":                  {Public: true},
	"GET /readyz":                   {Public: true},
	"POST /api/v1/shutdown":         {Role: policy.Admin, Everywhere: true, Operator: true},
	"GET /api/v1/tokens":            {Role: policy.Admin, Operator: true},
	"POST /api/v1/tokens":           {Role: policy.Admin, Operator: true},
	"DELETE /api/v1/tokens/{name}":  {Role: policy.Admin, Operator: true},
	// The answer to an unknown path: any authenticated caller may learn there is no such route.
	"/": {Role: policy.NoRole},
}
