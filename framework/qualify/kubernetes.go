package qualify

import (
	"fmt"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// KubernetesStrategies are the two ways a control plane's etcd moves with
// Kubernetes, and the harness strategy that stands for each.
var KubernetesStrategies = []struct {
	Name     string
	Strategy upgrade.Strategy
}{
	{"kubeadm in place", upgrade.InPlace},
	{"Cluster API replacement", upgrade.Replace},
}

// Safety of one Kubernetes upgrade's etcd move.
const (
	Safe        = "safe"
	Unsafe      = "unsafe"
	Conditional = "unsafe for some clusters"
	Unknown     = "unknown"
)

// K8sRow is one Kubernetes patch upgrade with one strategy.
type K8sRow struct {
	From     string `json:"from"` // v1.33.z
	To       string `json:"to"`   // v1.34.z
	EtcdFrom string `json:"etcdFrom"`
	EtcdTo   string `json:"etcdTo"`
	Strategy string `json:"strategy"`
	Safety   string `json:"safety"`
	// Risks say which risk makes it unsafe, and on what measurement.
	Risks []string `json:"risks,omitempty"`
	// Notes name risks not measured here that upstream says affect it.
	Notes []string `json:"notes,omitempty"`
	// Rollback is the verdict measured for this upgrade rolled back to the
	// from-release's etcd with etcd's downgrade, and OnTo37 for it pushed
	// on to etcd 3.7: each the process verdict of the matrix's scenario
	// with that path, or "not measured" when the matrix has none.
	Rollback string `json:"rollback"`
	OnTo37   string `json:"onTo37"`
}

// KubernetesTable judges every from-minor patch → to-minor patch pair of
// the pins, per strategy, by the bisections measured.
func KubernetesTable(pins []kubeadmpins.Pin, fromMinor, toMinor int, risks []RiskResult) []K8sRow {
	var from, to []kubeadmpins.Pin
	for _, p := range pins {
		v, err := k8sMinor(p.Kubernetes)
		if err != nil {
			continue
		}
		switch v {
		case fromMinor:
			from = append(from, p)
		case toMinor:
			to = append(to, p)
		}
	}
	var rows []K8sRow
	for _, a := range from {
		for _, b := range to {
			for _, ks := range KubernetesStrategies {
				rows = append(rows, judgePair(a, b, ks.Name, ks.Strategy, risks))
			}
		}
	}
	return rows
}

func k8sMinor(v string) (int, error) {
	var maj, min, patch int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d.%d", &maj, &min, &patch); err != nil {
		return 0, err
	}
	return min, nil
}

func judgePair(a, b kubeadmpins.Pin, name string, s upgrade.Strategy, risks []RiskResult) K8sRow {
	row := K8sRow{From: a.Kubernetes, To: b.Kubernetes, EtcdFrom: a.Etcd, EtcdTo: b.Etcd, Strategy: name, Safety: Safe}
	ef, err1 := etcdbin.ParseVersion(a.Etcd)
	et, err2 := etcdbin.ParseVersion(b.Etcd)
	if err1 != nil || err2 != nil {
		row.Safety = Unknown
		row.Notes = append(row.Notes, fmt.Sprintf("kubeadm's etcd %s / %s cannot be judged", a.Etcd, b.Etcd))
		return row
	}
	unsafe, conditional := false, false
	for _, rr := range risks {
		reg, _ := scenarios.FindRisk(rr.Issue)
		if rr.Status != scenarios.Reproduced {
			if note := unmeasuredNote(reg, ef, et); note != "" {
				row.Notes = append(row.Notes, note)
			}
			continue
		}
		br, how := pickBisection(rr, s, et)
		if br == nil {
			continue
		}
		open := ef
		if rr.Role == scenarios.RoleTarget {
			open = et
		}
		bad, why := badAt(*br, open)
		if !bad {
			continue
		}
		line := fmt.Sprintf("etcd %d (%s): %s%s", rr.Issue, rr.Title, why, how)
		if rr.Role == scenarios.RoleHop {
			conditional = true
			line += fmt.Sprintf("; only for a cluster that ran etcd ≤3.5.19 (Kubernetes ≤1.32) and was replaced onto %s", ef)
		} else {
			unsafe = true
		}
		row.Risks = append(row.Risks, line)
	}
	switch {
	case unsafe:
		row.Safety = Unsafe
	case conditional:
		row.Safety = Conditional
	}
	row.Rollback = matrixVerdict(ef, []upgrade.Hop{{To: et, Strategy: s}, {To: ef, Strategy: upgrade.Downgrade}})
	row.OnTo37 = matrixVerdict(ef, []upgrade.Hop{{To: et, Strategy: s}, {To: etcdbin.MustParseVersion(scenarios.Etcd37), Strategy: s}})
	return row
}

