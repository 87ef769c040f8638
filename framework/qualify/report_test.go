package qualify

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

func probe(v string, o Outcome, line, dir string) *Probe {
	return &Probe{Version: etcdbin.MustParseVersion(v), Outcome: o, Run: &RunRecord{Line: line, Dir: dir, Seconds: 100}}
}

// A measured 20793 boundary (last bad 3.5.23, first good 3.5.24) and a
// 19557 one (3.5.19 / 3.5.20).
func sampleRisks(dir string) []RiskResult {
	b20793 := BisectionResult{Strategy: upgrade.Replace, Target: "3.6.5", Versions: []string{"3.5.21", "3.5.22", "3.5.23", "3.5.24"}, Bisection: Bisection{Monotone: true}}
	b20793.Probes = []Probe{*probe("3.5.21", Bad, "x log: member unknown", dir+"/a"), *probe("3.5.24", Good, "", dir+"/b"), *probe("3.5.23", Bad, "y log: member unknown", dir+"/c")}
	b20793.LastBad, b20793.FirstGood = &b20793.Probes[2], &b20793.Probes[1]
	b19557 := BisectionResult{Strategy: upgrade.InPlace, Target: "3.6.5", Versions: []string{"3.5.17", "3.5.19", "3.5.20", "3.5.21"}, Bisection: Bisection{Monotone: true}}
	b19557.Probes = []Probe{*probe("3.5.17", Bad, "membership check: says", dir+"/d"), *probe("3.5.21", Good, "", dir+"/e"), *probe("3.5.19", Bad, "membership check: says", dir+"/f"), *probe("3.5.20", Good, "", dir+"/g")}
	b19557.LastBad, b19557.FirstGood = &b19557.Probes[2], &b19557.Probes[3]
	return []RiskResult{
		{Issue: 19557, Title: "t", Status: scenarios.Reproduced, Role: scenarios.RoleStart, Bisections: []BisectionResult{b19557}},
		{Issue: 20793, Title: "t", Status: scenarios.Reproduced, Role: scenarios.RoleHop, Bisections: []BisectionResult{b20793}},
		{Issue: 20967, Title: "zombies", Status: scenarios.NotReproduced, Role: scenarios.RoleStart},
	}
}

// A measured 21694 boundary (last bad 3.5.24, first good 3.5.32), in place.
func risk21694(dir string) RiskResult {
	b := BisectionResult{Strategy: upgrade.InPlace, Target: "3.6.5", Versions: []string{"3.5.21", "3.5.24", "3.5.32"}, Bisection: Bisection{Monotone: true}}
	b.Probes = []Probe{*probe("3.5.21", Bad, "raft check: lists", dir+"/h"), *probe("3.5.32", Good, "", dir+"/i"), *probe("3.5.24", Bad, "raft check: lists", dir+"/j")}
	b.LastBad, b.FirstGood = &b.Probes[2], &b.Probes[1]
	return RiskResult{Issue: 21694, Title: "t", Status: scenarios.Reproduced, Role: scenarios.RoleStart, Bisections: []BisectionResult{b}}
}

func pin(k8s, etcd string) kubeadmpins.Pin { return kubeadmpins.Pin{Kubernetes: k8s, Etcd: etcd} }

func TestKubernetesTable(t *testing.T) {
	pins := []kubeadmpins.Pin{pin("v1.33.0", "3.5.21"), pin("v1.33.6", "3.5.24"), pin("v1.34.2", "3.6.5")}
	rows := KubernetesTable(pins, 33, 34, append(sampleRisks("/a"), risk21694("/a")))
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 2 pairs × 2 strategies", len(rows))
	}
	get := func(from, strategy string) K8sRow {
		for _, r := range rows {
			if r.From == from && r.Strategy == strategy {
				return r
			}
		}
		t.Fatalf("no row %s %s", from, strategy)
		return K8sRow{}
	}
	// 3.5.21 is before 20793's first good: unsafe by replacement for a
	// cluster with ≤3.5.19 history, measured against 3.6.5.
	if r := get("v1.33.0", "Cluster API replacement"); r.Safety != Conditional || !strings.Contains(strings.Join(r.Risks, " "), "etcd 20793") {
		t.Errorf("1.33.0 replace: %+v", r)
	}
	// In place, 20793 is not measured and 19557 is fixed at 3.5.20; 21694
	// (bad until 3.5.32) bites only a cluster whose learner got a member
	// update, which kubeadm never sends: conditional, not unsafe.
	for _, from := range []string{"v1.33.0", "v1.33.6"} {
		if r := get(from, "kubeadm in place"); r.Safety != Conditional || !strings.Contains(strings.Join(r.Risks, " "), "etcd 21694") || !strings.Contains(strings.Join(r.Risks, " "), "member update before its promotion") {
			t.Errorf("%s in place: %+v", from, r)
		}
	}
	// 21694 is measured in place only.
	if r := get("v1.33.6", "Cluster API replacement"); r.Safety != Safe {
		t.Errorf("1.33.6 replace: %+v", r)
	}
	// The rollback and 3.7 columns are the matrix's measured verdicts for
	// the same path, or say the matrix has none.
	if r := get("v1.33.0", "kubeadm in place"); r.Rollback != "consistent (3.5.21-to-3.6.5-to-3.5.21-in-place+downgrade)" || r.OnTo37 != NotMeasured {
		t.Errorf("1.33.0 in place: rollback %q, 3.7 %q", r.Rollback, r.OnTo37)
	}
	if r := get("v1.33.6", "Cluster API replacement"); r.Rollback != NotMeasured {
		t.Errorf("1.33.6 replace (etcd 3.5.24): rollback %q, want %q", r.Rollback, NotMeasured)
	}
	// The zombie risk is not reproduced: its upstream fix (3.5.26) comes
	// after 3.5.24, and the row says so.
	if r := get("v1.33.6", "kubeadm in place"); !strings.Contains(strings.Join(r.Notes, " "), "etcd 20967") {
		t.Errorf("1.33.6 in place lacks the unmeasured zombie note: %+v", r)
	}
}

