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
		// On kind a rollback or 3.7 path runs only with a measured kind verdict.
		_, measuredOnKind := s.Expect("kind")
		if ok, why := s.RunsOn("kind"); ok != measuredOnKind || (!ok && !strings.HasPrefix(why, "not measured on kind yet")) {
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
