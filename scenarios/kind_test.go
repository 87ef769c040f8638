package scenarios

import (
	"strings"
	"testing"
)

func TestKubeadmUpgradeScenarios(t *testing.T) {
	n := 0
	for _, s := range All() {
		if s.Path.StrategyLabel() != "kubeadm-upgrade" {
			continue
		}
		n++
		if s.Path.Hops[0].To.String() != "3.6.5" {
			t.Errorf("%s: kubeadm upgrade to 1.34.2 moves etcd to its pin 3.6.5, not %s", s.Name, s.Path.Hops[0].To)
		}
		if ok, _ := s.RunsOn("process"); ok {
			t.Errorf("%s runs on the process provider, which runs no Kubernetes", s.Name)
		}
	}
	if n == 0 {
		t.Fatal("no kubeadm-upgrade scenarios")
	}
}

// Every kind expectation names a scenario of the matrix and cites its run.
func TestKindExpectations(t *testing.T) {
	all := All()
	for name, e := range kindExpected {
		sc, ok := Find(all, name)
		if !ok {
			t.Errorf("kind expectation for unknown scenario %q", name)
			continue
		}
		if got, ok := sc.Expect("kind"); !ok || got.Evidence != e.Evidence {
			t.Errorf("%s: the kind expectation did not reach the scenario", name)
		}
		if !strings.Contains(e.Evidence, "artifacts") || !strings.Contains(e.Evidence, "2026-") {
			t.Errorf("%s: evidence does not cite a measured run (date, artifacts): %q", name, e.Evidence)
		}
	}
}