func TestCompareUpstream(t *testing.T) {
	r, _ := scenarios.FindRisk(20793)
	b := Bisection{LastBad: probe("3.5.23", Bad, "", ""), FirstGood: probe("3.5.24", Good, "", "")}
	if got := compareUpstream(r, b); !strings.HasPrefix(got, "agrees") {
		t.Errorf("3.5.24: %s", got)
	}
	b.FirstGood, b.LastBad = probe("3.5.22", Good, "", ""), probe("3.5.21", Bad, "", "")
	if got := compareUpstream(r, b); !strings.HasPrefix(got, "differs") {
		t.Errorf("3.5.22: %s", got)
	}
	z, _ := scenarios.FindRisk(20967)
	b.LastBad, b.FirstGood = probe("3.5.25", Bad, "", ""), probe("3.5.27", Good, "", "")
	if got := compareUpstream(z, b); !strings.Contains(got, "over a gap") {
		t.Errorf("3.5.26 unserved: %s", got)
	}
}

func TestJudge(t *testing.T) {
	r, _ := scenarios.FindRisk(20793)
	for _, tc := range []struct {
		res  upgrade.Result
		want Outcome
	}{
		{upgrade.Result{Verdict: upgrade.Consistent}, Good},
		{upgrade.Result{Verdict: upgrade.HarnessError}, Unmeasured},
		{upgrade.Result{Verdict: upgrade.UpgradeFailed, Failure: &upgrade.Failure{Step: "hop 2 (3.5.21 → 3.6.5, replace): join a new member at etcd 3.6.5", Lines: []upgrade.Line{{Source: "m log", Text: "failed to update; member unknown"}}}}, Bad},
		{upgrade.Result{Verdict: upgrade.UpgradeFailed, Failure: &upgrade.Failure{Step: "hop 1 (3.5.19 → 3.5.21, replace): join a new member at etcd 3.5.21", Lines: []upgrade.Line{{Source: "m log", Text: "something else"}}}}, Other},
	} {
		rec := RunRecord{Verdict: tc.res.Verdict, Result: tc.res}
		if got := Judge(r, upgrade.Replace, &rec); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.res.Verdict, got, tc.want)
		}
	}
}

func TestReportWritesLinkedHeatMap(t *testing.T) {
	dir := t.TempDir()
	rep := &Report{Generated: "now", Mode: "bisect", Risks: sampleRisks(filepath.Join(dir, "qualify", "runs"))}
	rep.AddRuns()
	if rep.Costs.Runs != 7 || rep.Costs.RunSeconds["3.5.21"] != 200 {
		t.Errorf("costs = %+v", rep.Costs)
	}
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"qualify.json", "qualify.md", "heatmap.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	h, _ := os.ReadFile(filepath.Join(dir, "heatmap.html"))
	for _, want := range []string{`href="qualify/runs/c/result.json"`, `class="bad"`, `class="good"`, "ibad", "3.5.22"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("heat map lacks %q", want)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "qualify.md"))
	if !strings.Contains(string(md), "**3.5.23** (bad): y log: member unknown [run](qualify/runs/c/result.json)") {
		t.Errorf("qualify.md lacks the last bad with its line and link:\n%s", md)
	}
}

