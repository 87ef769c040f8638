package main

import (
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
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
