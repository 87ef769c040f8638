package scenarios

import (
	"etcd-upgrade-e2e/framework/upgrade"
)

// Targets are the etcd 3.6 releases every path is run against: each 3.6 patch
// release is its own target. 3.6.5 is what kubeadm v1.34.2 pins; 3.6.16 is the
// newest 3.6 the Go module proxy served on 2026-11-27.
var Targets = []string{"3.6.5", "3.6.16"}

const (
	inPlace = string(upgrade.InPlace)
	replace = string(upgrade.Replace)
	// kubeadmUpgrade is the kind provider's alone (KindScenarios).
	kubeadmUpgrade = string(upgrade.KubeadmUpgrade)
)

// All returns the matrix.
func All() []Scenario {
	var all []Scenario
	for _, t := range Targets {
		fast := t == Targets[0]
		all = append(all,
			// The etcd Kubernetes 1.33 planned to ship, upgraded as kubeadm does.
			s("1.33 (etcd 3.5.17, as planned) → 1.34", path("3.5.17", inPlace, t), "", true, false),
			// ... and as Cluster API does: new members get a raft snapshot
			// whose bbolt data lists the promoted members as learners.
			s("1.33 (etcd 3.5.17, as planned) → 1.34", path("3.5.17", replace, t), "", true, fast),
			// The etcd 1.33 shipped after the bump.
			s("1.33 (etcd 3.5.21) → 1.34", path("3.5.21", inPlace, t), "", true, false),
			s("1.33 (etcd 3.5.21) → 1.34", path("3.5.21", replace, t), "", true, fast),
			// An older cluster (1.32's etcd) through 3.5.21 first.
			s("1.32 (etcd 3.5.16) → 1.33 (3.5.21) → 1.34", path("3.5.16", inPlace, "3.5.21", inPlace, t), "", true, false),
			s("1.32 (etcd 3.5.16) → 1.33 (3.5.21) → 1.34", path("3.5.16", replace, "3.5.21", replace, t), "", true, false),
			// etcd issue 20793: a 3.5.21 member that joined from a 3.5.19
			// snapshot carries the wrong membership on.
			s("1.32 (etcd 3.5.19) → 1.33.1 (3.5.21) → 1.34", path("3.5.19", replace, "3.5.21", replace, t), "issue-20793", true, false),
			// The same chain through 3.5.24, which fixes 20793.
			s("1.32 (etcd 3.5.19) → 1.33 (3.5.24) → 1.34", path("3.5.19", replace, "3.5.24", replace, t), "", true, false),
			// Control: no member was ever a learner, and an in-place
			// upgrade adds none.
			s("1.33 (etcd 3.5.17, no learner history) → 1.34", static(path("3.5.17", inPlace, t)), "static", false, false),
			// Control on the bumped release: no learner history, in place.
			s("1.33 (etcd 3.5.21, no learner history) → 1.34", static(path("3.5.21", inPlace, t)), "static", false, false),
			// No learner history either, but a replacement creates it: the
			// new members join as learners and 3.5.17 members record their
			// promotion in the v2store only.
			s("1.33 (etcd 3.5.17, no learner history) → 1.34", static(path("3.5.17", replace, t)), "static", true, false),
		)
	}
	// A safe path must stay consistent, with no key lost, through faults.
	safe := Targets[len(Targets)-1]
	for _, f := range []struct{ strategy, fault string }{
		{inPlace, "kill-mid-hop"}, {inPlace, "lose-quorum"},
		{replace, "kill-mid-hop"}, {replace, "kill-leader-during-promotion"}, {replace, "restart-during-snapshot"}, {replace, "lose-quorum"},
	} {
		sc := s("1.33 (etcd 3.5.21) → 1.34, with faults", path("3.5.21", f.strategy, safe), f.fault, false, false)
		sc.Faults = []string{f.fault}
		all = append(all, sc)
	}
	// The chain exactly as etcd issue 20793 reported it: 1.34.1 ships 3.6.4.
	all = append(all, s("1.32 (etcd 3.5.19) → 1.33.1 (3.5.21) → 1.34.1 (3.6.4)", path("3.5.19", replace, "3.5.21", replace, "3.6.4"), "issue-20793", true, false))
	for i := range all {
		all[i].Expected = expected[all[i].Name]
	}
	// Kubernetes 1.33.13's own etcd (kubeadm's pin, 3.5.24) to 1.34.
	all = append(all, KindScenarios()...)
	return all
}

func s(k8s string, p upgrade.Path, suffix string, risk, fast bool) Scenario {
	return must(Scenario{Name: Name(p, suffix), Kubernetes: k8s, Path: p, Risk: risk, Fast: fast})
}
