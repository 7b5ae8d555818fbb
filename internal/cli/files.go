package cli

import (
	"errors"
	"fmt"
	"github.com/hugai-dev/hugai/internal/plan"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// findServiceFile returns the service file to use: the flag's value, or hugai.yaml found walking up
// from the working directory, as git finds its repository.
// loadServiceFile finds the service file (-f, else hugai.yaml walking up), reads and parses it; a
// file that does not parse is bad input.
func loadServiceFile(flagValue string) (string, *plan.Service, error) {
	path, err := findServiceFile(flagValue)
	if err != nil {
		return "", nil, err
	}
	data, err := readInput(path)
	if err != nil {
		return "", nil, err
	}
	svc, err := plan.ParseService(path, data)
	if err != nil {
		return "", nil, badInput(err)
	}
	return path, svc, nil
}

func findServiceFile(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", badInput(fmt.Errorf("service file %s: %w", flagValue, errors.Unwrap(err)))
		}
		return flagValue, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "hugai.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", badInput(fmt.Errorf("no hugai.yaml here or in any parent directory: pass -f FILE, or write one with `hugai init`"))
		}
		dir = parent
	}
}

// readInput reads a user's file; a missing or unreadable file is bad input.
func readInput(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, badInput(fmt.Errorf("%s: %v", path, pe.Err))
		}
		return nil, badInput(err)
	}
	return b, nil
}

// writeOutput writes data to path atomically (temp file + rename), or to standard output for "-".
// A plan is never left half-written where a pipeline would pick it up.
func (a *app) writeOutput(path string, data []byte) error {
	return a.writeStreamed(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeStreamed writes to standard output for "-", to a device or pipe in place (--out /dev/null
// must never replace the device), else to a temp file renamed over path once complete, so a failed
// write never leaves a file that looks whole.
func (a *app) writeStreamed(path string, write func(io.Writer) error) error {
	if path == "-" || path == "" {
		return write(a.out)
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := write(f); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hugai-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
