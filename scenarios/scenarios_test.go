package scenarios

import (
	"strings"
	"testing"
)

func TestMatrixIsWellFormed(t *testing.T) {
	all := All()
	names := map[string]bool{}
	for _, s := range all {
		if names[s.Name] {
			t.Errorf("duplicate scenario name %s", s.Name)
		}
		names[s.Name] = true
		if err := s.Path.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		for prov, e := range s.Expected {
			if strings.TrimSpace(e.Evidence) == "" {
				t.Errorf("%s [%s]: expected verdict %s cites no evidence", s.Name, prov, e.Verdict)
			}
			// Every verdict but consistent says what makes it so.
			if err := e.Validate(); err != nil {
				t.Errorf("%s [%s]: %v", s.Name, prov, err)
			}
			if ok, why := s.RunsOn(prov); !ok {
				t.Errorf("%s: expectation recorded for %s, where it does not run (%s)", s.Name, prov, why)
			}
		}
	}
	// An expectation for a scenario that no longer exists is a stale record.
	for _, m := range []map[string]Expectation{processExpected, kindExpected} {
		for name := range m {
			if !names[name] {
				t.Errorf("expectation recorded for unknown scenario %s", name)
			}
		}
	}
	// Every 3.6 target is its own dimension: each base path runs against each.
	for _, target := range Targets {
		found := false
		for _, s := range all {
			v := s.Path.Versions()
			if v[len(v)-1] == target {
				found = true
			}
		}
		if !found {
			t.Errorf("no scenario targets etcd %s", target)
		}
	}
}

func TestFastSubsetHasAFailingAndAConsistentPath(t *testing.T) {
	verdicts := map[string]bool{}
	for _, s := range All() {
		if s.Fast {
			e, ok := s.Expect("process")
			if !ok {
				t.Errorf("fast scenario %s has no process expectation", s.Name)
			}
			verdicts[string(e.Verdict)] = true
		}
	}
	if !verdicts["consistent"] || !verdicts["upgrade-failed"] {
		t.Fatalf("make test must run a failing and a consistent path, got %v", verdicts)
	}
}
