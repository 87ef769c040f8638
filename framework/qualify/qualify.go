package qualify

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// Plan is what one qualification runs.
type Plan struct {
	Risks []scenarios.Risk
	// Served lists, per minor ("3.5", "3.6"), the releases the proxy
	// serves in the ranges asked for, ascending.
	Served map[string][]etcdbin.Version
	// Targets are the 3.6 releases the 3.5-side risks are run against.
	Targets []etcdbin.Version
	// Range35 and Range36 narrow each risk's own range (zero: no limit).
	Range35, Range36 [2]etcdbin.Version
	// Width is how many versions one bisection runs at once.
	Width int
}

// versionsFor lists the served releases in the risk's range, narrowed by
// the plan's range for that minor.
func (p Plan) versionsFor(r scenarios.Risk) []etcdbin.Version {
	lo, hi := etcdbin.MustParseVersion(r.Range[0]), etcdbin.MustParseVersion(r.Range[1])
	narrow := p.Range35
	if r.Role == scenarios.RoleTarget {
		narrow = p.Range36
	}
	if !narrow[0].IsZero() && lo.Less(narrow[0]) {
		lo = narrow[0]
	}
	if !narrow[1].IsZero() && narrow[1].Less(hi) {
		hi = narrow[1]
	}
	var out []etcdbin.Version
	for _, v := range p.Served[lo.MinorString()] {
		if !v.Less(lo) && !hi.Less(v) {
			out = append(out, v)
		}
	}
	return out
}

// targetsFor lists the targets a risk is bisected against: the plan's 3.6
// targets, or one "target" (the open version itself) for 3.6-side risks.
func (p Plan) targetsFor(r scenarios.Risk) []etcdbin.Version {
	if r.Role == scenarios.RoleTarget {
		return []etcdbin.Version{{}}
	}
	return p.Targets
}

// riskCase is one risk run for one strategy against one target.
type riskCase struct {
	index    int // the risk's place in the plan
	risk     scenarios.Risk
	strategy upgrade.Strategy
	target   etcdbin.Version // zero for 3.6-side risks
}

func (c riskCase) targetName() string {
	if c.target.IsZero() {
		return ""
	}
	return c.target.String()
}

// cases lists risk r's strategies × targets.
func (p Plan) cases(index int, r scenarios.Risk) []riskCase {
	var out []riskCase
	for _, s := range r.Strategies {
		for _, t := range p.targetsFor(r) {
			out = append(out, riskCase{index: index, risk: r, strategy: s, target: t})
		}
	}
	return out
}

// runCases runs f for every case at once; the Runner bounds how many paths
// actually run.
func runCases(cases []riskCase, f func(riskCase)) {
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(c)
		}()
	}
	wg.Wait()
}

// RiskResult is one risk's qualification.
type RiskResult struct {
	Issue       int               `json:"issue"`
	Title       string            `json:"title"`
	Status      scenarios.Status  `json:"status"`
	UpstreamFix string            `json:"upstreamFix"`
	Role        scenarios.Role    `json:"role"`
	Mechanism   string            `json:"mechanism"`
	Evidence    string            `json:"evidence"`
	Bisections  []BisectionResult `json:"bisections,omitempty"`
	// Attempt is the run of a risk not reproduced that has a path: its
	// range start, where it should reproduce if the harness could.
	Attempt *Probe `json:"attempt,omitempty"`
}

// BisectionResult is one bisection: a risk, a strategy, a target.
type BisectionResult struct {
	Strategy upgrade.Strategy `json:"strategy"`
	// Target is the 3.6 release (empty for 3.6-side risks: the open
	// version is the target).
	Target string `json:"target,omitempty"`
	// Versions are the served releases bisected over.
	Versions []string `json:"versions"`
	Bisection
	// Upstream compares the measured first good with the registry's
	// upstream fix: "agrees", or what differs.
	Upstream string `json:"upstream"`
}

