package upgrade

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	p, err := ParsePath("3.5.19, v3.5.21,3.6.4", "replace", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Versions(), ","); got != "3.5.19,3.5.21,3.6.4" {
		t.Fatalf("versions %s", got)
	}
	if p.StrategyLabel() != "replace" || len(p.Hops) != 2 || p.Hops[1].Strategy != Replace {
		t.Fatalf("unexpected path %+v", p)
	}
}

func TestParsePathRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		versions, strategy string
		size               int
		want               string
	}{
		{"3.5.17", "in-place", 3, "one version: an upgrade needs at least one hop"},
		{"3.6.5,3.5.21", "in-place", 3, "is a downgrade (3.6.5 → 3.5.21)"},
		{"3.5.17,banana", "in-place", 3, `malformed etcd version "banana"`},
		{"3.5.17,3.7.0", "in-place", 3, "skips a minor version"},
		{"3.5.17,3.8.0", "in-place", 3, "not supported"},
		{"3.5.17,3.6.5", "rolling", 3, `unknown strategy "rolling"`},
		{"3.5.17,3.5.17", "replace", 3, "to the same version"},
		{"3.5.17,3.6.5", "in-place", 1, "needs at least 3 members"},
		{"3.5.17,3.6.5", "kubeadm-upgrade", 2, "strategy kubeadm-upgrade needs at least 3 members"},
		{"3.5.17,3.6.4,3.6.5", "kubeadm-upgrade", 3, "upgrades Kubernetes with kubeadm at most once"},
		{"", "replace", 3, "empty path"},
	} {
		_, err := ParsePath(tc.versions, tc.strategy, tc.size)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePath(%q, %q, %d) error = %v, want it to say %q", tc.versions, tc.strategy, tc.size, err, tc.want)
		}
	}
}

func TestDowngradeAllowedExplicitly(t *testing.T) {
	p, err := ParsePath("3.5.21,3.6.5", "in-place", 3)
	if err != nil {
		t.Fatal(err)
	}
	p.Hops = append(p.Hops, Hop{To: p.From, Strategy: InPlace})
	if err := p.Validate(); err == nil {
		t.Fatal("downgrade accepted without permission")
	}
	p.AllowDowngrade = true
	if err := p.Validate(); err != nil {
		t.Fatalf("explicit downgrade refused: %v", err)
	}
}
