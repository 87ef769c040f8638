package e2e

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"etcd-upgrade-e2e/framework/upgrade"
)

// TestSpecPriority checks that longer paths are scheduled first: a
// replacement chain before one replacement hop, that before an in-place
// hop, and a rollback halted after one member after a whole one.
func TestSpecPriority(t *testing.T) {
	prio := func(versions, strategy string) SpecPriority {
		t.Helper()
		p, err := upgrade.ParsePath(versions, strategy, 3)
		if err != nil {
			t.Fatal(err)
		}
		return specPriority(p)
	}
	chain, replace, inPlace := prio("3.5.19,3.5.24,3.6.16", "replace"), prio("3.5.21,3.6.5", "replace"), prio("3.5.21,3.6.5", "in-place")
	if !(chain > replace && replace > inPlace) {
		t.Errorf("priorities: chain %d, replace %d, in place %d: want them falling", chain, replace, inPlace)
	}
	rollback, halted := prio("3.5.21,3.6.5,3.5.21", "in-place"), prio("3.5.21,3.6.5/1,3.5.21", "in-place")
	if !(rollback > halted) {
		t.Errorf("priorities: rollback %d, halted rollback %d: want the whole one first", rollback, halted)
	}
}
