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
	"slices"
	"strconv"
	"strings"

	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// Config is what the suite's flags say. Pass flags after `--`:
// ginkgo ./e2e -- -path=3.5.19,3.5.21,3.6.4 -strategy=replace -keep
type Config struct {
	Path     string
	Scenario string
	// ExpectFrom runs -scenario on a provider where it is not measured yet,
	// with the verdict measured on this provider as the hypothesis.
	ExpectFrom string
	Strategy   string
	Expect     string
	// ExpectStep, ExpectCheck and ExpectLine are the signature of -expect.
	ExpectStep    string
	ExpectCheck   string
	ExpectLine    string
	Provider      string
	Artifacts     string
	Keep          bool
	NodeImage     string
	SnapshotCount int
	CatchUpWrites int
	// KindParallel is how many kind specs may run at once on this host,
	// across Ginkgo processes and terminals (a slot lock each).
	KindParallel int
	// Fsync keeps etcd's fsync on process members (they run with
	// --unsafe-no-fsync otherwise).
	Fsync bool
	// RequireKind turns every reason kind specs cannot run here into a
	// failure: CI and the Prow kind jobs set it, so they cannot pass by
	// skipping.
	RequireKind bool
	// MergeMatrix adds this run's rows to the matrix.json already in the
	// artifacts dir instead of replacing it: one matrix for `make test`'s
	// two suites.
	MergeMatrix bool
	// JUnit is the junit file the suite writes, relative to the artifacts
	// dir unless absolute; "" writes none.
	JUnit string

	// set names the flags given on the command line.
	set map[string]bool
	// catalog lists the scenarios -scenario names; scenarios.All unless a
	// test gives its own.
	catalog func() []scenarios.Scenario
}

// scenarios is the catalog -scenario names resolve in.
func (c *Config) scenarios() []scenarios.Scenario {
	if c.catalog != nil {
		return c.catalog()
	}
	return scenarios.All()
}

// RequireKindEnv set to 1 (or true) is the default of -require-kind.
const RequireKindEnv = "ETCDUP_REQUIRE_KIND"

// Bind registers the flags on fs.
func (c *Config) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Path, "path", "", "run only this path: comma-separated etcd versions, the first is the starting cluster (e.g. 3.5.19,3.5.21,3.6.4); "+
		"a lower version is a downgrade hop by etcd's downgrade (3.5.21,3.6.5,3.5.21), VERSION/N halts that hop after N members (3.5.21,3.6.5/1,3.5.21)")
	fs.StringVar(&c.Scenario, "scenario", "", "run only these scenarios of the matrix, by name, comma-separated (e.g. 3.5.17-to-3.6.5-replace), with their measured expectations")
	fs.StringVar(&c.ExpectFrom, "expect-from", "", "with -scenario: run it where it has no measured verdict yet, expecting the verdict and signatures measured on this provider (e.g. -provider=kind -expect-from=process); how a scenario is first measured on a provider")
	fs.StringVar(&c.Strategy, "strategy", string(upgrade.InPlace), "strategy of every upgrade hop of -path: in-place, replace or kubeadm-upgrade (kind only: a real kubeadm upgrade to Kubernetes "+KubeadmUpgradeTarget+"); a downgrade hop always uses etcd's downgrade")
	fs.StringVar(&c.Expect, "expect", string(upgrade.Consistent), "verdict -path is expected to give: consistent, inconsistent or upgrade-failed (default: the matrix's expectation when -path is a scenario of it, else consistent)")
	fs.StringVar(&c.ExpectStep, "expect-step", "", "with -expect=upgrade-failed: regular expression the failing step must match (e.g. 'hop 1 .*join a new member')")
	fs.StringVar(&c.ExpectCheck, "expect-check", "", "with -expect=inconsistent: the check that must find it (membership, keys or audit)")
	fs.StringVar(&c.ExpectLine, "expect-line", "", "with -expect other than consistent: regular expression over the member's own line (upgrade-failed) or the check's finding (inconsistent)")
	fs.BoolVar(&c.RequireKind, "require-kind", envTrue(RequireKindEnv), "fail, instead of skip, kind specs that cannot run on this host (default $"+RequireKindEnv+")")
	fs.BoolVar(&c.MergeMatrix, "merge-matrix", false, "add this run's rows to the artifacts dir's matrix.json instead of replacing it")
	fs.StringVar(&c.JUnit, "junit", "junit_e2e.xml", "junit file to write, relative to the artifacts dir (\"\" for none): one test case per path and provider, named \"<scenario> [<provider>]\", with the expected and measured verdict as properties, and an \"upgrade matrix\" case carrying matrix.md")
	fs.StringVar(&c.Provider, "provider", "process", "where clusters run: process, kind or all")
	fs.StringVar(&c.Artifacts, "artifacts", "", "artifacts dir (default $ARTIFACTS, else ./_artifacts at the repository root)")
	fs.BoolVar(&c.Keep, "keep", false, "keep data dirs, logs (and kind clusters) after each spec, and print how to inspect them")
	fs.StringVar(&c.NodeImage, "node-image", "", "kind node image (default: found or built automatically)")
	fs.IntVar(&c.KindParallel, "kind-parallel", envInt(KindParallelEnv, 1), "kind specs that may run at once on this host, across Ginkgo processes (default $"+KindParallelEnv+", else 1); run the suite with as many Ginkgo processes")
	fs.IntVar(&c.SnapshotCount, "snapshot-count", 100, "etcd --snapshot-count of every member")
	fs.BoolVar(&c.Fsync, "fsync", false, "process members fsync as etcd does by default; without it they run with --unsafe-no-fsync, which loses nothing when the harness stops or kills a process (never the machine) and halves the time of the catch-up writes")
	fs.IntVar(&c.CatchUpWrites, "catch-up-writes", 6000, "writes after the cluster is built; must exceed 5000 + snapshot-count so new members get a raft snapshot")
}

