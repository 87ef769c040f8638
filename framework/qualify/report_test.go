package qualify

import (
	"encoding/json"
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

func pin(k8s, etcd string) kubeadmpins.Pin { return kubeadmpins.Pin{Kubernetes: k8s, Etcd: etcd} }

func TestKubernetesTable(t *testing.T) {
	pins := []kubeadmpins.Pin{pin("v1.33.0", "3.5.21"), pin("v1.33.6", "3.5.24"), pin("v1.34.2", "3.6.5")}
	rows := KubernetesTable(pins, 33, 34, sampleRisks("/a"))
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
	// In place, 20793 is not measured and 19557 is fixed at 3.5.20.
	if r := get("v1.33.0", "kubeadm in place"); r.Safety != Safe {
		t.Errorf("1.33.0 in place: %+v", r)
	}
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

func TestUnmeasuredBlocker(t *testing.T) {
	z, _ := scenarios.FindRisk(20967)
	if b := unmeasuredBlocker(z, etcdbin.MustParseVersion("3.5.24")); !strings.Contains(b, "NO-GO") {
		t.Errorf("3.5.24 before the zombie fix: %q", b)
	}
	if b := unmeasuredBlocker(z, etcdbin.MustParseVersion("3.5.27")); b != "" {
		t.Errorf("3.5.27 after the zombie fix: %q", b)
	}
	if b := unmeasuredBlocker(z, etcdbin.MustParseVersion("3.6.5")); b != "" {
		t.Errorf("a 3.6 candidate blocked by a 3.5 fix: %q", b)
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

// A candidate that cannot take a risk's role is not run there, and says why.
func TestCandidateOutsideARisksRole(t *testing.T) {
	r, _ := scenarios.FindRisk(20793)
	plan := Plan{Risks: []scenarios.Risk{r}, Targets: []etcdbin.Version{etcdbin.MustParseVersion("3.6.5")}}
	runs, skipped, ok := Candidate(t.Context(), plan, nil, etcdbin.MustParseVersion("3.5.19"))
	if len(runs) != 0 || ok || len(skipped) != 1 || !strings.Contains(skipped[0], "must come after 3.5.19") {
		t.Errorf("runs %v, skipped %v, go %v", runs, skipped, ok)
	}
}
