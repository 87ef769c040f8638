package e2e

import (
	. "github.com/onsi/ginkgo/v2"

	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// The ginkgo labels of the specs, in one place: the specs are registered
// with them, and the Prow jobs' label filters are checked against them
// (prowjob_test.go).

// chainLabel marks a path of more than one hop (3.5.16 → 3.5.21 → 3.6.x,
// the etcd issue 20793 chains): the longest kind paths, a shard of their own.
const chainLabel = "chain"

// specLabels are a path spec's labels: the provider, the scenario's own
// (strategies, risk, fast, faults) and chain.
func specLabels(sc scenarios.Scenario, provider string) []string {
	l := append([]string{provider}, sc.Labels()...)
	if len(sc.Path.Hops) > 1 {
		l = append(l, chainLabel)
	}
	return l
}

// nodeImageLabels label the node image specs (kind_image_test.go).
var nodeImageLabels = []string{"kind", "node-image"}

// specPriority orders the path specs longest first, so that under
// `ginkgo -p` the long replacement chains start early instead of being
// the last specs left running: the member operations a path makes, a
// replacement join counting three restarts (on processes a join took
// 8.4 s on average and an in-place restart 4.3 s, 2026-11-30).
func specPriority(p upgrade.Path) SpecPriority {
	cost := 0
	for _, h := range p.Hops {
		members := p.Size
		if h.Members > 0 {
			members = h.Members
		}
		if h.Strategy == upgrade.Replace || h.Strategy == upgrade.KubeadmUpgrade {
			members *= 3
		}
		cost += members
	}
	return SpecPriority(cost)
}
