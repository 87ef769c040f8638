package scenarios

import (
	"fmt"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

// The registry of known etcd 3.5 → 3.6 upgrade risks. Each risk is a path
// template with one version left open (the version bisection varies and a
// candidate is put in), the signature that identifies the risk in a run,
// and the upstream facts it stands for. The upstream fix release is what
// etcd says; which release stops the risk here is measured (cmd/qualify),
// never read from this table.

// Role is which version of a risk's path is left open.
type Role string

const (
	// RoleStart: the starting cluster's version (3.5.x).
	RoleStart Role = "start"
	// RoleHop: an intermediate 3.5 hop the cluster is replaced to before 3.6.
	RoleHop Role = "hop"
	// RoleTarget: the 3.6 version the cluster ends on (3.6-side bugs).
	RoleTarget Role = "target"
)

// Status says whether the harness reproduces a risk.
type Status string

const (
	Reproduced    Status = "reproduced"
	NotReproduced Status = "not reproduced"
)

// Risk is one known 3.5 → 3.6 upgrade risk.
type Risk struct {
	// Issue is the etcd issue number.
	Issue int
	Title string
	// UpstreamFix names the releases etcd says fix it, and the PR: for
	// comparison with what bisection measures.
	UpstreamFix string
	// UpstreamFirstGood is the first release upstream says is fixed on the
	// side the bisection varies ("" when upstream has none).
	UpstreamFirstGood string
	// UpstreamAlsoFixed are first good releases upstream names on other
	// minors (21694: 3.6.12 besides 3.5.31).
	UpstreamAlsoFixed []string
	// Role is the version the path leaves open; Range the default
	// bisection range for it (both ends included).
	Role  Role
	Range [2]string
	// Strategies are the strategies the risk is measured for.
	Strategies []upgrade.Strategy
	// Template builds the path for the open version v against the 3.6
	// target t (for RoleTarget, v is the target and t is unused).
	Template func(v, t etcdbin.Version, s upgrade.Strategy) (upgrade.Path, error)
	// Bad is, per strategy, the verdict and signatures that identify the
	// risk in a run: a run reproduces the risk only when it matches.
	Bad map[upgrade.Strategy]upgrade.Expected
	// Mechanism says in words what goes wrong.
	Mechanism string
	// Condition, when set, is what must have happened to a cluster for the
	// risk to bite, beyond its versions ("for a cluster whose ..."): an
	// upgrade between bad versions is then conditional, not unsafe.
	Condition string
	Status    Status
	// Evidence: for a reproduced risk, the measured runs it rests on; for
	// one not reproduced, what was tried and what the harness would need.
	Evidence string
}

// UpstreamFirstGoodIn is the first release of minor 3.minor that upstream
// says is fixed, if it names one.
func (r Risk) UpstreamFirstGoodIn(minor int) (etcdbin.Version, bool) {
	for _, s := range append([]string{r.UpstreamFirstGood}, r.UpstreamAlsoFixed...) {
		if s == "" {
			continue
		}
		if v := etcdbin.MustParseVersion(s); v.Minor == minor {
			return v, true
		}
	}
	return etcdbin.Version{}, false
}

// Name is "etcd-19557".
func (r Risk) Name() string { return fmt.Sprintf("etcd-%d", r.Issue) }

// Path builds the risk's path for v against target t with strategy s, and
// validates it.
func (r Risk) Path(v, t etcdbin.Version, s upgrade.Strategy) (upgrade.Path, error) {
	if r.Template == nil {
		return upgrade.Path{}, fmt.Errorf("%s has no path template: %s", r.Name(), r.Status)
	}
	p, err := r.Template(v, t, s)
	if err != nil {
		return upgrade.Path{}, err
	}
	return p, p.Validate()
}

// Reproduces says whether run res shows the risk for strategy s.
func (r Risk) Reproduces(s upgrade.Strategy, res upgrade.Result) (upgrade.Signature, bool) {
	e, ok := r.Bad[s]
	if !ok {
		return upgrade.Signature{}, false
	}
	return e.Matching(res)
}

// learnerPath is a 3-member, learner-joined path: from, then (strategy,
// version) hops; bad versions are an error, not a panic.
func learnerPath(from etcdbin.Version, hops ...upgrade.Hop) upgrade.Path {
	return upgrade.Path{From: from, Size: 3, Bootstrap: upgrade.LearnerJoins, Hops: hops}
}

func hop(to etcdbin.Version, s upgrade.Strategy) upgrade.Hop { return upgrade.Hop{To: to, Strategy: s} }

// memberUpdatePath is learnerPath with a member update inside each join of
// the starting cluster (etcd issue 21694).
func memberUpdatePath(from etcdbin.Version, hops ...upgrade.Hop) upgrade.Path {
	p := learnerPath(from, hops...)
	p.Bootstrap = upgrade.LearnerJoinsMemberUpdate
	return p
}

// issue20793Start is the etcd issue 20793 report's starting release
// (Kubernetes 1.32's etcd): its leader sends the wrong membership.
var issue20793Start = etcdbin.MustParseVersion("3.5.19")

// issue20340From and issue20340Via build the 3.6 cluster of the etcd issue
// 20340 attempt: learner joins at 3.6.0, every member replaced (joined,
// promoted, old removed) at 3.6.1, then every member restarted in place on
// the release under test, replaying the membership changes in its WAL.
var (
	issue20340From = etcdbin.MustParseVersion("3.6.0")
	issue20340Via  = etcdbin.MustParseVersion("3.6.1")
)

// bisected starts the evidence of the bisection of 2026-11-30.
const bisected = "bisected 2026-11-30 by cmd/qualify (process provider, 2 cores shared with a kind run, 55 runs in 27 min; qualify.md, qualify.json, heatmap.html and the runs under /tmp/i14/qfull on the machine that ran it): "

// Risks is the registry.
func Risks() []Risk {
	return []Risk{
		{
			Issue: 19557, Title: "learner promotion missing from the v3store",
			UpstreamFix:       "3.5.20 (etcd PR 19563: a 3.5.20+ member copies promotions from the v2store to the v3store at start-up); 3.6.0-rc.3 syncs at start-up (PR 19636)",
			UpstreamFirstGood: "3.5.20",
			Role:              RoleStart, Range: [2]string{"3.5.15", "3.5.35"},
			Strategies: []upgrade.Strategy{upgrade.InPlace, upgrade.Replace},
			Template: func(v, t etcdbin.Version, s upgrade.Strategy) (upgrade.Path, error) {
				return learnerPath(v, hop(t, s)), nil
			},
			Bad: map[upgrade.Strategy]upgrade.Expected{
				upgrade.InPlace: {Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{listedShort}},
				upgrade.Replace: {Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{
					anyTargetJoinFails(1, tooManyLearners+"|"+memberUnknown, "the first 3.6 member, sent a snapshot by a ≤3.5.19 leader, refuses the next learner or panics: etcd issue 19557"),
				}},
			},
			Mechanism: "etcd 3.5.1–3.5.19 record a learner's promotion (and a member's published attributes) in the v2store only; 3.6 reads the v3store: " + tooManyLearnersWhy + "; in place: " + attributesLost,
			Status:    Reproduced,
			Evidence: "the matrix: 3.5.17-to-3.6.5-replace and 3.5.17-to-3.6.16-replace (upgrade-failed at hop 1's join), 3.5.17-to-3.6.{5,16}-in-place (inconsistent, a member listed with no client URLs), 3.5.21 paths consistent; " + run +
				"; " + bisected + "last bad 3.5.19, first good 3.5.20, in place and by replacement, against 3.6.4, 3.6.5 and 3.6.16 (3.5.15 and 3.5.19 bad, 3.5.20, 3.5.22, 3.5.24, 3.5.35 good): upstream's fix release",
		},
		{
			Issue: 20793, Title: "a new member gets data with the wrong membership through a replacement chain",
			UpstreamFix:       "3.5.24 (etcd PR 20797: a 3.5.24+ member repairs the membership of a snapshot it is sent)",
			UpstreamFirstGood: "3.5.24",
			Role:              RoleHop, Range: [2]string{"3.5.20", "3.5.35"},
			Strategies: []upgrade.Strategy{upgrade.Replace},
			Template: func(v, t etcdbin.Version, s upgrade.Strategy) (upgrade.Path, error) {
				if !issue20793Start.Less(v) {
					return upgrade.Path{}, fmt.Errorf("etcd issue 20793's hop must come after %s, got %s", issue20793Start, v)
				}
				return learnerPath(issue20793Start, hop(v, s), hop(t, s)), nil
			},
			Bad: map[upgrade.Strategy]upgrade.Expected{
				upgrade.Replace: {Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{
					anyTargetJoinFails(2, memberUnknown+"|"+tooManyLearners+"|unhealthy cluster", "the first 3.6 member joins from membership data a 3.5.19 leader once sent the 3.5.x members: etcd issue 20793"),
				}},
			},
			Mechanism: wrongDataTravels,
			Status:    Reproduced,
			Evidence: "the matrix: 3.5.19-to-3.5.21-to-3.6.{4,5,16}-replace-issue-20793 (upgrade-failed at hop 2's join), 3.5.19-to-3.5.24-to-3.6.{5,16}-replace consistent; " + run +
				"; " + bisected + "last bad 3.5.23, first good 3.5.24 against 3.6.4, 3.6.5 and 3.6.16 (hops 3.5.20 and 3.5.23 bad, 3.5.24, 3.5.27, 3.5.32, 3.5.35 good): upstream's fix release",
		},
		{
			Issue: 20340, Title: "3.6 fails to start after a member is removed, re-added and the members restarted (promotion replayed that the v2store lacks)",
			UpstreamFix:       "3.6.4 (etcd PR 20387: check a replayed promotion against the v2store)",
			UpstreamFirstGood: "3.6.4",
			Role:              RoleTarget, Range: [2]string{"3.6.2", "3.6.16"},
			Strategies: []upgrade.Strategy{upgrade.InPlace},
			Template: func(v, _ etcdbin.Version, s upgrade.Strategy) (upgrade.Path, error) {
				if !issue20340Via.Less(v) {
					return upgrade.Path{}, fmt.Errorf("etcd issue 20340's attempt restarts on a release after %s, got %s", issue20340Via, v)
				}
				return learnerPath(issue20340From, hop(issue20340Via, upgrade.Replace), hop(v, s)), nil
			},
			Bad: map[upgrade.Strategy]upgrade.Expected{
				upgrade.InPlace: {Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{
					Step: `^hop 2 \([0-9.]+ → [0-9.]+, in-place\): upgrade .* in place`,
					Line: `failed to nodeToMember|too many learner members in cluster|member unknown`,
					Note: "a 3.6 member restarting replays a promotion of a member its v2store does not hold, and panics or refuses: etcd issue 20340",
				}}},
			},
			Mechanism: "3.6 before 3.6.4 bootstraps its v2store from the last v2 snapshot and replays the WAL; replaying a promotion of a member that was removed and re-added since wrote the v3store's view into the v2store, and the next start panics on `failed to nodeToMember` or refuses with too many learners (issue 20340: Talos, 3-member cluster recovered from a snapshot, members removed and re-added, all restarted; etcd's own attempt in PR 20387's review did not reproduce it reliably)",
			Status:    NotReproduced,
			Evidence:  "attempted (cmd/qualify runs it at the range start, 3.6.2, every time): this template — learner joins at 3.6.0, every member replaced at 3.6.1 (each new member joined as a learner, promoted, an old one removed), then every member restarted in place on the release under test, 50 writes after each change, snapshot count 100; not reproduced until a run shows the signature. Measured 2026-11-30 (cmd/qualify, process provider): 3.6.0 → 3.6.1 (replace) → 3.6.2 (in place) consistent in 60 s, every member restarted at 3.6.2 and agreeing. The harness cannot re-add a member under a removed member's name and peer URL (members get fresh names and ports), which the report's re-join did",
		},
		{
			Issue: 20967, Title: "removed (zombie) members come back after the upgrade",
			UpstreamFix:       "3.5.26 (etcd PR 20995: 3.5.26+ removes members found only in the v3store); no 3.6 fix: 3.6 must start from 3.5.26+ data",
			UpstreamFirstGood: "3.5.26",
			Role:              RoleStart, Range: [2]string{"3.5.15", "3.5.35"},
			Strategies: []upgrade.Strategy{upgrade.InPlace, upgrade.Replace},
			Mechanism:  "a member removed from the v2store but left in the v3store is invisible to 3.5 (which reads the v2store) and comes back in 3.6 (which reads the v3store); etcd names three ways to get there: a 3.4 `etcdctl snapshot restore` that kept old members, `--force-new-cluster` in a corner case (etcd PR 20055), and an unexplained third seen in old clusters",
			Status:     NotReproduced,
			Evidence: "not expressible with the harness's steps (learner joins, promotions, removals, in-place restarts, replacements, faults): a plain `member remove` removes the member from both stores (the matrix's replacement paths from 3.5.21 and 3.5.24 remove 3 members each and the audit after the last hop finds both stores in agreement). " +
				"What would reproduce it: a step that restarts one member with `--force-new-cluster` (the PR 20055 corner case: its WAL's HardState behind its applied index), or a starting data dir made by etcd 3.4's `snapshot restore`, or writing a removed member into the bbolt `members` bucket offline (synthetic); the signature would be the membership check finding a member no step created (`listed ... not created by any step`) after the 3.6 hop. " +
				"Also: the proxy does not serve 3.5.26 (the upstream fix), so the first good release measurable here would be 3.5.27",
		},
		{
			Issue: 21694, Title: "a member update on a learner makes it look promoted",
			UpstreamFix:       "3.5.31 and 3.6.12 (etcd PRs 21737, 21736: applying a member update changes the peer URLs only)",
			UpstreamFirstGood: "3.5.31",
			UpstreamAlsoFixed: []string{"3.6.12"},
			Role:              RoleStart, Range: [2]string{"3.5.15", "3.5.35"},
			Strategies: []upgrade.Strategy{upgrade.InPlace},
			Template: func(v, t etcdbin.Version, s upgrade.Strategy) (upgrade.Path, error) {
				return memberUpdatePath(v, hop(t, s)), nil
			},
			Bad: map[upgrade.Strategy]upgrade.Expected{
				upgrade.InPlace: {Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{raftLearnerListedVoter}},
			},
			Condition: "for a cluster one of whose learners was sent a member update before its promotion (kubeadm and Cluster API never send one)",
			Mechanism: "MemberUpdate (a peer URL change, here the learner's own URL sent back) rewrites the member record without its IsLearner flag, in the v2store and the v3store: every member list shows a voter that raft still counts as a learner. The promotion is then refused (`can only promote a learner member`), kubeadm (which reads the member list first) takes the member as promoted, a second learner can be added, and raft's quorum is the first member alone",
			Status:    Reproduced,
			Evidence: "measured 2026-11-30 on processes, 2 cores shared with another engineer's runs: " +
				"`-path=3.5.24+member-update,3.6.5 -strategy=in-place` inconsistent in 28.8 s: the raft check finds, before the upgrade and again after it at 3.6.5, every member listing cp2 and cp3 as voters while its raft's own line says `switched to configuration voters=(17961236230627363964) learners=(1660440667569842828 1915323177407309820)`; " +
				"etcd answered the first promotion `etcdserver: can only promote a learner member` (each member logs `Validation on configuration change failed ... membership: can only promote a learner member`), and still added the third member as a second learner; " +
				"the same path from 3.5.32 consistent in 18.9 s (raft `voters=(...)` of all three); to 3.6.16, which has upstream's fix, 3.5.24's start is still inconsistent after the hop (25.4 s): 3.6.12+ no longer drops the flag, but does not give it back. " +
				"Bisected by cmd/qualify (`-risks=21694 -range35=3.5.21..3.5.32 -targets=3.6.5`, 4 runs, /tmp/r21694/qualify3 on the machine that ran it): 3.5.21, 3.5.23 and 3.5.24 bad (raft check, 35-36 s each), 3.5.32 good (24 s): last bad 3.5.24, first good 3.5.32. The whole registry bisected again later that day (`make qualify`, 76 runs in 1692 s on 2 otherwise idle cores, /tmp/s22/qfull): last bad 3.5.24, first good 3.5.32 against 3.6.4, 3.6.5 and 3.6.16; then, once 3.5.27 built again, `-range35=3.5.24..3.5.32` (3 runs, 93 s, /tmp/s22/q21694): 3.5.27 bad (raft check, 32 s), so last bad 3.5.27, first good 3.5.32; 3.5.25, 3.5.26 and 3.5.28-3.5.30 are not served and 3.5.31 not whole (its raft/v3 zip is refused), so upstream's 3.5.31 is agreed over a gap. " +
				"By replacement the run is a harness error, not a verdict: the hop first makes the last old member the leader, and that member is a raft learner, so etcd answers `etcdserver: request timed out, leader transfer took too long` after 30 s (3.5.24 → 3.6.5, 42.9 s); replacement is therefore not among the strategies",
		},
	}
}

// raftLearnerListedVoter: every member lists a member as a voter that its
// own raft still counts a learner, already in the starting cluster: the
// start version alone did it (etcd issue 21694).
var raftLearnerListedVoter = upgrade.Signature{
	Check: upgrade.CheckRaft,
	Stage: `^before upgrade$`,
	Line:  `as a voter, but its raft counts it a learner`,
	Note:  "a member update on a learner dropped its learner flag from the member list, raft's own line still lists it among the learners: etcd issue 21694",
}

// anyTargetJoinFails is joinFails for any 3.6 target: the bisection runs
// each template against several targets.
func anyTargetJoinFails(hop int, line, note string) upgrade.Signature {
	s := joinFails(hop, "3.6.0", line, note)
	s.Step = fmt.Sprintf(`^hop %d \([0-9.]+ → 3\.6\.[0-9]+, replace\): join a new member`, hop)
	return s
}

// FindRisk returns the risk of an etcd issue.
func FindRisk(issue int) (Risk, bool) {
	for _, r := range Risks() {
		if r.Issue == issue {
			return r, true
		}
	}
	return Risk{}, false
}
