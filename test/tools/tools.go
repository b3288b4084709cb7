// Package tools finds what `make tools` installs into test/tools: the
// Node.js packages stint's tests run (dynalite, the Service Bus stand-in's
// rhea, @azure/service-bus), and Node.js itself.
package tools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Root is the module's root: the first directory holding go.mod at or
// above the working directory (a test's is its package's).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Need checks that Node.js is on PATH and that each npm package is
// installed, saying what is missing and to run `make tools`; who names the
// server that needs them.
func Need(who string, packages ...string) error {
	root, err := Root()
	if err != nil {
		return err
	}
	for _, pkg := range packages {
		p := filepath.Join(root, "test", "tools", "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s needs %s, which is not installed (%s missing): run `make tools`", who, pkg, p)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%s needs Node.js 20 or later on PATH: %w", who, err)
	}
	return nil
}
