package e2e

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"etcd-upgrade-e2e/framework/fault"
	"etcd-upgrade-e2e/framework/upgrade"
)

// One spec per scenario and provider where the scenario means something.
// With -path or -scenario, only that path runs.
var _ = Describe(upgradePathsText, func() {
	for _, provider := range config.Providers() {
		for _, sc := range selectedScenarios() {
			if ok, _ := sc.RunsOn(provider); !ok {
				continue
			}
			It(pathSpecText(sc.Name, provider), Label(specLabels(sc, provider)...), specPriority(sc.Path), func(ctx SpecContext) {
				var faults []upgrade.Fault
				for _, name := range sc.Faults {
					f, err := fault.ByName(name)
					Expect(err).NotTo(HaveOccurred())
					faults = append(faults, f...)
				}
				UpgradePathSpec(ctx, UpgradePathSpecInput{
					Faults:       faults,
					Scenario:     sc,
					Provider:     provider,
					ArtifactsDir: filepath.Join(config.ArtifactsDir(), provider, sc.Name),
					Keep:         config.Keep,
					Binaries:     binaries,
					Config:       config,
				})
			})
		}
	}
})
