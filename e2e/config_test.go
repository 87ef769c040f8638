package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// TestConfigRejectsBadInput checks that every bad flag is refused, before any
// member starts, with a message naming the problem.
func TestConfigRejectsBadInput(t *testing.T) {
	// A path below a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := func() Config {
		return Config{Strategy: "in-place", Expect: "consistent", Provider: "process", Artifacts: t.TempDir(), SnapshotCount: 100, CatchUpWrites: 6000, KindParallel: 1}
	}
	if err := func() error { c := good(); return c.Validate() }(); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	withSignature := good()
	withSignature.set = map[string]bool{"expect": true}
	withSignature.Path, withSignature.Expect, withSignature.ExpectStep, withSignature.ExpectLine = "3.5.17,3.6.5", "upgrade-failed", "hop 1", "too many learner"
	if err := withSignature.Validate(); err != nil {
		t.Fatalf("an expected failure with its signature refused: %v", err)
	}
	// A scenario not measured on kind yet runs there with the process
	// verdict as its hypothesis (two at once, as -scenario lists them). The
	// matrix may have none left, so the catalog is made here.
	var unmeasured []scenarios.Scenario
	for _, back := range []string{"3.5.21", "3.5.35"} {
		p, err := upgrade.ParsePath("3.5.21,3.6.5,"+back, string(upgrade.InPlace), 3)
		if err != nil {
			t.Fatal(err)
		}
		sc := scenarios.Scenario{Kubernetes: "test", Path: p, Suffix: "test"}
		sc.Name = scenarios.Name(sc.Path, sc.Suffix)
		sc.Expected = map[string]scenarios.Expectation{"process": {Expected: upgrade.Expected{Verdict: upgrade.Consistent}, Evidence: "test"}}
		sc.NotOn = map[string]string{"kind": "not measured on kind yet: test"}
		unmeasured = append(unmeasured, sc)
	}
	catalog := func() []scenarios.Scenario { return unmeasured }
	measureOnKind := good()
	measureOnKind.catalog = catalog
	measureOnKind.Scenario, measureOnKind.ExpectFrom, measureOnKind.Provider = unmeasured[0].Name+","+unmeasured[1].Name, "process", "kind"
	if err := measureOnKind.Validate(); err != nil {
		t.Fatalf("scenarios not measured on kind yet, run there with the process verdict as hypothesis, refused: %v", err)
	}
	withoutExpectFrom := good()
	withoutExpectFrom.catalog = catalog
	withoutExpectFrom.Scenario, withoutExpectFrom.Provider = unmeasured[0].Name, "kind"
	if err := withoutExpectFrom.Validate(); err == nil || !strings.Contains(err.Error(), "not measured on kind yet") {
		t.Fatalf("a scenario not measured on kind, run there without -expect-from: got %v, want its reason", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"malformed version", func(c *Config) { c.Path = "3.5.17,banana" }, `malformed etcd version "banana"`},
		{"unknown version line", func(c *Config) { c.Path = "3.5.17,3.8.1" }, "etcd 3.8.1 is not supported"},
		{"one version", func(c *Config) { c.Path = "3.5.17" }, "an upgrade needs at least one hop"},
		{"downgrade as a strategy", func(c *Config) { c.Path, c.Strategy = "3.5.21,3.6.5", "downgrade" }, "write the downgrade as a lower version in the path"},
		{"halted start", func(c *Config) { c.Path = "3.5.21/1,3.6.5,3.5.21" }, "/N belongs to a hop"},
		{"halted whole hop", func(c *Config) { c.Path = "3.5.21,3.6.5/3,3.5.21" }, "that is the whole hop"},
		{"unknown strategy", func(c *Config) { c.Strategy = "blue-green" }, `unknown strategy "blue-green"`},
		{"unknown provider", func(c *Config) { c.Provider = "minikube" }, `unknown provider "minikube"`},
		{"unknown verdict", func(c *Config) { c.Expect = "fine" }, `unknown verdict "fine"`},
		{"artifacts not writable", func(c *Config) { c.Artifacts = filepath.Join(file, "artifacts") }, "cannot be created"},
		{"kubeadm upgrade on processes", func(c *Config) { c.Path = "3.5.21,3.6.5"; c.Strategy = "kubeadm-upgrade" }, "-strategy=kubeadm-upgrade needs -provider=kind"},
		{"member update inside kubeadm's joins", func(c *Config) { c.Path = "3.5.24+member-update,3.6.5"; c.Provider = "all" }, "does not run on -provider=kind: kind joins control planes with kubeadm join"},
		{"two kubeadm upgrades", func(c *Config) { c.Path = "3.5.21,3.6.4,3.6.5"; c.Strategy = "kubeadm-upgrade"; c.Provider = "kind" }, "at most once"},
		{"too few catch-up writes", func(c *Config) { c.CatchUpWrites = 100 }, "must exceed 5000 + snapshot-count"},
		{"no kind slot", func(c *Config) { c.KindParallel = 0 }, "-kind-parallel 0: must be at least 1"},
		{"strategy without a path", func(c *Config) { c.set = map[string]bool{"strategy": true}; c.Strategy = "replace" }, "-strategy applies to -path, which is not given"},
		{"expect without a path", func(c *Config) { c.set = map[string]bool{"expect": true}; c.Expect = "upgrade-failed" }, "-expect applies to -path"},
		{"expected failure with no signature", func(c *Config) {
			c.set = map[string]bool{"expect": true}
			c.Path, c.Expect = "3.5.21,3.6.5", "upgrade-failed"
		}, "names what makes it so"},
		{"expected failure with a step but no line", func(c *Config) {
			c.set = map[string]bool{"expect": true}
			c.Path, c.Expect, c.ExpectStep = "3.5.21,3.6.5", "upgrade-failed", "hop 1"
		}, "no line pattern"},
		{"inconsistent with an unknown check", func(c *Config) {
			c.set = map[string]bool{"expect": true}
			c.Path, c.Expect, c.ExpectCheck, c.ExpectLine = "3.5.21,3.6.5", "inconsistent", "vibes", "x"
		}, `check "vibes"`},
		{"harness-error cannot be expected", func(c *Config) {
			c.set = map[string]bool{"expect": true}
			c.Path, c.Expect = "3.5.21,3.6.5", "harness-error"
		}, `unknown verdict "harness-error"`},
		{"unknown scenario", func(c *Config) { c.Scenario = "3.5.17-to-banana" }, "no scenario of the matrix has that name"},
		{"scenario and path", func(c *Config) { c.Scenario, c.Path = "3.5.17-to-3.6.5-replace", "3.5.17,3.6.5" }, "give one"},
		{"kubeadm scenario on processes", func(c *Config) { c.Scenario = "3.5.21-to-3.6.5-kubeadm-upgrade" }, "runs no Kubernetes"},
		{"one unknown name among several scenarios", func(c *Config) { c.Scenario = "3.5.21-to-3.6.5-replace, 3.5.17-to-banana" }, `-scenario "3.5.17-to-banana": no scenario`},
		{"expect-from without a scenario", func(c *Config) { c.ExpectFrom = "process"; c.Provider = "kind" }, "-expect-from applies to -scenario"},
		{"expect-from for a scenario that means nothing there", func(c *Config) {
			c.Scenario, c.ExpectFrom, c.Provider = "3.5.17-to-3.6.5-in-place-static", "process", "kind"
		}, "kind builds control planes with kubeadm only"},
		{"expect-from for a scenario measured there already", func(c *Config) {
			c.Scenario, c.ExpectFrom, c.Provider = "3.5.21-to-3.6.5-replace", "process", "kind"
		}, "measured on kind already"},
		{"a matrix path where its scenario does not run", func(c *Config) { c.Path, c.Provider = "3.7.3,3.5.21", "kind" }, "is the matrix scenario 3.7.3-to-3.5.21-downgrade, which does not run on -provider=kind: kubeadm 1.33 cannot create a cluster at etcd 3.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// A spec's folder is emptied of an earlier run's reports, and an earlier
// run's data (kept, or left by a killed run) is moved aside, never reused.
func TestStartClean(t *testing.T) {
	root := t.TempDir()
	fresh := filepath.Join(root, "fresh")
	if note, err := startClean(fresh); err != nil || note != "" {
		t.Fatalf("new folder: %q, %v", note, err)
	}
	reports := filepath.Join(root, "reports")
	mustWrite(t, filepath.Join(reports, "result.json"))
	if note, err := startClean(reports); err != nil || note != "" {
		t.Fatalf("reports only: %q, %v", note, err)
	}
	if entries, _ := os.ReadDir(reports); len(entries) != 0 {
		t.Fatalf("an earlier run's reports were kept: %v", entries)
	}
	for name, file := range map[string]string{
		"data dir":   filepath.Join("m-cp1", "data", "member", "wal", "0.wal"),
		"audit copy": filepath.Join("audits", "01-before-upgrade-cp1.data", "member", "snap", "db"),
		"kept kind":  keptMarker,
	} {
		dir := filepath.Join(root, strings.ReplaceAll(name, " ", "-"))
		mustWrite(t, filepath.Join(dir, file))
		note, err := startClean(dir)
		if err != nil || !strings.Contains(note, "moved it to") {
			t.Fatalf("%s: %q, %v", name, note, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%s: the spec does not start clean: %v", name, entries)
		}
		aside, _ := filepath.Glob(dir + ".earlier-*")
		if len(aside) != 1 {
			t.Fatalf("%s: earlier data not moved aside: %v", name, aside)
		}
		if _, err := os.Stat(filepath.Join(aside[0], file)); err != nil {
			t.Fatalf("%s: earlier data lost: %v", name, err)
		}
	}
}

func mustWrite(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
