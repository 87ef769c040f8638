package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/upgrade"
)

func writeResult(t *testing.T, dir string, res upgrade.Result) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(filepath.Join(dir, "result.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A kind run with sub-steps and an older process run without: per path,
// per step and per sub-step figures; a folder set aside by a later run is
// not read.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	restart := func(exit, start, serve float64) []upgrade.Substep {
		return []upgrade.Substep{{Name: "etcd image and manifest ready", At: 0, Seconds: 0.4},
			{Name: "etcd static pod: old etcd exits", At: 0.4, Seconds: exit},
			{Name: "etcd static pod: new etcd container starts", At: 0.4 + exit, Seconds: start},
			{Name: "etcd static pod: member serves", At: 0.4 + exit + start, Seconds: serve}}
	}
	create := []upgrade.Substep{{Name: "kind create: Preparing nodes", At: 0.1, Seconds: 9.8}, {Name: "kind create: Starting control-plane", At: 11.2, Seconds: 24.9},
		{Name: "kind create: Joining more control-plane nodes", At: 36.3, Seconds: 21.7}, {Name: "first member serves", At: 61.0, Seconds: 1.6}}
	writeResult(t, filepath.Join(dir, "kind", "3.5.21-to-3.6.5-in-place"), upgrade.Result{Verdict: upgrade.Consistent, Seconds: 126.4, Steps: []upgrade.Step{
		{Name: "init the first control-plane member at etcd 3.5.21", Seconds: 62.7, Substeps: create},
		{Name: "join control-plane member 2 at etcd 3.5.21 (learner, then promote)", Seconds: 0.3},
		{Name: "join control-plane member 3 at etcd 3.5.21 (learner, then promote)", Seconds: 0.2},
		{Name: "write 6000 keys so every member snapshots and the leader compacts its log", Seconds: 9.1},
		{Name: "check before upgrade", Seconds: 0.8},
		{Name: "audit before upgrade", Seconds: 4.1},
		{Name: "hop 1 (3.5.21 → 3.6.5, in-place): upgrade etcdup-3521-365-in-place-ab12-control-plane in place 3.5.21 → 3.6.5", Seconds: 14.2, Substeps: restart(2.1, 1.3, 10.4)},
		{Name: "hop 1 (3.5.21 → 3.6.5, in-place): upgrade etcdup-3521-365-in-place-ab12-control-plane2 in place 3.5.21 → 3.6.5", Seconds: 12.9, Substeps: restart(1.9, 1.2, 9.4)},
		{Name: "hop 1 (3.5.21 → 3.6.5, in-place): upgrade etcdup-3521-365-in-place-ab12-control-plane3 in place 3.5.21 → 3.6.5", Seconds: 16.0, Substeps: restart(2.4, 1.1, 12.1)},
		{Name: "check after hop 1 (3.5.21 → 3.6.5, in-place)", Seconds: 0.7},
		{Name: "audit after hop 1 (3.5.21 → 3.6.5, in-place)", Seconds: 4.3},
	}})
	join := []upgrade.Substep{{Name: "node container running", Seconds: 3.2}, {Name: "certificates, etcd image and join config in place", At: 3.2, Seconds: 1.1},
		{Name: "kubeadm join [preflight]", At: 4.3, Seconds: 1.5}, {Name: "kubeadm join [etcd]", At: 9.0, Seconds: 13.6}, {Name: "member serves", At: 24.1, Seconds: 0.6}}
	writeResult(t, filepath.Join(dir, "kind", "3.5.21-to-3.6.5-replace"), upgrade.Result{Verdict: upgrade.Consistent, Seconds: 170.4, Steps: []upgrade.Step{
		{Name: "init the first control-plane member at etcd 3.5.21", Seconds: 66.0, Substeps: create},
		{Name: "hop 1 (3.5.21 → 3.6.5, replace): make etcdup-x-control-plane3 (etcd 3.5.21) the leader", Seconds: 0.4},
		{Name: "hop 1 (3.5.21 → 3.6.5, replace): join a new member at etcd 3.6.5 (learner, then promote; snapshot from leader etcdup-x-control-plane3)", Seconds: 24.7, Substeps: join},
		{Name: "hop 1 (3.5.21 → 3.6.5, replace): remove old member etcdup-x-control-plane (1 of 3)", Seconds: 5.2},
		{Name: "hop 1 (3.5.21 → 3.6.5, replace): join a new member at etcd 3.6.5 (learner, then promote; snapshot from leader etcdup-x-control-plane3)", Seconds: 31.0, Substeps: join, Error: "join failed"},
	}})
	writeResult(t, filepath.Join(dir, "process", "3.5.17-to-3.6.5-replace"), upgrade.Result{Verdict: upgrade.UpgradeFailed, Seconds: 21.5, Steps: []upgrade.Step{
		{Name: "init the first control-plane member at etcd 3.5.17", Seconds: 0.9},
		{Name: "hop 1 (3.5.17 → 3.6.5, replace): join a new member at etcd 3.6.5 (learner, then promote; snapshot from leader 3517-cp3)", Seconds: 3.3},
	}})
	writeResult(t, filepath.Join(dir, "kind", "3.5.17-to-3.6.5-in-place.earlier-20261130-010000"), upgrade.Result{Verdict: upgrade.HarnessError, Seconds: 1})

	paths, err := readDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || paths[0].Name != "3.5.21-to-3.6.5-in-place" || paths[0].Provider != "kind" || paths[2].Provider != "process" {
		t.Fatalf("paths %+v", paths)
	}
	var b strings.Builder
	render(&b, paths, true)
	t.Log("\n" + b.String())
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"Per path (seconds; 3 paths;",
		"PROVIDER PATH VERDICT TOTAL create init-join catch-up in-place leader join remove check audit untimed",
		// the in-place path: three restarts, 43.1 s in all, 1.1 s between steps
		"kind 3.5.21-to-3.6.5-in-place consistent 126.4 62.7 0.5 9.1 43.1 0.0 0.0 0.0 1.5 8.4 1.1",
		"in-place upgrade of a member  3      43.1   12.9/14.2/16.0",
		"replacement join              3      59.0   3.3/24.7/31.0",
		"create cluster                3      129.6  0.9/62.7/66.0",
		"in-place upgrade of a member  etcd static pod: member serves                        3      31.9   9.4/10.4/12.1",
		"replacement join              kubeadm join [etcd]                                   2      27.2   13.6/13.6/13.6",
		"create cluster                kind create: Starting control-plane                   2      49.8   24.9/24.9/24.9",
		"     31.0  hop 1 (3.5.21 → 3.6.5, replace): join a new member at etcd 3.6.5",
		"FAILED",
		"      13.6  kubeadm join [etcd] (at 9.0)",
	} {
		if want = strings.Join(strings.Fields(want), " "); !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "harness-error") {
		t.Error("read a folder set aside by a later run")
	}
}

