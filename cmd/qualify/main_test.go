package main

import (
	"bytes"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
	"etcd-upgrade-e2e/framework/qualify"
	"etcd-upgrade-e2e/framework/upgrade"
)

func TestResolveTargets(t *testing.T) {
	pins := []kubeadmpins.Pin{{Kubernetes: "v1.33.13", Etcd: "3.5.24"}, {Kubernetes: "v1.34.0", Etcd: "3.6.4"}, {Kubernetes: "v1.34.2", Etcd: "3.6.5"}, {Kubernetes: "v1.34.3", Etcd: "3.6.5"}}
	served := []etcdbin.Version{etcdbin.MustParseVersion("3.6.15"), etcdbin.MustParseVersion("3.6.16")}
	got, err := resolveTargets("kubeadm,newest,3.6.5", pins, served)
	var s []string
	for _, v := range got {
		s = append(s, v.String())
	}
	if err != nil || strings.Join(s, ",") != "3.6.4,3.6.5,3.6.16" {
		t.Errorf("targets = %v, %v", s, err)
	}
	for _, bad := range []string{"3.5.24", "banana", ""} {
		if _, err := resolveTargets(bad, pins, served); err == nil {
			t.Errorf("-targets %q accepted", bad)
		}
	}
}

func TestSelectRisks(t *testing.T) {
	rs, err := selectRisks("20793, etcd-19557")
	if err != nil || len(rs) != 2 || rs[0].Issue != 20793 || rs[1].Issue != 19557 {
		t.Errorf("selectRisks = %v, %v", rs, err)
	}
	if _, err := selectRisks("12345"); err == nil {
		t.Error("an issue outside the registry accepted")
	}
}

// The printed verdict names the runs it rests on; upstream's word on risks
// not measured comes after, under its own heading.
func TestPrintCandidateKeepsUpstreamApart(t *testing.T) {
	v := etcdbin.MustParseVersion("3.5.24")
	c := &qualify.CandidateReport{
		Version: "3.5.24", Verdict: qualify.VerdictGo, Why: "all 1 runs measured and consistent", Go: true,
		Runs:            []qualify.CandidateResult{{Issue: 20793, Role: "hop", Strategy: upgrade.Replace, Target: "3.6.5", Probe: qualify.Probe{Version: v, Outcome: qualify.Good}, Go: true}},
		UpstreamCaveats: []qualify.UpstreamCaveat{{Issue: 20967, Title: "zombies", FixedIn: "3.5.26", Measured: "not measured"}},
		Skipped:         []string{"etcd 20967: not reproduced, no path: not expressible"},
	}
	var b bytes.Buffer
	printCandidate(&b, c)
	t.Log("\n" + b.String())
	want := "candidate 3.5.24: GO (all 1 runs measured and consistent)\n" +
		"  etcd 20793 (hop, replace, target 3.6.5): good\n" +
		"  not run: etcd 20967: not reproduced, no path: not expressible\n" +
		"upstream only, not measured here (not part of the verdict):\n" +
		"  etcd 20967 (zombies): not measured: upstream says fixed in 3.5.26, later than the candidate\n"
	if b.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", b.String(), want)
	}
}

// The printed Kubernetes table is a line per group of patch ranges, and
// names the releases in no range.
func TestPrintKubernetesGroups(t *testing.T) {
	var rows []qualify.K8sRow
	for _, from := range []string{"v1.33.6", "v1.33.7", "v1.33.9"} {
		for _, to := range []string{"v1.34.2", "v1.34.3"} {
			rows = append(rows, qualify.K8sRow{From: from, To: to, EtcdFrom: "3.5.24", EtcdTo: "3.6.5", Strategy: "kubeadm in place", Safety: qualify.Safe, Rollback: qualify.NotMeasured, OnTo37: qualify.NotMeasured})
		}
	}
	var b bytes.Buffer
	printKubernetes(&b, rows, []qualify.K8sNotServed{{Kubernetes: "v1.33.8"}})
	t.Log("\n" + b.String())
	want := "kubernetes 1.33.6–1.33.9 (etcd 3.5.24) except 1.33.8 (not served) → 1.34.2–1.34.3 (etcd 3.6.5), kubeadm in place: safe\n" +
		"  rolled back: not measured; then etcd 3.7.3: not measured\n" +
		// The rows start at 1.33.6 and 1.34.2: what comes before has no pin.
		"kubernetes releases in no range, their etcd pin unknown: 1.33.0, 1.33.1, 1.33.2, 1.33.3, 1.33.4, 1.33.5, 1.34.0, 1.34.1 (no pin read)\n"
	if b.String() != want {
		t.Errorf("printed:\n%s", b.String())
	}
}
