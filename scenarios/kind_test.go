package scenarios

import (
	"strings"
	"testing"
)

func TestKindScenarios(t *testing.T) {
	ks := KindScenarios()
	if len(ks) == 0 {
		t.Fatal("no kind scenarios")
	}
	for _, s := range ks {
		if err := s.Path.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		if s.Path.From.String() != "3.5.24" && s.Path.StrategyLabel() != "kubeadm-upgrade" {
			t.Errorf("%s does not start from kubeadm 1.33.13's etcd", s.Name)
		}
		if s.Path.StrategyLabel() == "kubeadm-upgrade" && s.Path.Hops[0].To.String() != "3.6.5" {
			t.Errorf("%s: kubeadm upgrade to 1.34.2 moves etcd to its pin 3.6.5, not %s", s.Name, s.Path.Hops[0].To)
		}
	}
}

// Every kind expectation names a scenario of the matrix and cites its run.
func TestKindExpectations(t *testing.T) {
	all := append(All(), KindScenarios()...)
	own := map[string]Expectation{}
	for name, e := range kindExpected {
		own[name] = e
	}
	for name, e := range kindScenarioExpected {
		own[name] = e
	}
	for name, e := range own {
		sc, ok := Find(all, name)
		if !ok {
			t.Errorf("kind expectation for unknown scenario %q", name)
			continue
		}
		if got, ok := sc.Expect("kind"); !ok || got != e {
			t.Errorf("%s: the kind expectation did not reach the scenario", name)
		}
		if !strings.Contains(e.Evidence, "artifacts") || !strings.Contains(e.Evidence, "2026-") {
			t.Errorf("%s: evidence does not cite a measured run (date, artifacts): %q", name, e.Evidence)
		}
	}
}