// Qualify bisects every reproduced risk of the plan, for each strategy and
// target, in parallel (the Runner bounds how many paths run at once), and
// makes one attempt at each risk not reproduced that has a path.
func Qualify(ctx context.Context, plan Plan, runner *Runner) []RiskResult {
	out := make([]RiskResult, len(plan.Risks))
	var mu sync.Mutex
	var cases []riskCase
	for i, r := range plan.Risks {
		out[i] = RiskResult{Issue: r.Issue, Title: r.Title, Status: r.Status, UpstreamFix: r.UpstreamFix, Role: r.Role, Mechanism: r.Mechanism, Evidence: r.Evidence}
		if r.Template != nil && len(plan.versionsFor(r)) > 0 {
			cases = append(cases, plan.cases(i, r)...)
		}
	}
	runCases(cases, func(c riskCase) {
		vs := plan.versionsFor(c.risk)
		oracle := riskOracle(runner, c.risk, c.strategy, c.target)
		if c.risk.Status != scenarios.Reproduced {
			p := oracle(ctx, vs[0])
			mu.Lock()
			out[c.index].Attempt = &p
			mu.Unlock()
			return
		}
		br := BisectionResult{Strategy: c.strategy, Target: c.targetName(), Versions: strs(vs), Bisection: Bisect(ctx, vs, oracle, plan.Width)}
		br.Upstream = compareUpstream(c.risk, br.Bisection)
		mu.Lock()
		out[c.index].Bisections = append(out[c.index].Bisections, br)
		mu.Unlock()
	})
	for i := range out {
		sort.Slice(out[i].Bisections, func(a, b int) bool {
			x, y := out[i].Bisections[a], out[i].Bisections[b]
			if x.Strategy != y.Strategy {
				return x.Strategy < y.Strategy
			}
			return x.Target < y.Target
		})
	}
	return out
}

// riskOracle runs risk r's path for strategy s against target t.
func riskOracle(runner *Runner, r scenarios.Risk, s upgrade.Strategy, t etcdbin.Version) Oracle {
	return func(ctx context.Context, v etcdbin.Version) Probe {
		p, err := r.Path(v, t, s)
		if err != nil {
			return Probe{Version: v, Outcome: Unmeasured, Run: &RunRecord{Cause: err.Error(), Verdict: upgrade.HarnessError}}
		}
		rec := runner.Run(ctx, p)
		return Probe{Version: v, Outcome: Judge(r, s, &rec), Run: &rec}
	}
}

// Judge says what a run shows about risk r, and records the signature.
func Judge(r scenarios.Risk, s upgrade.Strategy, rec *RunRecord) Outcome {
	switch rec.Verdict {
	case upgrade.HarnessError, "":
		return Unmeasured
	case upgrade.Consistent:
		return Good
	}
	if sig, ok := r.Reproduces(s, rec.Result); ok {
		rec.Signature = sig.String()
		return Bad
	}
	return Other
}

// compareUpstream sets the measured boundary against the registry's
// upstream fix release.
func compareUpstream(r scenarios.Risk, b Bisection) string {
	if r.UpstreamFirstGood == "" {
		return "upstream names no fix release"
	}
	up := etcdbin.MustParseVersion(r.UpstreamFirstGood)
	switch {
	case b.FirstGood == nil:
		return fmt.Sprintf("differs: upstream says fixed in %s, no release in range measured good", up)
	case b.LastBad == nil:
		return fmt.Sprintf("the range starts after the bug: good from %s (upstream fix %s)", b.FirstGood.Version, up)
	case b.FirstGood.Version == up:
		return fmt.Sprintf("agrees: first good %s is upstream's fix release", up)
	case b.LastBad.Version.Less(up) && up.Less(b.FirstGood.Version):
		return fmt.Sprintf("agrees, over a gap: upstream's fix %s is not served; %s is the first served release after it", up, b.FirstGood.Version)
	default:
		return fmt.Sprintf("differs: measured last bad %s, first good %s; upstream says fixed in %s", b.LastBad.Version, b.FirstGood.Version, up)
	}
}

func strs(vs []etcdbin.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.String())
	}
	return out
}

// AllVersions lists every served release some risk of the plan may open
// (for a risk not reproduced, the one release its attempt runs).
func (p Plan) AllVersions() []etcdbin.Version {
	seen := map[etcdbin.Version]bool{}
	var out []etcdbin.Version
	for _, r := range p.Risks {
		if r.Template == nil {
			continue
		}
		vs := p.versionsFor(r)
		if r.Status != scenarios.Reproduced && len(vs) > 0 {
			vs = vs[:1] // one attempt, at the range start
		}
		for _, v := range vs {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
