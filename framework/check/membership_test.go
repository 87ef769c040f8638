package check

import (
	"strings"
	"testing"
)

func rec(id, name string, learner bool) Record {
	return Record{ID: id, Name: name, PeerURLs: []string{"http://p-" + name}, ClientURLs: []string{"http://c-" + name}, IsLearner: learner}
}

func TestCompareViews(t *testing.T) {
	good := []Record{rec("1", "cp1", false), rec("2", "cp2", false), rec("3", "cp3", false)}
	promoted := map[string]bool{"cp2": true, "cp3": true}
	current := []string{"cp1", "cp2", "cp3"}

	if p := CompareViews([]View{{Member: "cp1", Records: good}, {Member: "cp2", Records: good}, {Member: "cp3", Records: good}}, promoted, current); len(p) != 0 {
		t.Fatalf("agreeing views reported: %q", p)
	}

	// The third member alone sees cp2 as a learner: the first two views look
	// perfect, so only comparing every member finds it.
	bad := []Record{rec("1", "cp1", false), rec("2", "cp2", true), rec("3", "cp3", false)}
	p := CompareViews([]View{{Member: "cp1", Records: good}, {Member: "cp2", Records: good}, {Member: "cp3", Records: bad}}, promoted, current)
	if !containsAll(p, "cp3 lists cp2 (2) as a learner", "cp1 says 2 cp2 voter") {
		t.Fatalf("learner revert not reported: %q", p)
	}

	// A URL differs in one member's view.
	other := append([]Record(nil), good...)
	other[0].ClientURLs = []string{"http://elsewhere"}
	p = CompareViews([]View{{Member: "cp1", Records: good}, {Member: "cp2", Records: other}}, promoted, current[:2])
	if !containsAll(p, "client=http://elsewhere") {
		t.Fatalf("URL difference not reported: %q", p)
	}

	// A member missing from one list, and a member that cannot answer.
	p = CompareViews([]View{{Member: "cp1", Records: good[:2]}, {Member: "cp2", Err: "timeout"}}, promoted, current)
	if !containsAll(p, "cp1 does not list member cp3", "cp2: no member list: timeout") {
		t.Fatalf("missing member / error not reported: %q", p)
	}
}

func containsAll(lines []string, subs ...string) bool {
	all := strings.Join(lines, "\n")
	for _, s := range subs {
		if !strings.Contains(all, s) {
			return false
		}
	}
	return true
}
