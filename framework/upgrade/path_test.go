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
		{"3.6.5,3.5.21", "in-place", 1, "strategy downgrade needs at least 3 members"},
		{"3.5.17,banana", "in-place", 3, `malformed etcd version "banana"`},
		{"3.5.17,3.7.0", "in-place", 3, "skips a minor version"},
		{"3.5.17,3.8.0", "in-place", 3, "not supported"},
		{"3.5.21,3.6.5", "downgrade", 3, "write the downgrade as a lower version in the path"},
		{"3.5.21/1,3.6.5", "in-place", 3, "/N belongs to a hop"},
		{"3.5.21,3.6.5+member-update", "in-place", 3, "belongs to the first version"},
		{"3.5.21/1+member-update,3.6.5", "in-place", 3, "/N belongs to a hop"},
		{"3.5.21,3.6.5/x", "in-place", 3, "malformed hop \"3.6.5/x\""},
		{"3.5.21,3.6.5/0", "in-place", 3, "N a positive number"},
		{"3.5.21,3.6.5/3", "in-place", 3, "that is the whole hop, write 3.6.5"},
		{"3.5.21,3.6.5/1", "kubeadm-upgrade", 3, "only in-place and replace hops can be halted"},
		{"3.5.21,3.6.5,3.5.21/1", "in-place", 3, "only in-place and replace hops can be halted"},
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

// A lower version in a path is a downgrade hop; -strategy moves the
// upgrade hops; VERSION/N halts a hop midway.
func TestParsePathDowngradeAndHalt(t *testing.T) {
	for _, tc := range []struct {
		versions, strategy string
		hops               []Hop
		notation, label    string
	}{
		{"3.5.17,3.6.5,3.5.21", "replace", []Hop{{Strategy: Replace}, {Strategy: Downgrade}}, "3.5.17,3.6.5,3.5.21", "replace+downgrade"},
		{"3.5.21,3.6.5/1,3.5.21", "in-place", []Hop{{Strategy: InPlace, Members: 1}, {Strategy: Downgrade}}, "3.5.21,3.6.5/1,3.5.21", "in-place+downgrade"},
		{"3.6.16,3.5.21", "in-place", []Hop{{Strategy: Downgrade}}, "3.6.16,3.5.21", "downgrade"},
		// More than one minor down: etcd refuses it, with its own message.
		{"3.7.3,3.5.21", "in-place", []Hop{{Strategy: Downgrade}}, "3.7.3,3.5.21", "downgrade"},
		{"3.5.21,3.6.16,3.7.3", "replace", []Hop{{Strategy: Replace}, {Strategy: Replace}}, "3.5.21,3.6.16,3.7.3", "replace"},
	} {
		p, err := ParsePath(tc.versions, tc.strategy, 3)
		if err != nil {
			t.Errorf("ParsePath(%q, %q): %v", tc.versions, tc.strategy, err)
			continue
		}
		if len(p.Hops) != len(tc.hops) {
			t.Errorf("%s: %d hops, want %d", tc.versions, len(p.Hops), len(tc.hops))
			continue
		}
		for i, h := range p.Hops {
			if h.Strategy != tc.hops[i].Strategy || h.Members != tc.hops[i].Members {
				t.Errorf("%s: hop %d is %s/%d, want %s/%d", tc.versions, i+1, h.Strategy, h.Members, tc.hops[i].Strategy, tc.hops[i].Members)
			}
		}
		if got := strings.Join(p.Notation(), ","); got != tc.notation {
			t.Errorf("%s: notation %s", tc.versions, got)
		}
		if got := p.StrategyLabel(); got != tc.label {
			t.Errorf("%s: strategy label %s, want %s", tc.versions, got, tc.label)
		}
		if tc.strategy != "" && p.UpgradeStrategy() != "" && string(p.UpgradeStrategy()) != tc.strategy {
			t.Errorf("%s: upgrade strategy %s, want %s", tc.versions, p.UpgradeStrategy(), tc.strategy)
		}
	}
}

func TestDowngradeHopsValidate(t *testing.T) {
	p, err := ParsePath("3.5.21,3.6.5", "in-place", 3)
	if err != nil {
		t.Fatal(err)
	}
	back := p
	back.Hops = append([]Hop(nil), p.Hops...)
	back.Hops = append(back.Hops, Hop{To: p.From, Strategy: InPlace})
	if err := back.Validate(); err == nil || !strings.Contains(err.Error(), "a downgrade hop has strategy downgrade") {
		t.Errorf("a lower version with strategy in-place: %v", err)
	}
	back.Hops[1].Strategy = Downgrade
	if err := back.Validate(); err != nil {
		t.Errorf("a downgrade hop refused: %v", err)
	}
	up := p
	up.Hops = []Hop{{To: p.Hops[0].To, Strategy: Downgrade}}
	if err := up.Validate(); err == nil || !strings.Contains(err.Error(), "goes up") {
		t.Errorf("a downgrade hop to a newer version: %v", err)
	}
}

// VERSION+member-update on the start builds the cluster with a member
// update inside each join, and the notation says so: a reproduce command
// or a scenario name never drops it.
func TestParsePathMemberUpdate(t *testing.T) {
	p, err := ParsePath("3.5.24+member-update,3.6.5", "in-place", 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bootstrap != LearnerJoinsMemberUpdate || p.From.String() != "3.5.24" || len(p.Hops) != 1 {
		t.Fatalf("unexpected path %+v", p)
	}
	if got := strings.Join(p.Notation(), ","); got != "3.5.24+member-update,3.6.5" {
		t.Errorf("notation %s", got)
	}
	if got := strings.Join(p.Versions(), ","); got != "3.5.24,3.6.5" {
		t.Errorf("versions %s", got)
	}
	plain, err := ParsePath("3.5.24,3.6.5", "in-place", 3)
	if err != nil || plain.Bootstrap != LearnerJoins {
		t.Errorf("a plain path: bootstrap %s, %v", plain.Bootstrap, err)
	}
}
