package e2e

import (
	"context"
	"fmt"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/process"
)

// providers builds a cluster for a spec, by provider name. A new provider is
// one entry here and its own package.
var providers map[string]func(ctx context.Context, in UpgradePathSpecInput) cluster.Cluster

// The registry is filled at init: its builders read the flags, whose
// validation names the registry.
func init() {
	providers = map[string]func(ctx context.Context, in UpgradePathSpecInput) cluster.Cluster{
		"process": newProcessCluster,
		"kind":    newKindCluster,
	}
}

// providerNames lists the providers, sorted.
func providerNames() []string {
	var out []string
	for name := range providers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func newCluster(ctx context.Context, in UpgradePathSpecInput) cluster.Cluster {
	build, ok := providers[in.Provider]
	if !ok {
		Fail(fmt.Sprintf("unknown provider %q", in.Provider))
	}
	return build(ctx, in)
}

func newProcessCluster(_ context.Context, in UpgradePathSpecInput) cluster.Cluster {
	opts := []process.Option{
		process.WithName(shortName(in.Scenario.Name)),
		process.WithDir(in.ArtifactsDir),
		process.WithSnapshotCount(in.Config.SnapshotCount),
		process.WithBinaries(in.Binaries.Get),
		process.WithKeep(in.Keep),
		process.WithLog(GinkgoWriter),
		process.WithStartTimeout(DefaultMemberTimeout),
	}
	if !in.Config.Fsync {
		opts = append(opts, process.WithoutFsync())
	}
	cl, err := process.New(opts...)
	Expect(err).NotTo(HaveOccurred())
	return cl
}

// printKeepHints says how to reach what a kept cluster left.
func printKeepHints(cl cluster.Cluster) {
	kh, ok := cl.(cluster.KeepHinter)
	if !ok {
		return
	}
	hints := kh.KeepHints()
	GinkgoWriter.Print(hints)
	AddReportEntry("kept", hints)
}