// A failed path records the check after the failure once its seconds are
// taken (3.5.17-to-3.6.5-replace of 2026-11-30: 61.0 s, a 40.1 s check
// after it, which made untimed -39.3): the total counts it, and untimed,
// the rest, is never negative, also when rounded steps pass the total.
func TestWallTime(t *testing.T) {
	steps := func(secs ...float64) []upgrade.Step {
		var out []upgrade.Step
		for i, s := range secs {
			out = append(out, upgrade.Step{Name: fmt.Sprintf("step %d", i), Seconds: s})
		}
		return out
	}
	failed := pathResult{Seconds: 61.0, Steps: append(steps(1.9, 1.3, 4.9, 6.1, 0.3, 1.2, 0.4, 1.2, 1.5, 10.0, 1.0, 30.5),
		upgrade.Step{Name: "check after failure", Seconds: 40.1})}
	for _, tc := range []struct {
		name           string
		p              pathResult
		total, untimed float64
	}{
		{"failed, check after it", failed, 101.1, 0.7},
		{"consistent", pathResult{Seconds: 20.0, Steps: steps(5.0, 14.5)}, 20.0, 0.5},
		{"rounded steps pass the total", pathResult{Seconds: 12.5, Steps: append(steps(6.3, 6.25), upgrade.Step{Name: "check after failure", Seconds: 0.058})}, 12.558, 0},
	} {
		total, untimed := wallTime(tc.p)
		if math.Abs(total-tc.total) > 1e-9 || math.Abs(untimed-tc.untimed) > 1e-9 || untimed < 0 {
			t.Errorf("%s: total %.3f, untimed %.3f; want %.3f, %.3f", tc.name, total, untimed, tc.total, tc.untimed)
		}
	}
	var b strings.Builder
	failed.Provider, failed.Name, failed.Verdict = "process", "3.5.17-to-3.6.5-replace", "upgrade-failed"
	render(&b, []pathResult{failed}, false)
	if out := strings.Join(strings.Fields(b.String()), " "); !strings.Contains(out, "process 3.5.17-to-3.6.5-replace upgrade-failed 101.1 40.1 60.3 0.7 ") || strings.Contains(out, " -") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestKindOf(t *testing.T) {
	for step, want := range map[string]string{
		"bootstrap 3 members at etcd 3.5.17 from a static initial cluster (no learners)":                              "create cluster",
		"hop 2 (3.5.21 → 3.6.5, kubeadm-upgrade): kubeadm upgrade etcdup-x-control-plane to Kubernetes v1.34.2, etcd": "kubeadm upgrade of a node",
		"hop 1 (3.5.21 → 3.6.5, replace): remove old member etcdup-x-control-plane2 (2 of 3)":                         "removal",
		"something new": otherKind,
	} {
		if got := kindOf(step); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", step, got, want)
		}
	}
}
