// Package upgrade runs an upgrade path on any cluster provider and judges it:
// it builds the control plane the way kubeadm does, moves it through each hop
// with that hop's strategy, checks membership and data before, between and
// after the hops, and returns a verdict with the evidence behind it.
package upgrade

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// Downgrade moves the cluster back one minor the way etcd 3.6 supports
	// it: `etcdctl downgrade validate` and `enable` of the target minor, a
	// wait until every member reports the downgrade (enabled, storage
	// version at the target), then each member restarted on the older
	// binary on its own data dir (on kind, the etcd static pod manifest
	// rewritten back, as an operator would: kubeadm offers no etcd
	// downgrade). A path writes it as a version lower than the one before
	// it; etcd, not the harness, refuses a downgrade it does not support.
	Downgrade Strategy = "downgrade"
)

// Strategies lists the strategies -strategy accepts: how a path's upgrade
// hops move. A downgrade hop is written in the path itself.
var Strategies = []Strategy{InPlace, Replace, KubeadmUpgrade}

// RestartsInPlace says whether the strategy restarts the existing members
// on their own data dirs (rather than replacing them).
func (s Strategy) RestartsInPlace() bool {
	return s == InPlace || s == KubeadmUpgrade || s == Downgrade
}

// ParseStrategy accepts "in-place", "replace" or "kubeadm-upgrade", the
// strategies of upgrade hops; "downgrade" is refused with how to write one.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies {
		if string(st) == s {
			return st, nil
		}
	}
	if s == string(Downgrade) {
		return "", fmt.Errorf("strategy %q is not chosen with -strategy: write the downgrade as a lower version in the path (e.g. 3.5.21,3.6.5,3.5.21); -strategy says how its upgrade hops move (%s)", s, joinStrategies())
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

// valid says whether s is a strategy a hop may have.
func (s Strategy) valid() bool { return s == Downgrade || slices.Contains(Strategies, s) }

// Bootstrap is how the starting cluster is built.
type Bootstrap string

const (
	// LearnerJoins builds the cluster as kubeadm 1.29+ does: init one member,
	// then each control-plane join adds a learner and promotes it.
	LearnerJoins Bootstrap = "learner-joins"
	// Static starts every member at once from a static initial cluster: no
	// member was ever a learner (the control case).
	Static Bootstrap = "static"
	// LearnerJoinsMemberUpdate is LearnerJoins with a MemberUpdate in each
	// join: once the learner has started and before it is promoted, its own
	// peer URLs are sent back to etcd unchanged, as an operator fixing a
	// peer URL mid-join would. etcd before 3.5.31 and 3.6.12 rewrites the
	// record without its learner flag while raft keeps the member a learner
	// (etcd issue 21694). Written VERSION+member-update as a path's start.
	LearnerJoinsMemberUpdate Bootstrap = "learner-joins-member-update"
)

// memberUpdateMark marks a path's starting version built with
// LearnerJoinsMemberUpdate (3.5.24+member-update).
const memberUpdateMark = "+member-update"

// Hop moves the cluster to one version.
type Hop struct {
	To       etcdbin.Version
	Strategy Strategy
	// Members, when set, halts the hop after that many members have moved
	// (upgraded in place, or joined with an old member removed): a rollout
	// stopped midway, as an operator leaves one whose upgrade failed. 0
	// moves every member. Written VERSION/N in a path (3.6.5/1).
	Members int
}

// Notation is the hop's target as a path writes it: 3.6.5, or 3.6.5/1 for
// a hop halted after one member.
func (h Hop) Notation() string {
	if h.Members > 0 {
		return fmt.Sprintf("%s/%d", h.To, h.Members)
	}
	return h.To.String()
}

// Path is one upgrade journey: a starting cluster and its hops.
type Path struct {
	From      etcdbin.Version
	Hops      []Hop
	Size      int
	Bootstrap Bootstrap
}

// Versions lists the etcd versions of the path, starting version first.
func (p Path) Versions() []string {
	out := []string{p.From.String()}
	for _, h := range p.Hops {
		out = append(out, h.To.String())
	}
	return out
}

// Notation lists the path as -path writes it, starting version first: the
// versions, with /N on a hop halted after N members and +member-update on
// a start built with LearnerJoinsMemberUpdate.
func (p Path) Notation() []string {
	out := []string{p.From.String()}
	if p.Bootstrap == LearnerJoinsMemberUpdate {
		out[0] += memberUpdateMark
	}
	for _, h := range p.Hops {
		out = append(out, h.Notation())
	}
	return out
}

// UpgradeStrategy is the strategy -strategy gives the path's upgrade hops
// (every hop but the downgrades), "" when they differ or there are none.
func (p Path) UpgradeStrategy() Strategy {
	var st Strategy
	for _, h := range p.Hops {
		switch {
		case h.Strategy == Downgrade:
		case st == "":
			st = h.Strategy
		case st != h.Strategy:
			return ""
		}
	}
	return st
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
		if !h.Strategy.valid() {
			errs = append(errs, fmt.Errorf("hop %d: unknown strategy %q: want one of %s or %s", i+1, h.Strategy, joinStrategies(), Downgrade))
		}
		switch c := h.To.Compare(prev); {
		case c == 0:
			errs = append(errs, fmt.Errorf("hop %d goes from %s to the same version", i+1, prev))
		case c < 0 && h.Strategy != Downgrade:
			errs = append(errs, fmt.Errorf("hop %d is a downgrade (%s → %s) with strategy %s: a downgrade hop has strategy %s", i+1, prev, h.To, h.Strategy, Downgrade))
		case c > 0 && h.Strategy == Downgrade:
			errs = append(errs, fmt.Errorf("hop %d has strategy %s but goes up (%s → %s)", i+1, Downgrade, prev, h.To))
		}
		// A downgrade of more than one minor is etcd's to refuse, with its
		// own message: the harness asks, and the refusal is the measurement.
		if h.To.Minor > prev.Minor+1 {
			errs = append(errs, fmt.Errorf("hop %d skips a minor version (%s → %s), which etcd does not support", i+1, prev, h.To))
		}
		switch {
		case h.Members < 0:
			errs = append(errs, fmt.Errorf("hop %d: %d members: a hop halted midway moves at least one", i+1, h.Members))
		case h.Members > 0 && h.Strategy != InPlace && h.Strategy != Replace:
			errs = append(errs, fmt.Errorf("hop %d (%s) is halted after %d members: only %s and %s hops can be halted midway", i+1, h.Strategy, h.Members, InPlace, Replace))
		case h.Members > 0 && h.Members >= p.Size:
			errs = append(errs, fmt.Errorf("hop %d is halted after %d of %d members: that is the whole hop, write %s", i+1, h.Members, p.Size, h.To))
		}
		prev = h.To
	}
	switch p.Bootstrap {
	case LearnerJoins, LearnerJoinsMemberUpdate, Static:
	default:
		errs = append(errs, fmt.Errorf("unknown bootstrap %q: want %s, %s or %s", p.Bootstrap, LearnerJoins, LearnerJoinsMemberUpdate, Static))
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
// with one strategy for every upgrade hop. A version lower than the one
// before it is a downgrade hop ("3.5.21,3.6.5,3.5.21": up to 3.6.5 with the
// strategy, then back with etcd's downgrade). VERSION/N halts that hop
// after N members ("3.5.21,3.6.5/1,3.5.21": one member upgraded, then the
// rollback). VERSION+member-update as the start builds the cluster with
// LearnerJoinsMemberUpdate ("3.5.24+member-update,3.6.5").
func ParsePath(versions string, strategy string, size int) (Path, error) {
	st, err := ParseStrategy(strategy)
	if err != nil {
		return Path{}, err
	}
	type step struct {
		v etcdbin.Version
		n int
	}
	var steps []step
	bootstrap := LearnerJoins
	for _, f := range strings.Split(versions, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if vs, ok := strings.CutSuffix(f, memberUpdateMark); ok {
			if len(steps) > 0 {
				return Path{}, fmt.Errorf("malformed hop %q: %s says how the starting cluster's members join, so it belongs to the first version", f, memberUpdateMark)
			}
			f, bootstrap = vs, LearnerJoinsMemberUpdate
		}
		vs, ns, halted := strings.Cut(f, "/")
		v, err := etcdbin.ParseVersion(vs)
		if err != nil {
			return Path{}, err
		}
		s := step{v: v}
		if halted {
			n, err := strconv.Atoi(ns)
			if err != nil || n < 1 {
				return Path{}, fmt.Errorf("malformed hop %q: VERSION/N halts the hop after N members, N a positive number (e.g. 3.6.5/1)", f)
			}
			if len(steps) == 0 {
				return Path{}, fmt.Errorf("malformed path: %q is the starting cluster, built whole; /N belongs to a hop", f)
			}
			s.n = n
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return Path{}, errors.New("empty path: give versions such as 3.5.19,3.5.21,3.6.4")
	}
	p := Path{From: steps[0].v, Size: size, Bootstrap: bootstrap}
	prev := p.From
	for _, s := range steps[1:] {
		hs := st
		if s.v.Less(prev) {
			hs = Downgrade
		}
		p.Hops = append(p.Hops, Hop{To: s.v, Strategy: hs, Members: s.n})
		prev = s.v
	}
	return p, p.Validate()
}
