// Package manifests holds the tests of the plain YAML that installs hugai in a cluster
// (config/rbac, config/manager): applied to a real API server, the ServiceAccount runs the
// kubernetes target and is refused what hugai never does. It has no code of its own.
package manifests