// Given records which flags fs's command line set: some are only
// meaningful together.
func (c *Config) Given(fs *flag.FlagSet) {
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
}

func (c *Config) given(name string) bool { return c.set[name] }

// KindParallelEnv is the default of -kind-parallel.
const KindParallelEnv = "ETCDUP_KIND_PARALLEL"

// envInt reads an integer from the environment; a value that is not one
// gives -1, which Validate refuses with the flag's name.
func envInt(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

func envTrue(name string) bool { return envValueTrue(os.Getenv(name)) }

func envValueTrue(v string) bool {
	v = strings.ToLower(v)
	return v == "1" || v == "true" || v == "yes"
}

// Providers expands -provider.
func (c *Config) Providers() []string {
	if c.Provider == "all" {
		return providerNames()
	}
	return []string{c.Provider}
}

// Validate checks every flag before anything starts.
func (c *Config) Validate() error {
	var errs []error
	if _, ok := providers[c.Provider]; !ok && c.Provider != "all" {
		errs = append(errs, fmt.Errorf("unknown provider %q: want %s or all", c.Provider, strings.Join(providerNames(), ", ")))
	}
	if st, err := upgrade.ParseStrategy(c.Strategy); err != nil {
		errs = append(errs, err)
	} else if st == upgrade.KubeadmUpgrade && c.Path != "" && c.Provider == "process" {
		errs = append(errs, fmt.Errorf("-strategy=%s needs -provider=kind: the process provider runs no Kubernetes", st))
	}
	if _, err := upgrade.ParseVerdict(c.Expect); err != nil {
		errs = append(errs, err)
	}
	if c.Path != "" {
		if p, err := upgrade.ParsePath(c.Path, c.Strategy, 3); err != nil {
			errs = append(errs, fmt.Errorf("-path: %w", err))
		} else if why, ok := scenarios.NotOn(p)["kind"]; ok && slices.Contains(c.Providers(), "kind") {
			// (The process provider's refusal, kubeadm-upgrade, is above.)
			errs = append(errs, fmt.Errorf("-path %s does not run on -provider=kind: %s", c.Path, why))
		} else if sc, ok := scenarios.ByPath(scenarios.All(), p); ok && !c.given("expect") {
			// A matrix path runs as its scenario, so where that scenario does
			// not run the selection would be empty: say why instead.
			for _, prov := range c.Providers() {
				if ok, why := sc.RunsOn(prov); !ok {
					errs = append(errs, fmt.Errorf("-path %s is the matrix scenario %s, which does not run on -provider=%s: %s", c.Path, sc.Name, prov, why))
				}
			}
		}
		if c.given("expect") {
			if _, err := c.expected(); err != nil {
				errs = append(errs, fmt.Errorf("-expect=%s: %w", c.Expect, err))
			}
		}
	} else {
		// These shape -path alone; silently ignoring them would run the
		// whole matrix while the user believes otherwise.
		for _, f := range []string{"strategy", "expect", "expect-step", "expect-check", "expect-line"} {
			if c.given(f) {
				errs = append(errs, fmt.Errorf("-%s applies to -path, which is not given", f))
			}
		}
	}
	if c.Scenario != "" {
		if c.Path != "" {
			errs = append(errs, errors.New("-scenario and -path each choose the path to run: give one"))
		}
		for _, name := range c.ScenarioNames() {
			errs = append(errs, c.validateScenario(name)...)
		}
	} else if c.ExpectFrom != "" {
		errs = append(errs, errors.New("-expect-from applies to -scenario, which is not given"))
	}
	if c.KindParallel < 1 {
		errs = append(errs, fmt.Errorf("-kind-parallel %d: must be at least 1", c.KindParallel))
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

// ScenarioNames splits -scenario, a comma-separated list of names.
func (c *Config) ScenarioNames() []string {
	var out []string
	for _, n := range strings.Split(c.Scenario, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// validateScenario checks one name of -scenario against the matrix and the
// providers it is to run on.
func (c *Config) validateScenario(name string) []error {
	if _, err := c.scenario(name); err != nil {
		return []error{err}
	}
	return nil
}

// scenario is the matrix scenario name as it runs on the chosen providers:
// with -expect-from, made to run where it is not measured yet.
func (c *Config) scenario(name string) (scenarios.Scenario, error) {
	sc, ok := scenarios.Find(c.scenarios(), name)
	if !ok {
		return sc, fmt.Errorf("-scenario %q: no scenario of the matrix has that name (they are listed in the README and in matrix.md)", name)
	}
	var errs []error
	for _, p := range c.Providers() {
		if c.ExpectFrom != "" {
			measured, err := sc.WithExpectationFrom(p, c.ExpectFrom)
			if err != nil {
				errs = append(errs, fmt.Errorf("-expect-from=%s: %w", c.ExpectFrom, err))
				continue
			}
			sc = measured
		} else if ok, why := sc.RunsOn(p); !ok {
			errs = append(errs, fmt.Errorf("-scenario %s does not run on -provider=%s: %s", name, p, why))
		}
	}
	return sc, errors.Join(errs...)
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

// JUnitPath resolves -junit; "" when no junit file is wanted.
func (c *Config) JUnitPath() string {
	if c.JUnit == "" || filepath.IsAbs(c.JUnit) {
		return c.JUnit
	}
	return filepath.Join(c.ArtifactsDir(), c.JUnit)
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

// expected is the expectation -expect and its signature flags give.
func (c *Config) expected() (upgrade.Expected, error) {
	v, err := upgrade.ParseVerdict(c.Expect)
	if err != nil {
		return upgrade.Expected{}, err
	}
	e := upgrade.Expected{Verdict: v}
	if c.ExpectStep != "" || c.ExpectCheck != "" || c.ExpectLine != "" {
		e.Signatures = []upgrade.Signature{{Step: c.ExpectStep, Check: c.ExpectCheck, Line: c.ExpectLine, Note: "given on the command line"}}
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("%w (-expect-step and -expect-line for upgrade-failed, -expect-check and -expect-line for inconsistent)", err)
	}
	return e, nil
}
