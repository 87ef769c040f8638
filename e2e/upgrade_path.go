package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/report"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// UpgradePathSpecInput is what one upgrade path spec needs.
type UpgradePathSpecInput struct {
	Scenario     scenarios.Scenario
	Provider     string
	ArtifactsDir string // the spec's own folder
	Keep         bool
	Binaries     *etcdbin.Provisioner
	Config       Config
	Faults       []upgrade.Fault
}

// validate refuses an input no run could be judged by.
func (in UpgradePathSpecInput) validate() error {
	var errs []error
	if in.Scenario.Name == "" {
		errs = append(errs, errors.New("no scenario"))
	}
	if err := in.Scenario.Path.Validate(); err != nil {
		errs = append(errs, err)
	}
	if ok, why := in.Scenario.RunsOn(in.Provider); !ok {
		errs = append(errs, fmt.Errorf("scenario %s does not run on %s: %s", in.Scenario.Name, in.Provider, why))
	}
	if e, ok := in.Scenario.Expect(in.Provider); ok {
		if err := e.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("expectation on %s: %w", in.Provider, err))
		}
	}
	if in.ArtifactsDir == "" {
		errs = append(errs, errors.New("no artifacts dir"))
	}
	if in.Binaries == nil {
		errs = append(errs, errors.New("no etcd binaries provisioner"))
	}
	if len(in.Scenario.Faults) > 0 && len(in.Faults) == 0 {
		errs = append(errs, errors.New("the scenario names faults, but none were given"))
	}
	return errors.Join(errs...)
}

