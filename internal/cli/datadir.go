package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DatabaseFile is the name of the SQLite store inside the data dir.
const DatabaseFile = "hugai.db"

// dataDirName is the directory `hugai server` creates where it starts, found again by walking up.
const dataDirName = ".hugai"

// findDataDir returns hugai's data dir: the --data-dir flag, else $HUGAI_DATA_DIR, else the
// nearest .hugai/ walking up from the working directory, as git finds its repository.
func findDataDir(flagValue string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find data dir: %w", err)
	}
	return findDataDirFrom(flagValue, os.Getenv("HUGAI_DATA_DIR"), wd)
}

// findDataDirFrom is findDataDir with its inputs passed in, so tests need not change the process's
// environment or working directory.
func findDataDirFrom(flagValue, envValue, wd string) (string, error) {
	for _, v := range []string{flagValue, envValue} {
		if v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(wd, v)
		}
		return filepath.Clean(v), nil
	}
	dir := wd
	for {
		p := filepath.Join(dir, dataDirName)
		fi, err := os.Stat(p)
		if err == nil && fi.IsDir() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find data dir: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s/ data dir in %s or any parent directory: start one with `hugai server` "+
				"(it creates %s/ in the current directory), or pass --data-dir or set HUGAI_DATA_DIR", dataDirName, wd, dataDirName)
		}
		dir = parent
	}
}
