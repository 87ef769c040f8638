// Package e2e holds the upgrade specs. Each spec is a function taking an
// input struct (upgrade_path.go); the _test.go files register them for the
// scenarios and flags chosen.
package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"etcd-upgrade-e2e/framework/upgrade"
)

// Config is what the suite's flags say. Pass flags after `--`:
// ginkgo ./e2e -- -path=3.5.19,3.5.21,3.6.4 -strategy=replace -keep
type Config struct {
	Path          string
	Strategy      string
	Expect        string
	Provider      string
	Artifacts     string
	Keep          bool
	NodeImage     string
	SnapshotCount int
	CatchUpWrites int
}

// Bind registers the flags on fs.
func (c *Config) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Path, "path", "", "run only this path: comma-separated etcd versions, the first is the starting cluster (e.g. 3.5.19,3.5.21,3.6.4)")
	fs.StringVar(&c.Strategy, "strategy", string(upgrade.InPlace), "strategy of every hop of -path: in-place, replace or kubeadm-upgrade (kind only: a real kubeadm upgrade to Kubernetes "+KubeadmUpgradeTarget+")")
	fs.StringVar(&c.Expect, "expect", string(upgrade.Consistent), "verdict -path is expected to give: consistent, inconsistent or upgrade-failed")
	fs.StringVar(&c.Provider, "provider", "process", "where clusters run: process, kind or all")
	fs.StringVar(&c.Artifacts, "artifacts", "", "artifacts dir (default $ARTIFACTS, else ./_artifacts at the repository root)")
	fs.BoolVar(&c.Keep, "keep", false, "keep data dirs, logs (and kind clusters) after each spec, and print how to inspect them")
	fs.StringVar(&c.NodeImage, "node-image", "", "kind node image (default: found or built automatically)")
	fs.IntVar(&c.SnapshotCount, "snapshot-count", 100, "etcd --snapshot-count of every member")
	fs.IntVar(&c.CatchUpWrites, "catch-up-writes", 6000, "writes after the cluster is built; must exceed 5000 + snapshot-count so new members get a raft snapshot")
}

// Providers expands -provider.
func (c *Config) Providers() []string {
	if c.Provider == "all" {
		return []string{"process", "kind"}
	}
	return []string{c.Provider}
}

// Validate checks every flag before anything starts.
func (c *Config) Validate() error {
	var errs []error
	switch c.Provider {
	case "process", "kind", "all":
	default:
		errs = append(errs, fmt.Errorf("unknown provider %q: want process, kind or all", c.Provider))
	}
	if st, err := upgrade.ParseStrategy(c.Strategy); err != nil {
		errs = append(errs, err)
	} else if st == upgrade.KubeadmUpgrade && c.Path != "" && c.Provider == "process" {
		errs = append(errs, fmt.Errorf("-strategy=%s needs -provider=kind: the process provider runs no Kubernetes", st))
	}
	if _, err := ParseVerdict(c.Expect); err != nil {
		errs = append(errs, err)
	}
	if c.Path != "" {
		if _, err := upgrade.ParsePath(c.Path, c.Strategy, 3); err != nil {
			errs = append(errs, fmt.Errorf("-path: %w", err))
		}
	}
	if c.SnapshotCount < 1 {
		errs = append(errs, fmt.Errorf("-snapshot-count %d: must be positive", c.SnapshotCount))
	}
	if c.CatchUpWrites <= 5000+c.SnapshotCount {
		errs = append(errs, fmt.Errorf("-catch-up-writes %d: must exceed 5000 + snapshot-count (%d), or new members are sent log entries instead of a raft snapshot", c.CatchUpWrites, 5000+c.SnapshotCount))
	}
	if err := checkWritable(c.ArtifactsDir()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ArtifactsDir resolves -artifacts.
func (c *Config) ArtifactsDir() string {
	if c.Artifacts != "" {
		return absolute(c.Artifacts)
	}
	if a := os.Getenv("ARTIFACTS"); a != "" {
		return absolute(a)
	}
	wd, _ := os.Getwd()
	if filepath.Base(wd) == "e2e" { // ginkgo runs the suite in its package dir
		wd = filepath.Dir(wd)
	}
	return filepath.Join(wd, "_artifacts")
}

func absolute(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("artifacts dir %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-")
	if err != nil {
		return fmt.Errorf("artifacts dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// ParseVerdict accepts consistent, inconsistent or upgrade-failed.
func ParseVerdict(s string) (upgrade.Verdict, error) {
	for _, v := range upgrade.Verdicts {
		if string(v) == s {
			return v, nil
		}
	}
	var names []string
	for _, v := range upgrade.Verdicts {
		names = append(names, string(v))
	}
	return "", fmt.Errorf("unknown verdict %q: want one of %s", s, strings.Join(names, ", "))
}