// UpgradePathSpec builds the scenario's cluster on the provider, runs its
// path, writes the spec's artifacts and checks the measured verdict, and
// what makes it that verdict, against the expected one.
func UpgradePathSpec(ctx context.Context, in UpgradePathSpecInput) {
	Expect(in.validate()).To(Succeed(), "UpgradePathSpecInput")
	exp, ok := in.Scenario.Expect(in.Provider)

	note, err := startClean(in.ArtifactsDir)
	Expect(err).NotTo(HaveOccurred(), "the spec's folder")
	if note != "" {
		By(note)
		AddReportEntry("earlier run moved aside", note)
	}
	repro := reproduceCommand(in)

	cl := newCluster(ctx, in)
	DeferCleanup(func(ctx SpecContext) {
		if err := cl.Close(ctx); err != nil {
			GinkgoWriter.Printf("closing cluster: %v\n", err)
		}
		if in.Keep {
			printKeepHints(cl)
			// A kept run's folder holds what its hints point at (kubeconfig,
			// data dirs): the next run moves it aside instead of removing it.
			_ = os.WriteFile(filepath.Join(in.ArtifactsDir, keptMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
		}
	}, NodeTimeout(DefaultCloseTimeout))

	res := upgrade.Run(ctx, upgrade.Input{
		Cluster:       cl,
		Path:          in.Scenario.Path,
		ArtifactsDir:  in.ArtifactsDir,
		CatchUpWrites: in.Config.CatchUpWrites,
		StepWrites:    50,
		Faults:        in.Faults,
		// With -keep, the data copies the audits read stay too: the copy
		// taken before the upgrade is the affected 3.5 data, ready for
		// cmd/etcd-audit.
		KeepAuditCopies: in.Keep,
		By:              func(text string) { By(text) },
		Log:             GinkgoWriter,
	})
	var matchErr error
	switch {
	case !ok:
		matchErr = fmt.Errorf("scenario %s has no measured expectation for provider %s; this run measured:\n%s\nrecord it in scenarios/ with its signature and the evidence",
			in.Scenario.Name, in.Provider, res.Signature())
	default:
		matchErr = exp.Match(res)
	}
	row := report.Row{
		Name: in.Scenario.Name, Provider: in.Provider, Path: in.Scenario.Path.Notation(),
		Strategy: in.Scenario.Path.StrategyLabel(), Verdict: string(res.Verdict), Expected: string(exp.Verdict),
		AsExpected: matchErr == nil,
		Evidence:   res.Evidence, Seconds: res.Seconds, FailedStep: res.FailedStep, Artifacts: in.ArtifactsDir,
		Reproduce: repro,
	}
	if res.Failure != nil {
		row.Cause = res.Failure.Cause
		if l, ok := res.Failure.Headline(); ok {
			row.LineSource, row.Line = l.Source, l.Text
		}
	} else if len(res.Findings) > 0 {
		row.Line = res.Findings[0].Check + " check: " + res.Findings[0].Text
	}
	if sig, matched := exp.Matching(res); matched {
		row.Signature = sig.String()
	}
	for _, f := range res.Faults {
		fired := "never fired"
		if f.Fired {
			fired = fmt.Sprintf("fired at %.1fs on %s", f.Second, f.Member)
		}
		row.Faults = append(row.Faults, fmt.Sprintf("%s at %s: %s", f.Fault, f.At, fired))
	}
	AddReportEntry(matrixEntry, row, ReportEntryVisibilityNever)
	writeJSON(filepath.Join(in.ArtifactsDir, "result.json"), res)

	GinkgoWriter.Printf("verdict %s (expected %s) in %.1fs\n", res.Verdict, exp.Verdict, res.Seconds)
	for _, e := range res.Evidence {
		GinkgoWriter.Printf("  evidence: %s\n", e)
	}
	if matchErr != nil {
		Fail(fmt.Sprintf("path %s (%s) on %s: %v\n\nexpected because: %s\nartifacts: %s\nreproduce it alone: %s",
			strings.Join(in.Scenario.Path.Notation(), " → "), in.Scenario.Path.StrategyLabel(), in.Provider, matchErr, exp.Evidence, in.ArtifactsDir, repro))
	}
}

// reproduceCommand is the command that runs this spec alone and keeps its
// cluster for inspection.
func reproduceCommand(in UpgradePathSpecInput) string {
	args := []string{"go", "tool", "ginkgo", "-v", "./e2e", "--", "-provider=" + in.Provider}
	if strings.HasPrefix(in.Scenario.Name, "custom-") {
		c := in.Config
		args = append(args, "-path="+strings.Join(in.Scenario.Path.Notation(), ","))
		// -strategy moves the upgrade hops; a downgrade hop is the path's own.
		if st := in.Scenario.Path.UpgradeStrategy(); st != "" {
			args = append(args, "-strategy="+string(st))
		}
		args = append(args, "-expect="+c.Expect)
		for _, f := range []struct{ name, v string }{{"expect-step", c.ExpectStep}, {"expect-check", c.ExpectCheck}, {"expect-line", c.ExpectLine}} {
			if f.v != "" {
				args = append(args, "-"+f.name+"="+shellQuote(f.v))
			}
		}
	} else {
		args = append(args, "-scenario="+in.Scenario.Name)
		if in.Config.ExpectFrom != "" {
			args = append(args, "-expect-from="+in.Config.ExpectFrom)
		}
	}
	if in.Config.Fsync && in.Provider == "process" {
		args = append(args, "-fsync")
	}
	return strings.Join(append(args, "-keep"), " ")
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " \t'\"\\$|&;()<>*?[]{}~`!#") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// startClean makes sure the spec starts in an empty folder: a run must never
// build on an earlier run's data. Reports of an earlier run alone are
// removed; data an earlier run kept (-keep, or a run that was killed) is
// moved aside, never reused, and the note says where.
func startClean(dir string) (note string, err error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return "", os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return "", err
	}
	if len(entries) == 0 {
		return "", nil
	}
	if !holdsData(dir) {
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
		return "", os.MkdirAll(dir, 0o755)
	}
	aside := fmt.Sprintf("%s.earlier-%s", dir, time.Now().UTC().Format("20060102-150405"))
	if err := os.Rename(dir, aside); err != nil {
		return "", fmt.Errorf("moving an earlier run's data aside: %w", err)
	}
	return fmt.Sprintf("%s held data of an earlier run (kept or interrupted); moved it to %s, this run starts clean", dir, aside), os.MkdirAll(dir, 0o755)
}

// keptMarker marks the folder of a run made with -keep.
const keptMarker = "KEPT"

// holdsData reports whether dir is a kept run's folder, or holds an etcd
// data dir (a member/ folder with wal or snap) or a kept audit copy
// anywhere below it.
func holdsData(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, keptMarker)); err == nil {
		return true
	}
	found := false
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found || !d.IsDir() {
			return nil
		}
		if strings.HasSuffix(d.Name(), ".data") {
			found = true
			return filepath.SkipAll
		}
		if d.Name() == "member" {
			for _, sub := range []string{"wal", "snap"} {
				if st, err := os.Stat(filepath.Join(p, sub)); err == nil && st.IsDir() {
					found = true
					return filepath.SkipAll
				}
			}
		}
		return nil
	})
	return found
}

// matrixEntry names the report entries ReportAfterSuite gathers.
const matrixEntry = "matrix-row"

// shortName makes a member-name prefix from a scenario name.
func shortName(s string) string {
	s = strings.NewReplacer(".", "", "-to-", "-", "+", "-").Replace(s)
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Trim(s, "-")
}

func writeJSON(path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		GinkgoWriter.Printf("writing %s: %v\n", path, err)
	}
}
