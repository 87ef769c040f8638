package qualify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// CandidateVerdict is a candidate's answer, decided by its measured runs
// only.
type CandidateVerdict string

const (
	// VerdictGo: every run measured and consistent.
	VerdictGo CandidateVerdict = "GO"
	// VerdictNoGo: a measured run showed a risk's failure, or failed
	// another way.
	VerdictNoGo CandidateVerdict = "NO-GO"
	// VerdictCannotTell: no run failed, but a harness error (or no run at
	// all) leaves something unmeasured.
	VerdictCannotTell CandidateVerdict = "CANNOT TELL"
)

// CandidateReport is `make qualify CANDIDATE=`'s answer.
type CandidateReport struct {
	Version string           `json:"version"`
	Verdict CandidateVerdict `json:"verdict"`
	// Why names the runs the verdict rests on.
	Why string `json:"why"`
	// Go is Verdict == GO, for readers of qualify.json from before the
	// verdict field.
	Go   bool              `json:"go"`
	Runs []CandidateResult `json:"runs"`
	// UpstreamCaveats are risks no run here measured for the candidate
	// whose upstream fix comes after it: shown beside the verdict, never
	// part of it.
	UpstreamCaveats []UpstreamCaveat `json:"upstreamCaveats,omitempty"`
	// Skipped says, per risk not run with the candidate, why.
	Skipped []string `json:"skipped,omitempty"`
}

// CandidateResult is one run of a candidate release in one risk's path.
type CandidateResult struct {
	Issue    int              `json:"issue"`
	Role     scenarios.Role   `json:"role"`
	Strategy upgrade.Strategy `json:"strategy"`
	Target   string           `json:"target,omitempty"`
	// Condition is the risk's: what must have happened to a cluster for
	// its failure to matter ("" when it needs nothing special).
	Condition string `json:"condition,omitempty"`
	Probe
	Go bool `json:"go"`
}

// Label is "etcd 20793 replace → 3.6.5".
func (r CandidateResult) Label() string {
	s := fmt.Sprintf("etcd %d %s", r.Issue, r.Strategy)
	if r.Target != "" {
		s += " → " + r.Target
	}
	return s
}

// UpstreamCaveat is what upstream says about a risk that nothing here
// measured for the candidate.
type UpstreamCaveat struct {
	Issue int    `json:"issue"`
	Title string `json:"title"`
	// FixedIn is the first release upstream says is fixed, after the
	// candidate.
	FixedIn string `json:"fixedIn"`
	// Measured says why no run speaks for the risk: "not measured" (no run
	// with the candidate) or that the harness does not reproduce it.
	Measured string `json:"measured"`
}

func (c UpstreamCaveat) String() string {
	return fmt.Sprintf("etcd %d (%s): %s: upstream says fixed in %s, later than the candidate", c.Issue, c.Title, c.Measured, c.FixedIn)
}

// oracleFor makes the oracle of one risk, strategy and target.
type oracleFor func(r scenarios.Risk, s upgrade.Strategy, t etcdbin.Version) Oracle

// Candidate runs every risk with a path, with the candidate in the risk's
// open role (a 3.5 candidate as the starting version and as the
// intermediate hop, against each 3.6 target; a 3.6 candidate as the
// target), and decides go / no-go from those runs alone. A risk whose role
// the candidate cannot take (a 3.5 release in a 3.6-side risk) is left
// out, and says why. What upstream says about a risk no run here measures
// is reported as a caveat, not a verdict: the registry's fix release is
// upstream's word, not a measurement.
func Candidate(ctx context.Context, plan Plan, runner *Runner, c etcdbin.Version) CandidateReport {
	return candidate(ctx, plan, c, func(r scenarios.Risk, s upgrade.Strategy, t etcdbin.Version) Oracle {
		return riskOracle(runner, r, s, t)
	})
}

