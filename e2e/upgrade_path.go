package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kind"
	"etcd-upgrade-e2e/framework/process"
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

// UpgradePathSpec builds the scenario's cluster on the provider, runs its
// path, writes the spec's artifacts and checks the measured verdict against
// the expected one.
func UpgradePathSpec(ctx context.Context, in UpgradePathSpecInput) {
	exp, ok := in.Scenario.Expect(in.Provider)
	Expect(os.MkdirAll(in.ArtifactsDir, 0o755)).To(Succeed())

	cl := newCluster(ctx, in)
	DeferCleanup(func(ctx SpecContext) {
		if err := cl.Close(ctx); err != nil {
			GinkgoWriter.Printf("closing cluster: %v\n", err)
		}
		if in.Keep {
			printKeepHints(cl)
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
	row := report.Row{
		Name: in.Scenario.Name, Provider: in.Provider, Path: in.Scenario.Path.Versions(),
		Strategy: in.Scenario.Path.StrategyLabel(), Verdict: string(res.Verdict), Expected: string(exp.Verdict),
		Evidence: res.Evidence, Seconds: res.Seconds, FailedStep: res.FailedStep, Artifacts: in.ArtifactsDir,
	}
	for _, f := range res.Faults {
		row.Faults = append(row.Faults, fmt.Sprintf("%s at %s (%.1fs) on %s", f.Fault, f.At, f.Second, f.Member))
	}
	AddReportEntry(matrixEntry, row, ReportEntryVisibilityNever)
	writeJSON(filepath.Join(in.ArtifactsDir, "result.json"), res)

	GinkgoWriter.Printf("verdict %s (expected %s) in %.1fs\n", res.Verdict, exp.Verdict, res.Seconds)
	for _, e := range res.Evidence {
		GinkgoWriter.Printf("  evidence: %s\n", e)
	}
	if !ok {
		Fail(fmt.Sprintf("scenario %s has no measured expectation for provider %s; this run measured %s: record it in scenarios/ with the evidence",
			in.Scenario.Name, in.Provider, res.Verdict))
	}
	Expect(res.Verdict).To(Equal(exp.Verdict), "path %s (%s) on %s\nexpected because: %s\nevidence:\n  %s",
		strings.Join(in.Scenario.Path.Versions(), " → "), in.Scenario.Path.StrategyLabel(), in.Provider, exp.Evidence, strings.Join(res.Evidence, "\n  "))
}

// matrixEntry names the report entries ReportAfterSuite gathers.
const matrixEntry = "matrix-row"

func newCluster(ctx context.Context, in UpgradePathSpecInput) cluster.Cluster {
	switch in.Provider {
	case "process":
		if usesKubeadmUpgrade(in.Scenario.Path) {
			Skip("the process provider runs no Kubernetes: strategy " + string(upgrade.KubeadmUpgrade) + " is the kind provider's")
		}
		cl, err := process.New(
			process.WithName(shortName(in.Scenario.Name)),
			process.WithDir(in.ArtifactsDir),
			process.WithSnapshotCount(in.Config.SnapshotCount),
			process.WithBinaries(in.Binaries.Get),
			process.WithKeep(in.Keep),
			process.WithLog(GinkgoWriter),
			process.WithStartTimeout(DefaultMemberTimeout),
		)
		Expect(err).NotTo(HaveOccurred())
		return cl
	case "kind":
		return newKindCluster(ctx, in)
	default:
		Skip(fmt.Sprintf("provider %q is not available in this build", in.Provider))
		return nil
	}
}

func printKeepHints(cl cluster.Cluster) {
	if kc, ok := cl.(*kind.Cluster); ok {
		GinkgoWriter.Print(kc.KeepHints())
		AddReportEntry("kept", kc.KeepHints())
		return
	}
	pc, ok := cl.(*process.Cluster)
	if !ok {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kept: %s\n", cl.ArtifactsDir())
	for _, m := range pc.ProcessMembers() {
		fmt.Fprintf(&b, "  %s (etcd %s): data %s, log %s\n", m.Name(), m.Version(), m.DataDir(), m.LogPath())
		fmt.Fprintf(&b, "    audit it: go run ./cmd/etcd-audit %s\n", m.DataDir())
	}
	GinkgoWriter.Print(b.String())
	AddReportEntry("kept", b.String())
}

// shortName makes a member-name prefix from a scenario name.
func shortName(s string) string {
	s = strings.NewReplacer(".", "", "-to-", "-").Replace(s)
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
