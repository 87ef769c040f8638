package scenarios

import (
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

func TestRiskRegistry(t *testing.T) {
	seen := map[int]bool{}
	for _, issue := range []int{19557, 20793, 20967, 20340, 21694} {
		if _, ok := FindRisk(issue); !ok {
			t.Errorf("etcd issue %d is not in the registry", issue)
		}
	}
	for _, r := range Risks() {
		if seen[r.Issue] {
			t.Errorf("%s registered twice", r.Name())
		}
		seen[r.Issue] = true
		if r.Title == "" || r.UpstreamFix == "" || r.Mechanism == "" || r.Evidence == "" || len(r.Strategies) == 0 {
			t.Errorf("%s lacks its title, upstream fix, mechanism, evidence or strategies", r.Name())
		}
		if r.Status != Reproduced && r.Status != NotReproduced {
			t.Errorf("%s: status %q", r.Name(), r.Status)
		}
		if r.Status == NotReproduced && !strings.Contains(r.Evidence, "attempted") && !strings.Contains(r.Evidence, "not expressible") {
			t.Errorf("%s is not reproduced but does not say what was tried", r.Name())
		}
		from, to, err := etcdbin.ParseRange(r.Range[0] + ".." + r.Range[1])
		if err != nil {
			t.Errorf("%s range: %v", r.Name(), err)
			continue
		}
		if r.Template == nil {
			if r.Status == Reproduced {
				t.Errorf("%s is reproduced but has no path", r.Name())
			}
			continue
		}
		target := etcdbin.MustParseVersion("3.6.16")
		for _, s := range r.Strategies {
			e, ok := r.Bad[s]
			if !ok {
				t.Errorf("%s: no signature for %s", r.Name(), s)
				continue
			}
			if err := e.Validate(); err != nil {
				t.Errorf("%s %s: %v", r.Name(), s, err)
			}
			for _, v := range []etcdbin.Version{from, to} {
				if _, err := r.Path(v, target, s); err != nil {
					t.Errorf("%s %s at %s: %v", r.Name(), s, v, err)
				}
			}
		}
	}
}

// The registry's signatures identify what the matrix measured for the same
// paths: a risk's signature is the matrix's.
func TestRiskSignaturesMatchTheMatrix(t *testing.T) {
	r19557, _ := FindRisk(19557)
	replaceRun := upgrade.Result{Verdict: upgrade.UpgradeFailed, Failure: &upgrade.Failure{
		Step:  "hop 1 (3.5.17 → 3.6.16, replace): join a new member at etcd 3.6.16 (learner, then promote; snapshot from leader 3517-cp3)",
		Lines: []upgrade.Line{{Source: "3517-cp4 log", Text: `{"level":"panic","msg":"failed to update; member unknown"}`}},
	}}
	if _, ok := r19557.Reproduces(upgrade.Replace, replaceRun); !ok {
		t.Error("19557 replace signature misses the matrix's 3.5.17 → 3.6.16 failure")
	}
	inPlaceRun := upgrade.Result{Verdict: upgrade.Inconsistent, Findings: []upgrade.Finding{{Check: upgrade.CheckMembership, Text: "3517-cp3 says 965bbf52514b990d  voter peer=http://127.0.0.1:2380 client="}}}
	if _, ok := r19557.Reproduces(upgrade.InPlace, inPlaceRun); !ok {
		t.Error("19557 in-place signature misses a member listed short")
	}
	if _, ok := r19557.Reproduces(upgrade.InPlace, upgrade.Result{Verdict: upgrade.Consistent}); ok {
		t.Error("a consistent run reproduces 19557")
	}
	r20793, _ := FindRisk(20793)
	chain := upgrade.Result{Verdict: upgrade.UpgradeFailed, Failure: &upgrade.Failure{
		Step:  "hop 2 (3.5.21 → 3.6.4, replace): join a new member at etcd 3.6.4 (learner, then promote; snapshot from leader x)",
		Lines: []upgrade.Line{{Source: "etcd API", Text: "etcdserver: unhealthy cluster"}},
	}}
	if _, ok := r20793.Reproduces(upgrade.Replace, chain); !ok {
		t.Error("20793 signature misses the matrix's chain failure")
	}
	// Hop 1 failing is another failure, not 20793.
	chain.Failure.Step = strings.Replace(chain.Failure.Step, "hop 2", "hop 1", 1)
	if _, ok := r20793.Reproduces(upgrade.Replace, chain); ok {
		t.Error("a hop 1 failure counted as 20793")
	}
	if p, err := r20793.Path(etcdbin.MustParseVersion("3.5.21"), etcdbin.MustParseVersion("3.6.4"), upgrade.Replace); err != nil || strings.Join(p.Versions(), ",") != "3.5.19,3.5.21,3.6.4" {
		t.Errorf("20793 path = %v, %v", p.Versions(), err)
	}
}

// 21694's signature is what the 3.5.24 run measured: the raft check finds
// raft's learners listed as voters before the upgrade, so the start version
// alone decides it; its path builds the start with member updates.
func TestRisk21694Signature(t *testing.T) {
	r, _ := FindRisk(21694)
	p, err := r.Path(etcdbin.MustParseVersion("3.5.24"), etcdbin.MustParseVersion("3.6.5"), upgrade.InPlace)
	if err != nil || strings.Join(p.Notation(), ",") != "3.5.24+member-update,3.6.5" {
		t.Fatalf("21694 path = %v, %v", p.Notation(), err)
	}
	finding := upgrade.Finding{Check: upgrade.CheckRaft, Stage: "before upgrade", Text: `3524-cp1 lists 3524-cp2 (1a949848336f67fc) as a voter, but its raft counts it a learner (1915323177407309820); 3524-cp1 log: {"level":"info","logger":"raft","msg":"f9432130656b8c7c switched to configuration voters=(17961236230627363964) learners=(1660440667569842828 1915323177407309820)"}`}
	run := upgrade.Result{Verdict: upgrade.Inconsistent, Findings: []upgrade.Finding{finding}}
	if _, ok := r.Reproduces(upgrade.InPlace, run); !ok {
		t.Error("21694 signature misses raft's learner listed as a voter before the upgrade")
	}
	finding.Stage = "after hop 1 (3.5.32 → 3.6.5, in-place)"
	if _, ok := r.Reproduces(upgrade.InPlace, upgrade.Result{Verdict: upgrade.Inconsistent, Findings: []upgrade.Finding{finding}}); ok {
		t.Error("a contradiction that appears only after the hop counted as the start version's 21694")
	}
	if _, ok := r.Reproduces(upgrade.InPlace, upgrade.Result{Verdict: upgrade.Consistent}); ok {
		t.Error("a consistent run reproduces 21694")
	}
}