func candidate(ctx context.Context, plan Plan, c etcdbin.Version, oracle oracleFor) CandidateReport {
	rep := CandidateReport{Version: c.String()}
	var mu sync.Mutex
	var cases []riskCase
	for i, r := range plan.Risks {
		if why := notRunWith(plan, r, c); why != "" {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("etcd %d: %s", r.Issue, why))
			continue
		}
		cases = append(cases, plan.cases(i, r)...)
	}
	runCases(cases, func(rc riskCase) {
		p := oracle(rc.risk, rc.strategy, rc.target)(ctx, c)
		res := CandidateResult{Issue: rc.risk.Issue, Role: rc.risk.Role, Strategy: rc.strategy, Target: rc.targetName(), Condition: rc.risk.Condition, Probe: p, Go: p.Outcome == Good}
		mu.Lock()
		rep.Runs = append(rep.Runs, res)
		mu.Unlock()
	})
	sort.Slice(rep.Runs, func(a, b int) bool {
		x, y := rep.Runs[a], rep.Runs[b]
		if x.Issue != y.Issue {
			return x.Issue < y.Issue
		}
		if x.Strategy != y.Strategy {
			return x.Strategy < y.Strategy
		}
		return x.Target < y.Target
	})
	rep.Verdict, rep.Why = candidateVerdict(rep.Runs)
	rep.Go = rep.Verdict == VerdictGo
	rep.UpstreamCaveats = upstreamCaveats(plan.Risks, rep.Runs, c)
	return rep
}

// notRunWith says why risk r is not run with candidate c ("" when it is).
func notRunWith(plan Plan, r scenarios.Risk, c etcdbin.Version) string {
	if r.Template == nil {
		return fmt.Sprintf("%s, no path: %s", r.Status, firstSentence(r.Evidence))
	}
	if (r.Role == scenarios.RoleTarget) != (c.Minor == 6) {
		return fmt.Sprintf("its open version is the %s, a %s release cannot take it", r.Role, c.MinorString())
	}
	if len(r.Strategies) > 0 && len(plan.targetsFor(r)) > 0 {
		if _, err := r.Path(c, plan.targetsFor(r)[0], r.Strategies[0]); err != nil {
			return err.Error()
		}
	}
	return ""
}

// candidateVerdict decides from the measured runs alone. A run that fails
// another way than the risk is a measured failure too, so no-go; a harness
// error measured nothing, so without a failure the answer is cannot tell,
// never go.
func candidateVerdict(runs []CandidateResult) (CandidateVerdict, string) {
	var failed, unmeasured []string
	for _, r := range runs {
		switch r.Outcome {
		case Good:
		case Bad:
			// A conditional risk still fails the candidate (the bug is in
			// it), but the reader learns which clusters it can reach.
			why := r.Label() + " reproduced the risk's failure"
			if r.Condition != "" {
				why += " (it matters only " + r.Condition + ")"
			}
			failed = append(failed, why)
		case Other:
			failed = append(failed, r.Label()+" failed another way")
		default:
			unmeasured = append(unmeasured, r.Label())
		}
	}
	switch {
	case len(failed) > 0:
		return VerdictNoGo, fmt.Sprintf("%d of %d runs failed: %s", len(failed), len(runs), strings.Join(failed, "; "))
	case len(unmeasured) > 0:
		return VerdictCannotTell, fmt.Sprintf("no run failed, but %d of %d are harness errors that measured nothing: %s", len(unmeasured), len(runs), strings.Join(unmeasured, "; "))
	case len(runs) == 0:
		return VerdictCannotTell, "no risk's path takes this release: nothing was measured"
	}
	return VerdictGo, fmt.Sprintf("all %d runs measured and consistent", len(runs))
}

// upstreamCaveats lists the risks whose upstream fix comes after candidate
// c (same minor) and that no run here measures for c: not run with it, or
// run but never reproduced by the harness (a consistent run of such a path
// does not rule the risk out). A risk a run reproduced is left to the
// verdict.
func upstreamCaveats(risks []scenarios.Risk, runs []CandidateResult, c etcdbin.Version) []UpstreamCaveat {
	var out []UpstreamCaveat
	for _, r := range risks {
		fix, ok := r.UpstreamFirstGoodIn(c.Minor)
		if !ok || !c.Less(fix) {
			continue
		}
		ran, reproduced := false, false
		for _, x := range runs {
			if x.Issue == r.Issue {
				ran = true
				reproduced = reproduced || x.Outcome == Bad
			}
		}
		measured := ""
		switch {
		case reproduced:
			continue
		case !ran:
			measured = "not measured"
		case r.Status != scenarios.Reproduced:
			measured = "not reproduced here (its path runs, but has never shown the failure)"
		default:
			continue
		}
		out = append(out, UpstreamCaveat{Issue: r.Issue, Title: r.Title, FixedIn: fix.String(), Measured: measured})
	}
	return out
}

func firstSentence(s string) string {
	for i, c := range s {
		if c == ':' || c == ';' {
			return s[:i]
		}
	}
	return s
}