func TestShortLine(t *testing.T) {
	l := `m log: {"level":"panic","ts":"2026-11-30T02:09:58.655416Z","caller":"membership/cluster.go:503","msg":"failed to update; member unknown","unknown-remote-peer-id":"354841f0a01e98e0","stacktrace":"go.etcd.io/etcd/server/v3/etcdserver/api/membership.(*RaftCluster).UpdateAttributes\n\tgo.etcd.io/x.go:503 \"q\""}`
	want := `m log: {"level":"panic","caller":"membership/cluster.go:503","msg":"failed to update; member unknown","unknown-remote-peer-id":"354841f0a01e98e0"}`
	if got := ShortLine(l); got != want {
		t.Errorf("ShortLine =\n%s\nwant\n%s", got, want)
	}
}

func TestJSONVersionsAreStrings(t *testing.T) {
	b, err := json.Marshal(Report{Served: []etcdbin.Availability{{Version: etcdbin.MustParseVersion("3.5.26"), Why: "403"}}, Risks: sampleRisks("/r")})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version":"3.5.26","served":false,"why":"403"`, `"version":"3.5.23","outcome":"bad"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("qualify.json lacks %s", want)
		}
	}
	if strings.Contains(string(b), `"Major"`) {
		t.Error("a version written as a struct")
	}
}

// A candidate that cannot take a risk's role is not run there, and says
// why; with no run at all there is no verdict.
func TestCandidateOutsideARisksRole(t *testing.T) {
	r, _ := scenarios.FindRisk(20793)
	plan := Plan{Risks: []scenarios.Risk{r}, Targets: []etcdbin.Version{etcdbin.MustParseVersion("3.6.5")}}
	c := Candidate(t.Context(), plan, nil, etcdbin.MustParseVersion("3.5.19"))
	if len(c.Runs) != 0 || c.Verdict != VerdictCannotTell || c.Go || len(c.Skipped) != 1 || !strings.Contains(c.Skipped[0], "must come after 3.5.19") {
		t.Errorf("%+v", c)
	}
	// Upstream fixes 20793 in 3.5.24, after 3.5.19, and nothing here ran
	// it: a caveat, not a verdict.
	if len(c.UpstreamCaveats) != 1 || c.UpstreamCaveats[0].Measured != "not measured" || c.UpstreamCaveats[0].FixedIn != "3.5.24" {
		t.Errorf("caveats %+v", c.UpstreamCaveats)
	}
}

// kubeadmPins is kubeadm's pins as read 2026-11-30: 1.33.0–1.33.5 pin
// 3.5.21, 1.33.6–1.33.13 3.5.24 (1.33.8 and 1.33.10 not served), 1.34.0–
// 1.34.1 3.6.4, 1.34.2–1.34.12 3.6.5 (1.34.6 not served).
func kubeadmPins() ([]kubeadmpins.Pin, []K8sNotServed) {
	var pins []kubeadmpins.Pin
	add := func(minor, from, to int, etcd string, except ...int) {
	patches:
		for p := from; p <= to; p++ {
			for _, e := range except {
				if p == e {
					continue patches
				}
			}
			pins = append(pins, pin(fmt.Sprintf("v1.%d.%d", minor, p), etcd))
		}
	}
	add(33, 0, 5, "3.5.21")
	add(33, 6, 13, "3.5.24", 8, 10)
	add(34, 0, 1, "3.6.4")
	add(34, 2, 12, "3.6.5", 6)
	notServed := []K8sNotServed{{"v1.33.8", "404 Not Found"}, {"v1.33.10", "404 Not Found"}, {"v1.34.6", "404 Not Found"}}
	return pins, notServed
}

