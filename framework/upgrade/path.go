// Package upgrade runs an upgrade path on any cluster provider and judges it:
// it builds the control plane the way kubeadm does, moves it through each hop
// with that hop's strategy, checks membership and data before, between and
// after the hops, and returns a verdict with the evidence behind it.
package upgrade

import (
	"errors"
	"fmt"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// Strategy is how one hop moves every member to the next version.
type Strategy string

const (
	// InPlace stops each member, swaps its binary and restarts it on the
	// same data dir: what `kubeadm upgrade apply/node` does to the etcd
	// static pod.
	InPlace Strategy = "in-place"
	// Replace adds a new member at the target version (learner, then
	// promoted) and removes an old one, until no old member is left: what
	// Cluster API's KubeadmControlPlane does.
	Replace Strategy = "replace"
	// KubeadmUpgrade is a real Kubernetes minor upgrade: `kubeadm upgrade
	// apply` of the next release on the first control plane, `kubeadm
	// upgrade node` on the others, then the node's kubelet. etcd moves in
	// place with the rest of the control plane. Only providers that run
	// Kubernetes (cluster.KubeadmUpgrader) offer it.
	KubeadmUpgrade Strategy = "kubeadm-upgrade"
)

// Strategies lists the known strategies.
var Strategies = []Strategy{InPlace, Replace, KubeadmUpgrade}

// RestartsInPlace says whether the strategy restarts the existing members
// on their own data dirs (rather than replacing them).
func (s Strategy) RestartsInPlace() bool { return s == InPlace || s == KubeadmUpgrade }

// ParseStrategy accepts "in-place" or "replace".
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown strategy %q: want one of %s", s, joinStrategies())
}

func joinStrategies() string {
	var s []string
	for _, st := range Strategies {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// Bootstrap is how the starting cluster is built.
type Bootstrap string

const (
	// LearnerJoins builds the cluster as kubeadm 1.29+ does: init one member,
	// then each control-plane join adds a learner and promotes it.
	LearnerJoins Bootstrap = "learner-joins"
	// Static starts every member at once from a static initial cluster: no
	// member was ever a learner (the control case).
	Static Bootstrap = "static"
)

// Hop moves the cluster to one version.
type Hop struct {
	To       etcdbin.Version
	Strategy Strategy
}

// Path is one upgrade journey: a starting cluster and its hops.
type Path struct {
	From      etcdbin.Version
	Hops      []Hop
	Size      int
	Bootstrap Bootstrap
	// AllowDowngrade permits a hop to an older version.
	AllowDowngrade bool
}

// Versions lists the etcd versions of the path, starting version first.
func (p Path) Versions() []string {
	out := []string{p.From.String()}
	for _, h := range p.Hops {
		out = append(out, h.To.String())
	}
	return out
}

// StrategyLabel is the hop strategies joined with "+" ("replace+in-place"),
// or the single strategy when every hop uses it.
func (p Path) StrategyLabel() string {
	seen := map[Strategy]bool{}
	var s []string
	for _, h := range p.Hops {
		s = append(s, string(h.Strategy))
		seen[h.Strategy] = true
	}
	if len(seen) == 1 {
		return s[0]
	}
	return strings.Join(s, "+")
}

// Validate rejects paths that cannot run, before anything starts.
func (p Path) Validate() error {
	var errs []error
	if p.From.IsZero() {
		errs = append(errs, errors.New("path has no starting version"))
	}
	if len(p.Hops) == 0 {
		errs = append(errs, fmt.Errorf("path %s has one version: an upgrade needs at least one hop", strings.Join(p.Versions(), " → ")))
	}
	prev := p.From
	for i, h := range p.Hops {
		if h.To.IsZero() {
			errs = append(errs, fmt.Errorf("hop %d has no target version", i+1))
			continue
		}
		if _, err := ParseStrategy(string(h.Strategy)); err != nil {
			errs = append(errs, fmt.Errorf("hop %d: %w", i+1, err))
		}
		switch c := h.To.Compare(prev); {
		case c == 0:
			errs = append(errs, fmt.Errorf("hop %d goes from %s to the same version", i+1, prev))
		case c < 0 && !p.AllowDowngrade:
			errs = append(errs, fmt.Errorf("hop %d is a downgrade (%s → %s); allow downgrades explicitly to run it", i+1, prev, h.To))
		}
		if h.To.Minor > prev.Minor+1 {
			errs = append(errs, fmt.Errorf("hop %d skips a minor version (%s → %s), which etcd does not support", i+1, prev, h.To))
		}
		prev = h.To
	}
	switch p.Bootstrap {
	case LearnerJoins, Static:
	default:
		errs = append(errs, fmt.Errorf("unknown bootstrap %q: want %s or %s", p.Bootstrap, LearnerJoins, Static))
	}
	if p.Size < 1 {
		errs = append(errs, fmt.Errorf("cluster size %d: need at least one member", p.Size))
	}
	for _, h := range p.Hops {
		if h.Strategy.RestartsInPlace() && p.Size < 3 {
			// Restarting the only member of a 1-member cluster, or one of
			// two, loses quorum: kubeadm's in-place upgrade assumes HA.
			errs = append(errs, fmt.Errorf("strategy %s needs at least 3 members to keep quorum while a member restarts, got %d", h.Strategy, p.Size))
			break
		}
	}
	kubeadmHops := 0
	for _, h := range p.Hops {
		if h.Strategy == KubeadmUpgrade {
			kubeadmHops++
		}
	}
	if kubeadmHops > 1 {
		// One Kubernetes minor upgrade per path: kubeadm moves the control
		// plane to the next release once.
		errs = append(errs, fmt.Errorf("%d hops use %s: a path upgrades Kubernetes with kubeadm at most once", kubeadmHops, KubeadmUpgrade))
	}
	return errors.Join(errs...)
}

// ParsePath reads a comma-separated version list ("3.5.19,3.5.21,3.6.4")
// with one strategy for every hop.
func ParsePath(versions string, strategy string, size int) (Path, error) {
	st, err := ParseStrategy(strategy)
	if err != nil {
		return Path{}, err
	}
	var vs []etcdbin.Version
	for _, f := range strings.Split(versions, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := etcdbin.ParseVersion(f)
		if err != nil {
			return Path{}, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return Path{}, errors.New("empty path: give versions such as 3.5.19,3.5.21,3.6.4")
	}
	p := Path{From: vs[0], Size: size, Bootstrap: LearnerJoins}
	for _, v := range vs[1:] {
		p.Hops = append(p.Hops, Hop{To: v, Strategy: st})
	}
	return p, p.Validate()
}
