package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/audit/audittest"
)

var (
	m1 = audittest.Member{ID: 0x1111, Name: "m1", PeerURLs: []string{"http://127.0.0.1:2380"}}
	m2 = audittest.Member{ID: 0x2222, Name: "m2", PeerURLs: []string{"http://127.0.0.2:2380"}}
)

func dataDir(t *testing.T, local uint64, v3 ...audittest.Member) string {
	t.Helper()
	dir := t.TempDir()
	err := audittest.Write(dir, audittest.Spec{
		LocalID: local, ClusterID: 0xc1,
		V3Members: v3, V3ClusterVersion: "3.5.0",
		Snapshot: true, SnapIndex: 8, SnapMembers: []audittest.Member{m1, m2}, SnapClusterVersion: "3.5.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRun(t *testing.T) {
	l2 := m2
	l2.IsLearner = true
	good1, good2 := dataDir(t, m1.ID, m1, m2), dataDir(t, m2.ID, m1, m2)
	risky := dataDir(t, m2.ID, m1, l2)
	missing := filepath.Join(t.TempDir(), "missing")

	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"usage", nil, exitError, nil},
		{"bad format", []string{"-o", "yaml", good1}, exitError, nil},
		{"consistent", []string{good1, good2}, exitConsistent, []string{"read-only audit", "verdict:   consistent", "v3store agrees: yes"}},
		{"at risk", []string{good1, risky}, exitRisk, []string{"verdict:   at-risk", "etcd issue 19557", "v3store agrees: NO", "3.5.24"}},
		{"read error wins", []string{risky, missing}, exitError, []string{"not an etcd data dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.contains {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, &stdout)
				}
			}
		})
	}
}

func TestRunJSON(t *testing.T) {
	l2 := m2
	l2.IsLearner = true
	var stdout, stderr bytes.Buffer
	code := run([]string{"-o", "json", dataDir(t, m1.ID, m1, l2), dataDir(t, m2.ID, m1, m2)}, &stdout, &stderr)
	if code != exitRisk {
		t.Fatalf("exit %d, stderr %s", code, &stderr)
	}
	var out output
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, &stdout)
	}
	if !out.ReadOnly || out.ExitCode != exitRisk || len(out.Audits) != 2 || out.Cross == nil || out.Cross.V3Agree {
		t.Errorf("unexpected output %+v", out)
	}
	if r := out.Audits[0].Report; r == nil || r.Verdict != audit.VerdictAtRisk || r.Diffs[0].MemberID != audit.ID(m2.ID) {
		t.Errorf("first report %+v", r)
	}
}
