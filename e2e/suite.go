package e2e

import (
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

const (
	// DefaultMemberTimeout bounds how long a member may take to serve.
	DefaultMemberTimeout = 30 * time.Second
	// DefaultCloseTimeout bounds the teardown of one cluster.
	DefaultCloseTimeout = 3 * time.Minute
)

// The suite's flags and the binaries provider, set up once per process.
var (
	config   Config
	binaries *etcdbin.Provisioner
)

// selectedScenarios is the matrix, the scenario -scenario names, or the
// path -path gives. A -path that is a scenario of the matrix runs as that
// scenario, with its measured expectations, unless -expect says otherwise.
func selectedScenarios() []scenarios.Scenario {
	all := scenarios.All()
	switch {
	case config.Scenario != "":
		sc, ok := scenarios.Find(all, config.Scenario)
		if !ok {
			return nil // Validate has refused it already
		}
		return []scenarios.Scenario{sc}
	case config.Path == "":
		return all
	}
	p, err := upgrade.ParsePath(config.Path, config.Strategy, 3)
	if err != nil {
		return nil // Validate has refused it already
	}
	if sc, ok := scenarios.ByPath(all, p); ok && !config.given("expect") {
		return []scenarios.Scenario{sc}
	}
	exp, err := config.expected()
	if err != nil {
		return nil
	}
	sc := scenarios.Scenario{Name: "custom-" + scenarios.Name(p, ""), Kubernetes: "custom", Path: p, Expected: map[string]scenarios.Expectation{}}
	for _, prov := range config.Providers() {
		sc.Expected[prov] = scenarios.Expectation{Expected: exp, Evidence: "given with -expect"}
	}
	return []scenarios.Scenario{sc}
}

func neededVersions() []string {
	return scenarios.Versions(selectedScenarios())
}