// NotMeasured is a rollback or 3.7 cell the matrix has no scenario for.
const NotMeasured = "not measured"

// matrixVerdict is the process verdict the matrix measured for the path
// from → hops (learner joins, three members), with the scenario's name.
func matrixVerdict(from etcdbin.Version, hops []upgrade.Hop) string {
	p := upgrade.Path{From: from, Hops: hops, Size: 3, Bootstrap: upgrade.LearnerJoins}
	sc, ok := scenarios.ByPath(scenarios.All(), p)
	if !ok {
		return NotMeasured
	}
	e, ok := sc.Expect("process")
	if !ok {
		return NotMeasured
	}
	return fmt.Sprintf("%s (%s)", e.Verdict, sc.Name)
}

// pickBisection finds the bisection of rr for strategy s against target t,
// else against another target (and says so).
func pickBisection(rr RiskResult, s upgrade.Strategy, t etcdbin.Version) (*BisectionResult, string) {
	var other *BisectionResult
	for i := range rr.Bisections {
		br := &rr.Bisections[i]
		if br.Strategy != s {
			continue
		}
		if br.Target == "" || br.Target == t.String() {
			return br, ""
		}
		if other == nil {
			other = br
		}
	}
	if other != nil {
		return other, fmt.Sprintf(" (measured against %s, not %s)", other.Target, t)
	}
	return nil, ""
}

// badAt says whether v is bad by the bisection: measured when v was run,
// else inferred from the boundary.
func badAt(br BisectionResult, v etcdbin.Version) (bool, string) {
	for _, p := range br.Probes {
		if p.Version == v {
			switch p.Outcome {
			case Bad:
				return true, fmt.Sprintf("measured at %s: %s", v, runLine(p))
			case Other:
				return true, fmt.Sprintf("measured at %s: another failure: %s", v, runLine(p))
			default:
				return false, ""
			}
		}
	}
	if br.FirstGood == nil && br.LastBad != nil && !br.LastBad.Version.Less(v) {
		return true, fmt.Sprintf("inferred: still bad at %s, the newest run", br.LastBad.Version)
	}
	if br.FirstGood != nil && v.Less(br.FirstGood.Version) && br.LastBad != nil {
		return true, fmt.Sprintf("inferred: %s is before the first good %s (last bad %s)", v, br.FirstGood.Version, br.LastBad.Version)
	}
	return false, ""
}

func runLine(p Probe) string {
	if p.Run == nil || p.Run.Line == "" {
		return string(p.Outcome)
	}
	return p.Run.Line
}

// unmeasuredNote names a risk the harness does not reproduce whose upstream
// fix comes after the release the pair moves from (3.5) or to (3.6).
func unmeasuredNote(r scenarios.Risk, from, to etcdbin.Version) string {
	if r.UpstreamFirstGood == "" {
		return ""
	}
	fix := etcdbin.MustParseVersion(r.UpstreamFirstGood)
	v := from
	if fix.Minor == 6 {
		v = to
	}
	if v.Less(fix) {
		return fmt.Sprintf("etcd %d (%s) is not reproduced here; upstream says fixed in %s, after %s", r.Issue, r.Title, fix, v)
	}
	return ""
}

// K8sGroup is the rows that share their etcd move, strategy and answer.
type K8sGroup struct {
	From, To         []string // Kubernetes patches
	EtcdFrom, EtcdTo string
	Strategy         string
	Safety           string
	Risks, Notes     []string
	Rollback, OnTo37 string
}

// GroupKubernetes folds the table into one group per etcd move, strategy
// and answer, in the table's order: what a reader scans.
func GroupKubernetes(rows []K8sRow) []K8sGroup {
	var out []K8sGroup
	index := map[string]int{}
	for _, r := range rows {
		key := strings.Join([]string{r.EtcdFrom, r.EtcdTo, r.Strategy, r.Safety, strings.Join(r.Risks, "|"), strings.Join(r.Notes, "|"), r.Rollback, r.OnTo37}, "\x00")
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, K8sGroup{EtcdFrom: r.EtcdFrom, EtcdTo: r.EtcdTo, Strategy: r.Strategy, Safety: r.Safety, Risks: r.Risks, Notes: r.Notes, Rollback: r.Rollback, OnTo37: r.OnTo37})
		}
		g := &out[i]
		if !contains(g.From, r.From) {
			g.From = append(g.From, r.From)
		}
		if !contains(g.To, r.To) {
			g.To = append(g.To, r.To)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
