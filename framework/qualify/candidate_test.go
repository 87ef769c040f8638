package qualify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// outcomes is a stand-in for the runs: every path is consistent except the
// (issue, strategy) cases it names.
func outcomes(except map[string]Outcome) oracleFor {
	return func(r scenarios.Risk, s upgrade.Strategy, _ etcdbin.Version) Oracle {
		return func(_ context.Context, v etcdbin.Version) Probe {
			o, ok := except[fmt.Sprintf("%d %s", r.Issue, s)]
			if !ok {
				o = Good
			}
			return Probe{Version: v, Outcome: o, Run: &RunRecord{Line: "line of " + string(o), Dir: "/runs/" + r.Name()}}
		}
	}
}

func caveatIssues(c CandidateReport) []int {
	var out []int
	for _, u := range c.UpstreamCaveats {
		out = append(out, u.Issue)
	}
	return out
}

// The verdict comes from the measured runs only; a risk no run measures
// whose upstream fix comes after the candidate is a caveat beside it.
func TestCandidateVerdictRestsOnMeasuredRunsOnly(t *testing.T) {
	plan := Plan{Risks: scenarios.Risks(), Targets: []etcdbin.Version{etcdbin.MustParseVersion("3.6.5")}}
	for _, tc := range []struct {
		name      string
		candidate string
		except    map[string]Outcome
		want      CandidateVerdict
		caveats   []int
	}{
		// 20967 (fixed upstream in 3.5.26) cannot be run; 21694 (3.5.31)
		// runs and is reproduced, so its run decides, and a stand-in
		// consistent run leaves no caveat.
		{"all measured consistent, an unmeasured risk fixed later upstream", "3.5.24", nil, VerdictGo, []int{20967}},
		{"a measured run reproduces a risk", "3.5.24", map[string]Outcome{"20793 replace": Bad}, VerdictNoGo, []int{20967}},
		{"a measured run reproduces 21694", "3.5.24", map[string]Outcome{"21694 in-place": Bad}, VerdictNoGo, []int{20967}},
		{"a measured run fails another way", "3.5.24", map[string]Outcome{"19557 in-place": Other}, VerdictNoGo, []int{20967}},
		{"a harness error and the rest consistent", "3.5.24", map[string]Outcome{"19557 replace": Unmeasured}, VerdictCannotTell, []int{20967}},
		{"a failure outweighs a harness error", "3.5.24", map[string]Outcome{"19557 replace": Unmeasured, "20793 replace": Bad}, VerdictNoGo, []int{20967}},
		{"after every upstream fix but 21694's, which runs", "3.5.27", nil, VerdictGo, nil},
		// 20340's path runs with a 3.6 candidate, but the harness has
		// never reproduced it: its consistent run is no proof.
		// 21694 is fixed upstream in 3.6.12 too; its open version is the
		// start, which a 3.6 candidate cannot take.
		{"a 3.6 candidate before 20340's upstream fix", "3.6.3", nil, VerdictGo, []int{20340, 21694}},
		{"a 3.6 candidate that reproduces 20340", "3.6.3", map[string]Outcome{"20340 in-place": Bad}, VerdictNoGo, []int{21694}},
		{"a 3.6 candidate after 21694's 3.6 fix", "3.6.12", nil, VerdictGo, nil},
	} {
		c := candidate(t.Context(), plan, etcdbin.MustParseVersion(tc.candidate), outcomes(tc.except))
		if c.Verdict != tc.want || c.Go != (tc.want == VerdictGo) {
			t.Errorf("%s: %s (go %v): %s; want %s", tc.name, c.Verdict, c.Go, c.Why, tc.want)
		}
		if got := fmt.Sprint(caveatIssues(c)); got != fmt.Sprint(tc.caveats) {
			t.Errorf("%s: caveats %s, want %v", tc.name, got, tc.caveats)
		}
		if len(c.Runs) == 0 {
			t.Errorf("%s: no runs", tc.name)
		}
		for _, s := range c.Skipped {
			if strings.Contains(s, "NO-GO") {
				t.Errorf("%s: a skipped risk speaks of a verdict: %s", tc.name, s)
			}
		}
	}
}

