package qualify

import (
	"fmt"
	"sort"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
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
	kv, err := k8sbin.ParseVersion(v)
	return kv.Minor, err
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
		switch {
		case rr.Role == scenarios.RoleHop:
			conditional = true
			line += fmt.Sprintf("; only for a cluster that ran etcd ≤3.5.19 (Kubernetes ≤1.32) and was replaced onto %s", ef)
		case reg.Condition != "":
			conditional = true
			line += "; only " + reg.Condition
		default:
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
	for _, v := range []etcdbin.Version{from, to} {
		if fix, ok := r.UpstreamFirstGoodIn(v.Minor); ok && v.Less(fix) {
			return fmt.Sprintf("etcd %d (%s) is not reproduced here; upstream says fixed in %s, after %s", r.Issue, r.Title, fix, v)
		}
	}
	return ""
}

// K8sNotServed is a Kubernetes patch release the module proxy did not
// serve: its pin is not read, so it is in no pair.
type K8sNotServed struct {
	Kubernetes string `json:"kubernetes"` // v1.33.8
	Why        string `json:"why"`
}

// NotServedKubernetes converts the pin reader's unserved releases.
func NotServedKubernetes(as []kubeadmpins.Availability) []K8sNotServed {
	var out []K8sNotServed
	for _, a := range as {
		out = append(out, K8sNotServed{Kubernetes: a.Version.String(), Why: a.Why})
	}
	return out
}

// availabilities converts back, for kubeadmpins.Table.
func availabilities(ns []K8sNotServed) []kubeadmpins.Availability {
	var out []kubeadmpins.Availability
	for _, n := range ns {
		if v, err := k8sbin.ParseVersion(n.Kubernetes); err == nil {
			out = append(out, kubeadmpins.Availability{Version: v, Why: n.Why})
		}
	}
	return out
}

// Why a patch release inside a range has no pin.
const (
	GapNotServed = "not served"
	GapNoPin     = "no pin read"
)

// K8sGap is a patch release with no pin.
type K8sGap struct {
	Kubernetes string // v1.33.8
	Why        string // GapNotServed or GapNoPin
}

// K8sRange is consecutive patch releases of one Kubernetes minor whose
// kubeadm pins the same etcd.
type K8sRange struct {
	First, Last string // v1.33.6, v1.33.13
	Etcd        string
	// Gaps are the releases between First and Last with no pin. The range
	// spans them only because the releases either side pin the same etcd,
	// and names them so that it claims nothing about them.
	Gaps K8sGaps
}

// String is "1.33.6–1.33.13 (etcd 3.5.24) except 1.33.8, 1.33.10 (not
// served)".
func (r K8sRange) String() string {
	s := strings.TrimPrefix(r.First, "v")
	if r.Last != r.First {
		s += "–" + strings.TrimPrefix(r.Last, "v")
	}
	s += " (etcd " + r.Etcd + ")"
	if len(r.Gaps) > 0 {
		s += " except " + r.Gaps.String()
	}
	return s
}

// K8sGaps are releases with no pin.
type K8sGaps []K8sGap

// String is "1.33.8, 1.33.10 (not served); 1.33.9 (no pin read)".
func (gs K8sGaps) String() string {
	var whys []string
	byWhy := map[string][]string{}
	for _, g := range gs {
		if _, ok := byWhy[g.Why]; !ok {
			whys = append(whys, g.Why)
		}
		byWhy[g.Why] = append(byWhy[g.Why], strings.TrimPrefix(g.Kubernetes, "v"))
	}
	var parts []string
	for _, w := range whys {
		parts = append(parts, strings.Join(byWhy[w], ", ")+" ("+w+")")
	}
	return strings.Join(parts, "; ")
}

// K8sGroup is the pairs of one from-range and one to-range with one
// strategy.
type K8sGroup struct {
	From, To         K8sRange
	Strategy         string
	Safety           string
	Risks, Notes     []string
	Rollback, OnTo37 string
	// Pairs counts the table's rows the group stands for.
	Pairs int
}

// GroupKubernetes folds the per-pair table into one group per (from
// range, to range, strategy), in range order. judgePair reads only the
// two pins' etcd, so the pairs of a group share their answer; the answer
// is part of the key all the same, so that a pair answered otherwise
// shows as a row of its own rather than hide in its group. The second
// result lists the releases in no range: with no pin, at the edge of a
// range or between two that pin different etcd, so their etcd is unknown.
func GroupKubernetes(rows []K8sRow, notServed []K8sNotServed) ([]K8sGroup, K8sGaps) {
	if len(rows) == 0 {
		return nil, nil
	}
	fromPins, toPins := map[string]string{}, map[string]string{}
	for _, r := range rows {
		fromPins[r.From], toPins[r.To] = r.EtcdFrom, r.EtcdTo
	}
	fromRanges, fromOutside := k8sRanges(fromPins, notServed)
	toRanges, toOutside := k8sRanges(toPins, notServed)
	var out []K8sGroup
	type key struct {
		from, to         int
		strategy, answer string
	}
	index := map[key]int{}
	for _, r := range rows {
		answer := strings.Join([]string{r.Safety, strings.Join(r.Risks, "\n"), strings.Join(r.Notes, "\n"), r.Rollback, r.OnTo37}, "\x00")
		k := key{rangeOf(fromRanges, r.From), rangeOf(toRanges, r.To), r.Strategy, answer}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, K8sGroup{From: fromRanges[k.from], To: toRanges[k.to], Strategy: r.Strategy, Safety: r.Safety, Risks: r.Risks, Notes: r.Notes, Rollback: r.Rollback, OnTo37: r.OnTo37})
		}
		out[i].Pairs++
	}
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.From.First != y.From.First {
			return k8sLess(x.From.First, y.From.First)
		}
		return k8sLess(x.To.First, y.To.First)
	})
	return out, append(fromOutside, toOutside...)
}

