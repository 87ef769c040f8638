package scenarios

import (
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/upgrade"
)

// The rollback and 3.7 scenarios: each 3.6 target is rolled back to each
// rollback target, a rollout halted midway is rolled back, 3.7 is reached
// through the newest 3.6, etcd's refusal is measured, and none runs on kind
// until measured there.
func TestRollbackScenarios(t *testing.T) {
	var downgrades, halted, to37 int
	backTo := map[string]bool{}
	for _, s := range All() {
		var down, up37 bool
		for _, h := range s.Path.Hops {
			switch {
			case h.Strategy == upgrade.Downgrade:
				down = true
				backTo[h.To.String()] = true
			case h.To.Minor >= 7:
				up37 = true
			}
			if h.Members > 0 {
				halted++
			}
		}
		if !down && !up37 {
			continue
		}
		if down {
			downgrades++
		}
		if up37 {
			to37++
		}
		// On kind a rollback or 3.7 path runs only with a measured kind
		// verdict; a cluster born at 3.7 cannot be made there at all.
		_, measuredOnKind := s.Expect("kind")
		if s.Path.From.Minor >= 7 {
			if ok, why := s.RunsOn("kind"); ok || why != bornOn37NotOnKind {
				t.Errorf("%s: runs on kind %v (%q)", s.Name, ok, why)
			}
		} else if ok, why := s.RunsOn("kind"); ok != measuredOnKind || (!ok && !strings.HasPrefix(why, notMeasuredYet+"kind yet")) {
			t.Errorf("%s: runs on kind %v (%q), measured there %v", s.Name, ok, why, measuredOnKind)
		}
		if e, ok := s.Expect("process"); !ok || !strings.Contains(e.Evidence, "2026-") {
			t.Errorf("%s has no measured process expectation", s.Name)
		}
	}
	for _, v := range RollbackTargets {
		if !backTo[v] {
			t.Errorf("no scenario rolls back to %s", v)
		}
	}
	if halted == 0 || to37 == 0 || downgrades == 0 {
		t.Errorf("%d downgrade, %d halted, %d 3.7 scenarios", downgrades, halted, to37)
	}
	refused, ok := Find(All(), "3.7.3-to-3.5.21-downgrade")
	if !ok {
		t.Fatal("no scenario measures etcd refusing a downgrade of two minors")
	}
	if e, _ := refused.Expect("process"); e.Verdict != upgrade.UpgradeFailed {
		t.Errorf("3.7.3 → 3.5.21 expected %s", e.Verdict)
	}
}

// TestWithExpectationFrom checks how a scenario is first measured on a
// provider: allowed where it is only not measured yet, refused where it
// means nothing or is measured already.
func TestWithExpectationFrom(t *testing.T) {
	all := All()
	// A scenario of the process provider, not measured on kind yet.
	unmeasured := scenario(Scenario{Kubernetes: "test", Path: path("3.5.21", inPlace, "3.6.5", string(upgrade.Downgrade), "3.5.21"), Suffix: "test"})
	unmeasured.Expected = map[string]Expectation{"process": expect(upgrade.Consistent, "test")}
	unmeasured.NotOn = map[string]string{"kind": notMeasuredOn("kind", "test")}
	got, err := unmeasured.WithExpectationFrom("kind", "process")
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if ok, why := got.RunsOn("kind"); !ok {
		t.Fatalf("does not run on kind: %s", why)
	}
	want, _ := unmeasured.Expect("process")
	e, ok := got.Expect("kind")
	if !ok || e.Verdict != want.Verdict || len(e.Signatures) != len(want.Signatures) || !strings.Contains(e.Evidence, "hypothesis") {
		t.Fatalf("kind expectation %+v, want the process one %+v marked a hypothesis", e, want)
	}
	if _, measured := unmeasured.Expect("kind"); measured {
		t.Fatal("the original scenario was changed")
	}
	if _, err := unmeasured.WithExpectationFrom("kind", "kind"); err == nil || !strings.Contains(err.Error(), "another provider") {
		t.Errorf("the expectation taken from the provider itself: %v", err)
	}
	for _, tc := range []struct{ name, provider, from, want string }{
		{"3.5.17-to-3.6.5-in-place-static", "kind", "process", "does not run on kind"},
		{"3.5.21-to-3.6.5-replace", "kind", "process", "measured on kind already"},
		{"3.5.21-to-3.6.5-kubeadm-upgrade", "process", "kind", "does not run on process"},
	} {
		sc, ok := Find(all, tc.name)
		if !ok {
			t.Errorf("no scenario %s", tc.name)
			continue
		}
		if _, err := sc.WithExpectationFrom(tc.provider, tc.from); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on %s from %s: error %v, want one saying %q", tc.name, tc.provider, tc.from, err, tc.want)
		}
	}
}
