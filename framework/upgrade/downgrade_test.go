package upgrade_test

import (
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/cluster/fakecluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

// The downgrade hop on the in-memory provider, whose leader answers
// downgrade requests by etcd 3.6's rule: the target must be the minor below
// the cluster version, which is the lowest minor any member runs.

func mustPath(t *testing.T, versions, strategy string) upgrade.Path {
	t.Helper()
	p, err := upgrade.ParsePath(versions, strategy, 3)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func stepNote(res upgrade.Result, prefix string) (upgrade.Step, bool) {
	for _, s := range res.Steps {
		if strings.HasPrefix(s.Name, prefix) {
			return s, true
		}
	}
	return upgrade.Step{}, false
}

func versions(e *env) []string {
	var out []string
	for _, m := range e.fc.Members() {
		out = append(out, m.Name()+"@"+m.Version().String())
	}
	return out
}

func TestDowngradeHop(t *testing.T) {
	for _, strategy := range []string{"in-place", "replace"} {
		t.Run(strategy, func(t *testing.T) {
			res, e := runFake(t, mustPath(t, "3.5.21,3.6.5,3.5.21", strategy), nil)
			if res.Verdict != upgrade.Consistent {
				t.Fatalf("verdict %s: %s", res.Verdict, res.Signature())
			}
			hop := "hop 2 (3.6.5 → 3.5.21, downgrade): "
			for _, want := range []struct{ step, note string }{
				{"etcdctl downgrade validate 3.5", "etcd API: cluster version 3.6, a downgrade to 3.5 is valid"},
				{"etcdctl downgrade enable 3.5", "etcd API: downgrade to 3.5 enabled, cluster version 3.6"},
				{"wait until every member reports the downgrade", "downgrade enabled to 3.5.0, storage version 3.5.0"},
			} {
				s, ok := stepNote(res, hop+want.step)
				if !ok || !strings.Contains(s.Note, want.note) {
					t.Errorf("step %q: %+v, want a note saying %q", want.step, s, want.note)
				}
			}
			for _, m := range e.fc.Members() {
				if m.Version().String() != "3.5.21" {
					t.Errorf("after the downgrade: %v", versions(e))
					break
				}
			}
			if n := e.fc.Calls(fakecluster.OpDowngrade); n != 2 {
				t.Errorf("%d downgrade requests, want validate and enable", n)
			}
		})
	}
}

// etcd refuses a downgrade of more than one minor; its answer stops the hop
// and is the evidence.
func TestDowngradeRefused(t *testing.T) {
	res, e := runFake(t, mustPath(t, "3.7.3,3.5.21", "in-place"), nil)
	if res.Verdict != upgrade.UpgradeFailed || res.Failure == nil {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Signature())
	}
	if res.Failure.Step != "hop 1 (3.7.3 → 3.5.21, downgrade): etcdctl downgrade validate 3.5" {
		t.Errorf("failed step %q", res.Failure.Step)
	}
	l, ok := res.Failure.Headline()
	if !ok || l.Source != "etcd API" || l.Text != "etcdserver: invalid downgrade target version" {
		t.Errorf("line %+v, want etcd's refusal", res.Failure.Lines)
	}
	if n := e.fc.Calls(fakecluster.OpUpgrade); n != 0 {
		t.Errorf("%d members restarted after the refusal", n)
	}
}

// A rollout halted midway leaves members at the older minor: the cluster
// version never moved, etcd refuses to enable a downgrade to it (recorded
// with the validate step), and only the members on the newer minor restart
// on the older binary.
func TestRollbackMidway(t *testing.T) {
	for _, tc := range []struct {
		strategy  string
		restarted string
	}{
		{"in-place", "-cp1"},
		{"replace", "-cp4"},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			res, e := runFake(t, mustPath(t, "3.5.21,3.6.5/1,3.5.21", tc.strategy), nil)
			if res.Verdict != upgrade.Consistent {
				t.Fatalf("verdict %s: %s", res.Verdict, res.Signature())
			}
			if _, ok := stepNote(res, "hop 1 (3.5.21 → 3.6.5, "+tc.strategy+", halted after 1 of 3 members)"); !ok {
				t.Errorf("no halted hop 1 among %v", res.Steps)
			}
			s, ok := stepNote(res, "hop 2 (3.6.5 → 3.5.21, downgrade): etcdctl downgrade validate 3.5")
			if !ok || !strings.Contains(s.Note, "invalid downgrade target version") || !strings.Contains(s.Note, "cluster version is still 3.5") {
				t.Errorf("validate step %+v", s)
			}
			if _, ok := stepNote(res, "hop 2 (3.6.5 → 3.5.21, downgrade): etcdctl downgrade enable"); ok {
				t.Error("a downgrade was enabled in a cluster whose version never left 3.5")
			}
			var restarts []string
			for _, st := range res.Steps {
				if strings.Contains(st.Name, "downgrade): downgrade ") {
					restarts = append(restarts, st.Name)
				}
			}
			if len(restarts) != 1 || !strings.Contains(restarts[0], tc.restarted+" in place 3.6.5 → 3.5.21") {
				t.Errorf("restarts %v, want %s alone", restarts, tc.restarted)
			}
			for _, m := range e.fc.Members() {
				if m.Version() != etcdbin.MustParseVersion("3.5.21") {
					t.Errorf("after the rollback: %v", versions(e))
					break
				}
			}
		})
	}
}

// A hop to etcd 3.7 ends once every member reports storage version 3.7.
func TestHopTo37WaitsForStorageVersion(t *testing.T) {
	res, _ := runFake(t, mustPath(t, "3.6.5,3.7.3", "in-place"), nil)
	if res.Verdict != upgrade.Consistent {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Signature())
	}
	s, ok := stepNote(res, "hop 1 (3.6.5 → 3.7.3, in-place): wait until every member reports storage version 3.7")
	if !ok || !strings.Contains(s.Note, "storage version 3.7.0") {
		t.Errorf("step %+v", s)
	}
}
