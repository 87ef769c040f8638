// Package scenarios is the matrix as data: each scenario names the
// Kubernetes versions it stands for, the etcd path, the strategy of each hop,
// how the cluster was built and the verdict expected per provider, with the
// evidence that expectation rests on. Adding a scenario is a few lines here.
package scenarios

import (
	"fmt"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

// Expectation is a measured verdict, what makes a run that verdict (its
// signatures), and the run it rests on.
type Expectation struct {
	upgrade.Expected
	// Evidence cites the run (artifacts, date, machine) or public report the
	// verdict rests on, and says why where it differs from a public report.
	Evidence string
}

// expect builds an expectation: a verdict, the evidence it rests on, and
// the signatures a run must show to give it.
func expect(v upgrade.Verdict, evidence string, sigs ...upgrade.Signature) Expectation {
	return Expectation{Expected: upgrade.Expected{Verdict: v, Signatures: sigs}, Evidence: evidence}
}

// Scenario is one path of the matrix.
type Scenario struct {
	Name       string
	Kubernetes string // the Kubernetes versions the path stands for
	Path       upgrade.Path
	// Suffix tells scenarios with the same path apart ("static", a fault).
	Suffix string
	// Expected holds one expectation per provider ("process", "kind").
	Expected map[string]Expectation
	// Risk marks paths that exercise the v2store/v3store membership bug.
	Risk bool
	// Fast marks the paths `make test` runs.
	Fast bool
	// Faults names fault sets (framework/fault.ByName) injected on the way.
	Faults []string
	// NotOn says, per provider, why the scenario means nothing there or is
	// not measured there yet; it is not run on that provider.
	NotOn map[string]string
}

// RunsOn says whether the scenario is run on provider, and why not.
func (s Scenario) RunsOn(provider string) (bool, string) {
	why, not := s.NotOn[provider]
	return !not, why
}

// notMeasuredYet starts the NotOn reason of a scenario that means something
// on a provider but has no measured verdict there yet.
const notMeasuredYet = "not measured on "

// notMeasuredOn is the NotOn reason of a scenario not measured on provider
// yet, saying why.
func notMeasuredOn(provider, why string) string {
	return notMeasuredYet + provider + " yet: " + why
}

// WithExpectationFrom makes s run on provider, where it has no measured
// verdict yet, with the verdict measured on from as the hypothesis the run
// confirms or refutes: how a scenario is first measured on a provider. A
// scenario that means nothing on provider (NotOn for another reason) stays
// refused.
func (s Scenario) WithExpectationFrom(provider, from string) (Scenario, error) {
	if provider == from {
		return s, fmt.Errorf("scenario %s: the expectation must come from another provider than %s", s.Name, provider)
	}
	if why, not := s.NotOn[provider]; not && !strings.HasPrefix(why, notMeasuredYet) {
		return s, fmt.Errorf("scenario %s does not run on %s: %s", s.Name, provider, why)
	}
	if _, ok := s.Expected[provider]; ok {
		return s, fmt.Errorf("scenario %s is measured on %s already: run it with its own expectation", s.Name, provider)
	}
	e, ok := s.Expected[from]
	if !ok {
		return s, fmt.Errorf("scenario %s has no measured verdict on %s to start from", s.Name, from)
	}
	out := s
	out.NotOn = map[string]string{}
	for p, why := range s.NotOn {
		if p != provider {
			out.NotOn[p] = why
		}
	}
	out.Expected = map[string]Expectation{}
	for p, x := range s.Expected {
		out.Expected[p] = x
	}
	out.Expected[provider] = Expectation{Expected: e.Expected, Evidence: "hypothesis: the verdict measured on " + from + " (-expect-from=" + from + "), not yet on " + provider + ". " + from + ": " + e.Evidence}
	return out, nil
}

// Expect returns the expectation for a provider.
func (s Scenario) Expect(provider string) (Expectation, bool) {
	e, ok := s.Expected[provider]
	return e, ok
}

// Labels are the ginkgo labels of the scenario.
func (s Scenario) Labels() []string {
	l := []string{}
	seen := map[string]bool{}
	for _, h := range s.Path.Hops {
		if !seen[string(h.Strategy)] {
			l = append(l, string(h.Strategy))
			seen[string(h.Strategy)] = true
		}
	}
	if s.Risk {
		l = append(l, "risk")
	}
	if s.Fast {
		l = append(l, "fast")
	}
	if len(s.Faults) > 0 {
		l = append(l, "faults")
	}
	for _, h := range s.Path.Hops {
		if h.To.Minor >= 7 {
			l = append(l, "etcd-3.7")
			break
		}
	}
	return l
}

// Versions lists every etcd version the scenarios use.
func Versions(all []Scenario) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range all {
		for _, v := range s.Path.Versions() {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// Find returns the scenario with the given name.
func Find(all []Scenario, name string) (Scenario, bool) {
	for _, s := range all {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// path builds a learner-joined 3-member path: from, then (strategy, version)
// pairs.
func path(from string, hops ...string) upgrade.Path {
	if len(hops)%2 != 0 {
		panic("path: hops come in (strategy, version) pairs")
	}
	p := upgrade.Path{From: etcdbin.MustParseVersion(from), Size: 3, Bootstrap: upgrade.LearnerJoins}
	for i := 0; i < len(hops); i += 2 {
		p.Hops = append(p.Hops, upgrade.Hop{Strategy: upgrade.Strategy(hops[i]), To: etcdbin.MustParseVersion(hops[i+1])})
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return p
}

func static(p upgrade.Path) upgrade.Path {
	p.Bootstrap = upgrade.Static
	return p
}

// Name renders "3.5.17-to-3.6.5-replace"; a hop halted after N of the
// path's members reads "3.6.5-1of3", a downgrade hop adds its strategy
// ("3.5.21-to-3.6.5-to-3.5.21-in-place+downgrade").
func Name(p upgrade.Path, suffix string) string {
	steps := p.Notation()
	for i, st := range steps {
		if v, n, halted := strings.Cut(st, "/"); halted {
			steps[i] = fmt.Sprintf("%s-%sof%d", v, n, p.Size)
		}
	}
	n := strings.Join(steps, "-to-") + "-" + p.StrategyLabel()
	if suffix != "" {
		n += "-" + suffix
	}
	return n
}

// scenario names s after its path and suffix and attaches the measured
// expectations recorded under that name.
func scenario(s Scenario) Scenario {
	s.Name = Name(s.Path, s.Suffix)
	if s.Kubernetes == "" {
		panic(fmt.Sprintf("scenario %s stands for no Kubernetes versions", s.Name))
	}
	s.Expected = measured(s.Name)
	notOn := s.NotOn
	s.NotOn = map[string]string{}
	for provider, why := range notOn {
		s.NotOn[provider] = why
	}
	for provider, why := range NotOn(s.Path) {
		s.NotOn[provider] = why
	}
	return s
}

// NotOn says on which providers path p means nothing, and why: a provider
// refuses such a path before anything starts, never skips it in silence.
func NotOn(p upgrade.Path) map[string]string {
	out := map[string]string{}
	for _, h := range p.Hops {
		if h.Strategy == upgrade.KubeadmUpgrade {
			out["process"] = "the process provider runs no Kubernetes: strategy " + kubeadmUpgrade + " is the kind provider's"
		}
	}
	switch p.Bootstrap {
	case upgrade.Static:
		out["kind"] = "kind builds control planes with kubeadm only (init, then learner joins): a static bootstrap is the process provider's control"
	case upgrade.LearnerJoinsMemberUpdate:
		out["kind"] = "kind joins control planes with kubeadm join, which adds the learner and promotes it in one command: no step between the two can send a member update, so bootstrap " + string(upgrade.LearnerJoinsMemberUpdate) + " is the process provider's"
	}
	return out
}

// measured gathers the expectations recorded for a scenario, per provider.
func measured(name string) map[string]Expectation {
	out := map[string]Expectation{}
	for provider, table := range map[string]map[string]Expectation{"process": processExpected, "kind": kindExpected} {
		if e, ok := table[name]; ok {
			out[provider] = e
		}
	}
	return out
}

// ByPath returns the scenario of the matrix with path p (and no suffix:
// no faults, learner joins), for a path given on the command line.
func ByPath(all []Scenario, p upgrade.Path) (Scenario, bool) {
	return Find(all, Name(p, ""))
}