// k8sRanges folds one minor's pins (release → etcd) into ranges of
// consecutive patches with the same etcd. A release with no pin joins the
// range around it when the releases either side pin the same etcd (named
// as a gap), else it is listed outside every range; so are the unserved
// releases after the last pin.
func k8sRanges(pins map[string]string, notServed []K8sNotServed) ([]K8sRange, K8sGaps) {
	var minor int
	byPatch := map[int]string{}
	for k, etcd := range pins {
		v, err := k8sbin.ParseVersion(k)
		if err != nil {
			continue
		}
		minor, byPatch[v.Patch] = v.Minor, etcd
	}
	unserved := map[int]bool{}
	for _, n := range notServed {
		if v, err := k8sbin.ParseVersion(n.Kubernetes); err == nil && v.Minor == minor {
			unserved[v.Patch] = true
		}
	}
	name := func(patch int) string { return k8sbin.Version{Major: 1, Minor: minor, Patch: patch}.String() }
	gap := func(patch int) K8sGap {
		if unserved[patch] {
			return K8sGap{Kubernetes: name(patch), Why: GapNotServed}
		}
		return K8sGap{Kubernetes: name(patch), Why: GapNoPin}
	}
	var ranges []K8sRange
	var outside K8sGaps
	next := 0 // the first patch not placed yet
	for _, p := range sortedPatches(byPatch) {
		var between []K8sGap
		for q := next; q < p; q++ {
			between = append(between, gap(q))
		}
		if n := len(ranges); n > 0 && ranges[n-1].Etcd == byPatch[p] {
			ranges[n-1].Gaps = append(ranges[n-1].Gaps, between...)
			ranges[n-1].Last = name(p)
		} else {
			outside = append(outside, between...)
			ranges = append(ranges, K8sRange{First: name(p), Last: name(p), Etcd: byPatch[p]})
		}
		next = p + 1
	}
	for _, q := range sortedPatches(unserved) {
		if q >= next {
			outside = append(outside, gap(q))
		}
	}
	return ranges, outside
}

func sortedPatches[V any](m map[int]V) []int {
	var out []int
	for p := range m {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// rangeOf is the index of the range holding release v.
func rangeOf(ranges []K8sRange, v string) int {
	for i, r := range ranges {
		if !k8sLess(v, r.First) && !k8sLess(r.Last, v) {
			return i
		}
	}
	return -1
}

func k8sLess(a, b string) bool {
	x, errx := k8sbin.ParseVersion(a)
	y, erry := k8sbin.ParseVersion(b)
	if errx != nil || erry != nil {
		return a < b
	}
	if x.Minor != y.Minor {
		return x.Minor < y.Minor
	}
	return x.Patch < y.Patch
}
