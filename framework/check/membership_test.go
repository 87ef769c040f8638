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
	want := Want{Current: current, Promoted: promoted, Settled: true}

	if p := CompareViews([]View{{Member: "cp1", Records: good}, {Member: "cp2", Records: good}, {Member: "cp3", Records: good}}, want); len(p) != 0 {
		t.Fatalf("agreeing views reported: %q", p)
	}

	// The third member alone sees cp2 as a learner: the first two views look
	// perfect, so only comparing every member finds it.
	bad := []Record{rec("1", "cp1", false), rec("2", "cp2", true), rec("3", "cp3", false)}
	p := CompareViews([]View{{Member: "cp1", Records: good}, {Member: "cp2", Records: good}, {Member: "cp3", Records: bad}}, want)
	if !containsAll(p, "cp3 lists cp2 (2) as a learner", "cp1 says 2 cp2 voter") {
		t.Fatalf("learner revert not reported: %q", p)
	}

	// A URL differs in one member's view.
	other := append([]Record(nil), good...)
	other[0].ClientURLs = []string{"http://elsewhere"}
	p = CompareViews([]View{{Member: "cp1", Records: good}, {Member: "cp2", Records: other}}, Want{Current: current[:2], Promoted: promoted})
	if !containsAll(p, "client=http://elsewhere") {
		t.Fatalf("URL difference not reported: %q", p)
	}

	// A member missing from one list, and a member that cannot answer.
	p = CompareViews([]View{{Member: "cp1", Records: good[:2]}, {Member: "cp2", Err: "timeout"}}, want)
	if !containsAll(p, "cp1 does not list member cp3", "cp2: no member list: timeout") {
		t.Fatalf("missing member / error not reported: %q", p)
	}
}

func TestCompareViewsStrayMembers(t *testing.T) {
	good := []Record{rec("1", "cp1", false), rec("2", "cp2", false), rec("3", "cp3", false)}
	views := func(recs []Record) []View {
		return []View{{Member: "cp1", ID: "1", Records: recs}, {Member: "cp2", ID: "2", Records: recs}, {Member: "cp3", ID: "3", Records: recs}}
	}
	current := []string{"cp1", "cp2", "cp3"}

	// A learner no step promoted is fine while a join is under way, not
	// once every change has completed.
	withLearner := append(append([]Record(nil), good...), rec("4", "cp4", true))
	if p := CompareViews(views(withLearner), Want{Current: append(current, "cp4")}); len(p) != 0 {
		t.Fatalf("learner mid-join reported: %q", p)
	}
	p := CompareViews(views(withLearner), Want{Current: append(current, "cp4"), Settled: true})
	if !containsAll(p, "cp1 lists 4 cp4 learner", "after every member was promoted") {
		t.Fatalf("learner left after a completed hop not reported: %q", p)
	}

	// A member the harness never created (or already removed), in every list.
	stray := append(append([]Record(nil), good...), rec("9", "ghost", false))
	p = CompareViews(views(stray), Want{Current: current, Settled: true})
	if !containsAll(p, "cp1 lists 9 ghost voter", "not a current member") {
		t.Fatalf("unknown member not reported: %q", p)
	}

	// A current member listed with no name is known by the ID it gives
	// itself: reported as a record difference, not as a stranger.
	noName := append([]Record(nil), good...)
	noName[1].Name, noName[1].ClientURLs = "", nil
	vs := views(good)
	vs[2].Records = noName
	p = CompareViews(vs, Want{Current: current, Settled: true})
	if containsAll(p, "not a current member") || !containsAll(p, "cp3 says 2  voter peer=http://p-cp2 client=") {
		t.Fatalf("nameless current member misreported: %q", p)
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