func TestCandidateVerdict(t *testing.T) {
	run := func(issue int, o Outcome) CandidateResult {
		return CandidateResult{Issue: issue, Strategy: upgrade.Replace, Target: "3.6.5", Probe: Probe{Outcome: o}}
	}
	for _, tc := range []struct {
		runs []CandidateResult
		want CandidateVerdict
		why  string
	}{
		{nil, VerdictCannotTell, "nothing was measured"},
		{[]CandidateResult{run(19557, Good), run(20793, Good)}, VerdictGo, "all 2 runs measured and consistent"},
		{[]CandidateResult{run(19557, Good), run(20793, Bad)}, VerdictNoGo, "1 of 2 runs failed: etcd 20793 replace → 3.6.5 reproduced the risk's failure"},
		{[]CandidateResult{run(19557, Unmeasured), run(20793, Good)}, VerdictCannotTell, "1 of 2 are harness errors that measured nothing: etcd 19557 replace → 3.6.5"},
		{[]CandidateResult{run(19557, "")}, VerdictCannotTell, "harness errors"},
		// A conditional risk fails the candidate, and says for which clusters.
		{[]CandidateResult{run(19557, Good), func() CandidateResult {
			r := run(21694, Bad)
			r.Condition = "for a cluster sent a member update"
			return r
		}()},
			VerdictNoGo, "etcd 21694 replace → 3.6.5 reproduced the risk's failure (it matters only for a cluster sent a member update)"},
	} {
		got, why := candidateVerdict(tc.runs)
		if got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%v: %s (%s), want %s (%s)", tc.runs, got, why, tc.want, tc.why)
		}
	}
}

// qualify.md states the verdict with the runs it rests on, and lists the
// upstream caveats in their own section, apart from the verdict.
func TestCandidateMarkdownKeepsUpstreamApart(t *testing.T) {
	plan := Plan{Risks: scenarios.Risks(), Targets: []etcdbin.Version{etcdbin.MustParseVersion("3.6.5")}}
	c := candidate(t.Context(), plan, etcdbin.MustParseVersion("3.5.24"), outcomes(nil))
	md := (&Report{Generated: "now", Mode: "candidate", Candidate: &c}).Markdown("/")
	t.Log("\n" + md[:strings.Index(md, "## Risks")])
	for _, want := range []string{
		"## Candidate 3.5.24: GO\n\nDecided by the runs below alone: all 4 runs measured and consistent.",
		"### Upstream only: not measured here, not part of the verdict\n\n" +
			"- etcd 20967 (removed (zombie) members come back after the upgrade): not measured: upstream says fixed in 3.5.26, later than the candidate\n",
		"### Not run with the candidate\n\n- etcd 20340: its open version is the target, a 3.5 release cannot take it\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("qualify.md lacks\n%s\n---\n%s", want, md)
		}
	}
	if strings.Contains(md, "NO-GO") {
		t.Errorf("qualify.md of a GO candidate says NO-GO:\n%s", md)
	}
}

// Two risks' paths over the same versions are two runs: 21694's start is
// built with member updates, 19557's is not.
func TestPathNameKeepsTheBootstrap(t *testing.T) {
	v, target := etcdbin.MustParseVersion("3.5.21"), etcdbin.MustParseVersion("3.6.5")
	r19557, _ := scenarios.FindRisk(19557)
	r21694, _ := scenarios.FindRisk(21694)
	plain, err1 := r19557.Path(v, target, upgrade.InPlace)
	updated, err2 := r21694.Path(v, target, upgrade.InPlace)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a, b := PathName(plain), PathName(updated); a != "3.5.21-to-3.6.5-in-place" || b != "3.5.21+member-update-to-3.6.5-in-place" {
		t.Errorf("run names %q and %q", a, b)
	}
}
