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
	// kubeadmUpgrade is the kind provider's alone (kindOnly).
	kubeadmUpgrade = string(upgrade.KubeadmUpgrade)
)

// All returns the matrix: every path with its measured expectations.
func All() []Scenario {
	var all []Scenario
	for _, t := range Targets {
		fast := t == Targets[0]
		all = append(all,
			// The etcd Kubernetes 1.33 planned to ship, upgraded as kubeadm does.
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.17, as planned) → 1.34", Path: path("3.5.17", inPlace, t), Risk: true}),
			// ... and as Cluster API does: new members get a raft snapshot
			// whose bbolt data lists the promoted members as learners.
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.17, as planned) → 1.34", Path: path("3.5.17", replace, t), Risk: true, Fast: fast}),
			// The etcd 1.33 shipped after the bump.
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.21) → 1.34", Path: path("3.5.21", inPlace, t), Risk: true}),
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.21) → 1.34", Path: path("3.5.21", replace, t), Risk: true, Fast: fast}),
			// An older cluster (1.32's etcd) through 3.5.21 first.
			scenario(Scenario{Kubernetes: "1.32 (etcd 3.5.16) → 1.33 (3.5.21) → 1.34", Path: path("3.5.16", inPlace, "3.5.21", inPlace, t), Risk: true}),
			scenario(Scenario{Kubernetes: "1.32 (etcd 3.5.16) → 1.33 (3.5.21) → 1.34", Path: path("3.5.16", replace, "3.5.21", replace, t), Risk: true}),
			// etcd issue 20793: a 3.5.21 member that joined from a 3.5.19
			// snapshot carries the wrong membership on.
			scenario(Scenario{Kubernetes: "1.32 (etcd 3.5.19) → 1.33.1 (3.5.21) → 1.34", Path: path("3.5.19", replace, "3.5.21", replace, t), Suffix: "issue-20793", Risk: true}),
			// The same chain through 3.5.24, which fixes 20793.
			scenario(Scenario{Kubernetes: "1.32 (etcd 3.5.19) → 1.33 (3.5.24) → 1.34", Path: path("3.5.19", replace, "3.5.24", replace, t), Risk: true}),
			// Control: no member was ever a learner, and an in-place
			// upgrade adds none.
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.17, no learner history) → 1.34", Path: static(path("3.5.17", inPlace, t)), Suffix: "static"}),
			// Control on the bumped release: no learner history, in place.
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.21, no learner history) → 1.34", Path: static(path("3.5.21", inPlace, t)), Suffix: "static"}),
			// No learner history either, but a replacement creates it: the
			// new members join as learners and 3.5.17 members record their
			// promotion in the v2store only.
			scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.17, no learner history) → 1.34", Path: static(path("3.5.17", replace, t)), Suffix: "static", Risk: true}),
		)
	}
	// A safe path must stay consistent, with no key lost, through faults.
	safe := Targets[len(Targets)-1]
	for _, f := range []struct{ strategy, fault string }{
		{inPlace, "kill-mid-hop"}, {inPlace, "lose-quorum"},
		{replace, "kill-mid-hop"}, {replace, "kill-leader-during-promotion"}, {replace, "restart-during-snapshot"}, {replace, "lose-quorum"},
	} {
		all = append(all, scenario(Scenario{Kubernetes: "1.33 (etcd 3.5.21) → 1.34, with faults", Path: path("3.5.21", f.strategy, safe), Suffix: f.fault, Faults: []string{f.fault}}))
	}
	all = append(all,
		// The chain exactly as etcd issue 20793 reported it: 1.34.1 ships 3.6.4.
		scenario(Scenario{Kubernetes: "1.32 (etcd 3.5.19) → 1.33.1 (3.5.21) → 1.34.1 (3.6.4)", Path: path("3.5.19", replace, "3.5.21", replace, "3.6.4"), Suffix: "issue-20793", Risk: true}),
		// Kubernetes 1.33.13's own etcd (kubeadm's pin, 3.5.24) to 1.34:
		// it carries the fixes of etcd 19557 (3.5.20) and 20793 (3.5.24).
		scenario(Scenario{Kubernetes: "1.33.13 (etcd 3.5.24, kubeadm's pin) → 1.34", Path: path("3.5.24", replace, "3.6.5"), Risk: true}),
		scenario(Scenario{Kubernetes: "1.33.13 (etcd 3.5.24, kubeadm's pin) → 1.34", Path: path("3.5.24", inPlace, "3.6.5"), Risk: true}),
		// A real Kubernetes upgrade, kubeadm upgrade apply v1.34.2 then
		// kubeadm upgrade node: etcd goes to kubeadm 1.34.2's pin, 3.6.5,
		// with the rest of the control plane. Only a provider that runs
		// Kubernetes (kind) can.
		scenario(Scenario{Kubernetes: "1.33.13 (etcd 3.5.17, as planned) → 1.34.2 by kubeadm upgrade", Path: path("3.5.17", kubeadmUpgrade, "3.6.5"), Risk: true}),
		scenario(Scenario{Kubernetes: "1.33.13 (etcd 3.5.21) → 1.34.2 by kubeadm upgrade", Path: path("3.5.21", kubeadmUpgrade, "3.6.5"), Risk: true}),
		scenario(Scenario{Kubernetes: "1.33.13 (etcd 3.5.24, kubeadm's pin) → 1.34.2 by kubeadm upgrade", Path: path("3.5.24", kubeadmUpgrade, "3.6.5"), Risk: true}),
	)
	return all
}
