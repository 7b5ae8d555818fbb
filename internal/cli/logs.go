package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/target/local"
)

// logsCmd is `hugai logs`: the output of the processes the local target runs, read from the data
// dir (no server needed, so it works while the server is down too).
func (a *app) logsCmd() *cobra.Command {
	var f struct {
		dataDir, service, env, run string
		follow, proxy              bool
	}
	c := &cobra.Command{
		Use:   "logs [VERSION]",
		Short: "Show the output of a version's processes on the local target (-f: follow)",
		Long: "logs prints the logs of a version's replicas (default: the current release, the version serving\n" +
			"users), each line prefixed with its replica when there are several; --proxy prints the proxy's,\n" +
			"--run smoke-test the smoke test's runs (each starts with a --- line).\n" +
			"Logs are rotated by size (10 MiB, 5 files each): the rotated copies are printed first. With -f it\n" +
			"then follows them, across rotations, until interrupted.",
		Example: "  hugai logs\n  hugai logs --environment production v2 -f",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			version := ""
			if len(args) == 1 {
				version = args[0]
			}
			if n := len(args) + btoi(f.proxy) + btoi(f.run != ""); n > 1 {
				return badInput(errors.New("give one of VERSION, --proxy and --run"))
			}
			dataDir, err := findDataDir(f.dataDir)
			if err != nil {
				return withCode(ExitFailed, err)
			}
			tl, err := findTargetLogs(dataDir, f.service, f.env)
			if err != nil {
				return err
			}
			sl, err := local.ReadServiceLogs(tl.dir, tl.service)
			if err != nil {
				return err
			}
			var list func() []local.LogSource
			prefix := false
			switch {
			case f.proxy:
				list = func() []local.LogSource { return []local.LogSource{sl.ProxyLog()} }
			case f.run != "":
				if !slices.Contains(sl.Runs, f.run) {
					return badInput(fmt.Errorf("no log of a %q run of %s in %s (runs with logs: %s)", f.run, tl.service, tl.env, orNone(sl.Runs)))
				}
				list = func() []local.LogSource { return []local.LogSource{sl.RunLog(f.run)} }
			default:
				if version, err = pickVersion(sl, version, tl); err != nil {
					return err
				}
				prefix = len(sl.Replicas[version]) > 1
				list = func() []local.LogSource {
					// Followed, replicas started meanwhile show up.
					if now, err := local.ReadServiceLogs(tl.dir, tl.service); err == nil {
						return now.VersionLogs(version)
					}
					return sl.VersionLogs(version)
				}
			}
			return local.CopyLogs(c.Context(), a.out, list, prefix, f.follow)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.env, "environment", "e", "", "environment (default: the only one with logs)")
	fl.StringVar(&f.service, "service", "", "service (default: the one of hugai.yaml, else the only one with logs)")
	fl.StringVar(&f.dataDir, "data-dir", "", "hugai's data dir (default: $HUGAI_DATA_DIR, else the nearest .hugai/)")
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing what is written, across rotations")
	fl.BoolVar(&f.proxy, "proxy", false, "the service's proxy's log instead of a version's")
	fl.StringVar(&f.run, "run", "", "the log of a command hugai runs for the service instead (smoke-test, database-rollback)")
	return c
}

// targetLogs is one service environment's local target, as the server lays it out in its data dir.
type targetLogs struct {
	dir, service, env string
}

// findTargetLogs picks the service environment whose logs to show. The server keeps each one in
// targets/<service>-<environment>/ with the logs in logs/<service>/ (localOptions), so the data dir
// alone tells which exist, even where a name holds a dash.
func findTargetLogs(dataDir, service, env string) (targetLogs, error) {
	var all []targetLogs
	root := filepath.Join(dataDir, "targets")
	ents, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return targetLogs{}, fmt.Errorf("read %s: %w", root, err)
	}
	for _, e := range ents {
		logs, err := os.ReadDir(filepath.Join(root, e.Name(), "logs"))
		if err != nil {
			continue
		}
		for _, s := range logs {
			if s.IsDir() && strings.HasPrefix(e.Name(), s.Name()+"-") {
				all = append(all, targetLogs{dir: filepath.Join(root, e.Name()), service: s.Name(), env: strings.TrimPrefix(e.Name(), s.Name()+"-")})
			}
		}
	}
	if len(all) == 0 {
		return targetLogs{}, badInput(fmt.Errorf("no logs in %s: the server has run nothing on the local target yet", dataDir))
	}
	services := names(all, func(t targetLogs) string { return t.service })
	if service == "" && len(services) > 1 {
		// The service file's service, when there is one here.
		if path, err := findServiceFile(""); err == nil {
			if data, err := os.ReadFile(path); err == nil {
				if svc, err := plan.ParseService(path, data); err == nil && slices.Contains(services, svc.Metadata.Name) {
					service = svc.Metadata.Name
				}
			}
		}
		if service == "" {
			return targetLogs{}, badInput(fmt.Errorf("%s holds the logs of several services: pass --service (one of %s)", dataDir, strings.Join(services, ", ")))
		}
	}
	if service != "" {
		if !slices.Contains(services, service) {
			return targetLogs{}, badInput(fmt.Errorf("no logs of service %q in %s (services with logs: %s)", service, dataDir, strings.Join(services, ", ")))
		}
		all = slices.DeleteFunc(all, func(t targetLogs) bool { return t.service != service })
	}
	envs := names(all, func(t targetLogs) string { return t.env })
	switch {
	case env != "":
		i := slices.IndexFunc(all, func(t targetLogs) bool { return t.env == env })
		if i < 0 {
			return targetLogs{}, badInput(fmt.Errorf("no logs of %s in environment %q (environments with logs: %s)", all[0].service, env, strings.Join(envs, ", ")))
		}
		return all[i], nil
	case len(all) > 1:
		return targetLogs{}, badInput(fmt.Errorf("%s has logs in several environments: pass --environment (one of %s)", all[0].service, strings.Join(envs, ", ")))
	}
	return all[0], nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func names(ts []targetLogs, key func(targetLogs) string) []string {
	var out []string
	for _, t := range ts {
		if k := key(t); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// pickVersion checks the version asked for, or picks the current release's.
func pickVersion(sl local.ServiceLogs, version string, tl targetLogs) (string, error) {
	known := sl.Versions()
	describe := func() string {
		if len(known) == 0 {
			return "no version has logs yet"
		}
		var vs []string
		for _, v := range known {
			if v == sl.Current {
				v += " (current)"
			}
			vs = append(vs, v)
		}
		return "versions with logs: " + strings.Join(vs, ", ")
	}
	switch {
	case version != "":
		if _, ok := sl.Replicas[version]; !ok {
			return "", badInput(fmt.Errorf("no logs of version %q of %s in %s (%s)", version, tl.service, tl.env, describe()))
		}
		return version, nil
	case sl.Current != "" && len(sl.Replicas[sl.Current]) > 0:
		return sl.Current, nil
	case len(known) == 1:
		return known[0], nil
	}
	return "", badInput(fmt.Errorf("%s in %s has no current release: name a VERSION (%s)", tl.service, tl.env, describe()))
}
