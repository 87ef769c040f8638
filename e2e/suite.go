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

// selectedScenarios is the matrix, or the one path given with -path.
func selectedScenarios() []scenarios.Scenario {
	if config.Path == "" {
		return scenarios.All()
	}
	p, err := upgrade.ParsePath(config.Path, config.Strategy, 3)
	if err != nil {
		// Validate reports it in BeforeSuite with the other flag errors.
		return nil
	}
	verdict, _ := ParseVerdict(config.Expect)
	exp := scenarios.Expectation{Verdict: verdict, Evidence: "given with -expect"}
	sc := scenarios.Scenario{Name: "custom-" + scenarios.Name(p, ""), Kubernetes: "custom", Path: p, Expected: map[string]scenarios.Expectation{}}
	for _, prov := range config.Providers() {
		sc.Expected[prov] = exp
	}
	return []scenarios.Scenario{sc}
}

func neededVersions() []string {
	return scenarios.Versions(selectedScenarios())
}
