package e2e

import (
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// The suite's timeouts, in one place.
const (
	// DefaultMemberTimeout bounds how long a process member may take to serve.
	DefaultMemberTimeout = 30 * time.Second
	// DefaultKindMemberTimeout bounds how long a member of a kind cluster may
	// take to serve after its static pod changed: the kubelet, not the
	// harness, restarts it.
	DefaultKindMemberTimeout = 2 * time.Minute
	// DefaultCloseTimeout bounds the teardown of one cluster.
	DefaultCloseTimeout = 3 * time.Minute
	// provisionTimeout bounds building every etcd version the specs need
	// (about a minute each, cold).
	provisionTimeout = 30 * time.Minute
	// nodeImageTimeout bounds building the kind node image cold (about 15
	// minutes on 2 cores) and its load balancer image.
	nodeImageTimeout = 40 * time.Minute
	// kindClusterSpecTimeout bounds one node image spec's cluster.
	kindClusterSpecTimeout = 15 * time.Minute
	// kindServeTimeout bounds how long a fresh kind cluster's etcd takes to
	// answer.
	kindServeTimeout = 2 * time.Minute
)

// The suite's flags and the binaries provider, set up once per process.
var (
	config   Config
	binaries *etcdbin.Provisioner
)

// selectedScenarios is the matrix, the scenarios -scenario names, or the
// path -path gives. A -path that is a scenario of the matrix runs as that
// scenario, with its measured expectations, unless -expect says otherwise.
func selectedScenarios() []scenarios.Scenario {
	all := scenarios.All()
	switch {
	case config.Scenario != "":
		var out []scenarios.Scenario
		for _, name := range config.ScenarioNames() {
			sc, err := config.scenario(name)
			if err != nil {
				return nil // Validate has refused it already
			}
			out = append(out, sc)
		}
		return out
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
	sc := scenarios.Scenario{Name: "custom-" + scenarios.Name(p, ""), Kubernetes: "custom", Path: p, Expected: map[string]scenarios.Expectation{}, NotOn: scenarios.NotOn(p)}
	for _, prov := range config.Providers() {
		sc.Expected[prov] = scenarios.Expectation{Expected: exp, Evidence: "given with -expect"}
	}
	return []scenarios.Scenario{sc}
}

// neededVersions lists the etcd versions of the selected scenarios that run
// on one of providers: a kind node image carries none that only process
// specs use, and a process run builds none that only kind specs use.
func neededVersions(providers ...string) []string {
	var run []scenarios.Scenario
	for _, sc := range selectedScenarios() {
		for _, p := range providers {
			if ok, _ := sc.RunsOn(p); ok {
				run = append(run, sc)
				break
			}
		}
	}
	return scenarios.Versions(run)
}
