package scenarios

import (
	"fmt"

	"etcd-upgrade-e2e/framework/upgrade"
)

// Targets are the etcd 3.6 releases every path is run against: each 3.6 patch
// release is its own target. 3.6.5 is what kubeadm v1.34.2 pins; 3.6.16 is the
// newest 3.6 the Go module proxy served on 2026-11-27.
var Targets = []string{"3.6.5", "3.6.16"}

// RollbackTargets are the 3.5 releases the rollback scenarios go back to:
// 3.5.21, what Kubernetes 1.33 ships, and 3.5.35, the newest 3.5 the Go
// module proxy served on 2026-11-30 (it refused 3.5.36).
var RollbackTargets = []string{"3.5.21", "3.5.35"}

// Etcd37 is the etcd 3.7 the 3.7 hop goes to: the newest 3.7 the Go module
// proxy served on 2026-11-30 (3.7.0–3.7.3; it refused 3.7.4).
const Etcd37 = "3.7.3"

// Why the rollback and 3.7 scenarios do not run on kind yet.
const (
	downgradeNotOnKind = "on kind a downgrade hop restarts each member through the kind provider's Upgrade " +
		"(the etcd static pod manifest rewritten back to the older image, as an operator would); run it there with -scenario=NAME -expect-from=process to measure it"
	bornOn37NotOnKind = "kubeadm 1.33 cannot create a cluster at etcd 3.7: its etcd flags include two that 3.7 removed; on kind a cluster reaches 3.7 by a hop (…-to-3.7.3), whose manifests the harness rewrites as kubeadm 1.34 writes them for etcd 3.6+"
	etcd37NotOnKind   = "the 3.7 hop has not run on kind; run it there with -scenario=NAME -expect-from=process to measure it"
)

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
	return append(all, rollbacks()...)
}

// unmeasuredOnKind keeps s off kind, saying why, until kindExpected holds
// its measured kind verdict.
func unmeasuredOnKind(s Scenario, why string) Scenario {
	if _, ok := kindExpected[Name(s.Path, s.Suffix)]; !ok {
		s.NotOn = map[string]string{"kind": notMeasuredOn("kind", why)}
	}
	return scenario(s)
}

// rollbacks are the paths of users whose 1.34 upgrade failed: rolled back
// to 3.5 with etcd's downgrade (a version lower than the one before it in
// the path), rolled back from a rollout halted midway, or pushed on to etcd
// 3.7, which keeps no v2store: whatever a cluster carried through 3.6 is all
// it keeps. By replacement, 3.5.17 never reaches 3.6 (its first hop fails,
// 3.5.17-to-3.6.x-replace), so its rollback is the halted rollout's:
// measured 2026-11-30 with -path for → 3.6.5 → 3.5.21, → 3.6.16 → 3.5.35
// and → 3.6.16 → 3.7.3 by replacement, each upgrade-failed at hop 1's
// second join (the first 3.6 member panics, `failed to update; member
// unknown`), 53–59 s, artifacts /tmp/i15/excl-keep on the machine that ran
// them; those paths are not in the matrix.
func rollbacks() []Scenario {
	var out []Scenario
	downgrade := func(s Scenario) Scenario { return unmeasuredOnKind(s, downgradeNotOnKind) }
	for _, from := range []string{"3.5.17", "3.5.21"} {
		strategies := []string{inPlace, replace}
		if from == "3.5.17" {
			strategies = []string{inPlace}
		}
		for _, st := range strategies {
			for _, t := range Targets {
				for _, back := range RollbackTargets {
					out = append(out, downgrade(Scenario{
						Kubernetes: fmt.Sprintf("1.33 (etcd %s) → 1.34 (%s), rolled back to etcd %s", from, t, back),
						Path:       path(from, st, t, string(upgrade.Downgrade), back), Risk: true,
					}))
				}
			}
		}
	}
	// A rollout stopped after its first member, then rolled back: what an
	// operator does when the next step fails (3.5.17 by replacement fails at
	// the second join).
	for _, c := range []struct{ from, st string }{{"3.5.17", inPlace}, {"3.5.17", replace}, {"3.5.21", inPlace}, {"3.5.21", replace}} {
		out = append(out, downgrade(Scenario{
			Kubernetes: fmt.Sprintf("1.33 (etcd %s) → 1.34 (3.6.5) halted after one member, rolled back to etcd 3.5.21", c.from),
			Path:       halted(path(c.from, c.st, "3.6.5", string(upgrade.Downgrade), "3.5.21"), 0, 1), Risk: true,
		}))
	}
	// Pushing on to etcd 3.7 through the newest 3.6.
	newest := Targets[len(Targets)-1]
	for _, c := range []struct{ from, st string }{{"3.5.17", inPlace}, {"3.5.21", inPlace}, {"3.5.21", replace}} {
		out = append(out, unmeasuredOnKind(Scenario{
			Kubernetes: fmt.Sprintf("1.33 (etcd %s) → 1.34 (%s) → etcd %s", c.from, newest, Etcd37),
			Path:       path(c.from, c.st, newest, c.st, Etcd37), Risk: true,
		}, etcd37NotOnKind))
	}
	// etcd refuses a downgrade of more than one minor, with its own message.
	out = append(out, scenario(Scenario{
		Kubernetes: fmt.Sprintf("an etcd %s cluster rolled back two minors to 3.5.21 (refused by etcd)", Etcd37),
		Path:       path(Etcd37, string(upgrade.Downgrade), "3.5.21"),
		NotOn:      map[string]string{"kind": bornOn37NotOnKind},
	}))
	return out
}

// halted stops hop i of p after n members: a rollout left midway.
func halted(p upgrade.Path, i, n int) upgrade.Path {
	p.Hops = append([]upgrade.Hop(nil), p.Hops...)
	p.Hops[i].Members = n
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return p
}