// The table groups into one row per (1.33 range, 1.34 range, strategy),
// ranges that span an unserved release name it, and every pair stays in
// qualify.json.
func TestKubernetesTableGroupedByPinRanges(t *testing.T) {
	pins, notServed := kubeadmPins()
	rows := KubernetesTable(pins, 33, 34, sampleRisks("/a"))
	if len(rows) != 12*12*2 {
		t.Fatalf("%d rows, want 12 × 12 pairs × 2 strategies", len(rows))
	}
	groups, outside := GroupKubernetes(rows, notServed)
	if len(groups) != 8 || len(outside) != 0 {
		t.Fatalf("%d groups (want 2 × 2 ranges × 2 strategies), outside %v", len(groups), outside)
	}
	var got []string
	pairs := 0
	for _, g := range groups {
		got = append(got, fmt.Sprintf("%s → %s, %s: %s", g.From, g.To, g.Strategy, g.Safety))
		pairs += g.Pairs
	}
	want := []string{
		"1.33.0–1.33.5 (etcd 3.5.21) → 1.34.0–1.34.1 (etcd 3.6.4), kubeadm in place: safe",
		"1.33.0–1.33.5 (etcd 3.5.21) → 1.34.0–1.34.1 (etcd 3.6.4), Cluster API replacement: unsafe for some clusters",
		"1.33.0–1.33.5 (etcd 3.5.21) → 1.34.2–1.34.12 (etcd 3.6.5) except 1.34.6 (not served), kubeadm in place: safe",
		"1.33.0–1.33.5 (etcd 3.5.21) → 1.34.2–1.34.12 (etcd 3.6.5) except 1.34.6 (not served), Cluster API replacement: unsafe for some clusters",
		"1.33.6–1.33.13 (etcd 3.5.24) except 1.33.8, 1.33.10 (not served) → 1.34.0–1.34.1 (etcd 3.6.4), kubeadm in place: safe",
		"1.33.6–1.33.13 (etcd 3.5.24) except 1.33.8, 1.33.10 (not served) → 1.34.0–1.34.1 (etcd 3.6.4), Cluster API replacement: safe",
		"1.33.6–1.33.13 (etcd 3.5.24) except 1.33.8, 1.33.10 (not served) → 1.34.2–1.34.12 (etcd 3.6.5) except 1.34.6 (not served), kubeadm in place: safe",
		"1.33.6–1.33.13 (etcd 3.5.24) except 1.33.8, 1.33.10 (not served) → 1.34.2–1.34.12 (etcd 3.6.5) except 1.34.6 (not served), Cluster API replacement: safe",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if pairs != len(rows) {
		t.Errorf("the groups stand for %d pairs, the table has %d", pairs, len(rows))
	}
	// The risk that makes a group unsafe stays on the group.
	if r := strings.Join(groups[1].Risks, " "); !strings.Contains(r, "etcd 20793") {
		t.Errorf("1.33.0–1.33.5 replacement: risks %q", r)
	}

	dir := t.TempDir()
	rep := &Report{Generated: "now", Mode: "bisect", Risks: sampleRisks("/a"), Pins: pins, KubernetesNotServed: notServed, Kubernetes: rows}
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "qualify.md"))
	section := string(md[strings.Index(string(md), "## Kubernetes"):strings.Index(string(md), "## kubeadm's etcd")])
	t.Log("\n" + section)
	if n := strings.Count(section, "| 1.33."); n != 8 {
		t.Errorf("qualify.md: %d Kubernetes rows, want 8:\n%s", n, section)
	}
	if !strings.Contains(section, "8 rows for 288 patch pairs × strategies") {
		t.Errorf("qualify.md does not count the pairs:\n%s", section)
	}
	if !strings.Contains(string(md), "| v1.33.8 | not served by the Go module proxy: 404 Not Found |") {
		t.Error("qualify.md's pins table lacks the unserved 1.33.8")
	}
	var back struct {
		Kubernetes          []K8sRow       `json:"kubernetes"`
		KubernetesNotServed []K8sNotServed `json:"kubernetesNotServed"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "qualify.json"))
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Kubernetes) != len(rows) || len(back.KubernetesNotServed) != 3 {
		t.Errorf("qualify.json: %d pairs (want %d), %d not served (want 3)", len(back.Kubernetes), len(rows), len(back.KubernetesNotServed))
	}
}

// A release with no pin joins the range around it only when the releases
// either side pin the same etcd; else it is listed outside every range.
func TestKubernetesRangesGaps(t *testing.T) {
	pins := map[string]string{
		"v1.33.1": "3.5.21", "v1.33.2": "3.5.21", "v1.33.4": "3.5.21", // 1.33.3: no pin read
		"v1.33.7": "3.5.24", "v1.33.9": "3.5.24", "v1.33.12": "3.5.24", // 1.33.6 between two pins, 1.33.8, 1.33.10 inside
		"v1.33.13": "3.5.25",
	}
	// 1.33.5 is neither served nor listed: no pin read.
	notServed := []K8sNotServed{{Kubernetes: "v1.33.0"}, {Kubernetes: "v1.33.6"}, {Kubernetes: "v1.33.8"}, {Kubernetes: "v1.33.10"}, {Kubernetes: "v1.33.14"}, {Kubernetes: "v1.34.6"}}
	ranges, outside := k8sRanges(pins, notServed)
	var got []string
	for _, r := range ranges {
		got = append(got, r.String())
	}
	want := []string{
		"1.33.1–1.33.4 (etcd 3.5.21) except 1.33.3 (no pin read)",
		"1.33.7–1.33.12 (etcd 3.5.24) except 1.33.8, 1.33.10 (not served); 1.33.11 (no pin read)",
		"1.33.13 (etcd 3.5.25)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ranges:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g := outside.String(); g != "1.33.0, 1.33.6, 1.33.14 (not served); 1.33.5 (no pin read)" {
		t.Errorf("outside: %s", g)
	}
}
