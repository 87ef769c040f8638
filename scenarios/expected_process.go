package scenarios

import "etcd-upgrade-e2e/framework/upgrade"

// Measured on the process provider: `make e2e` on a 2-core machine,
// 2026-11-27, real etcd binaries built from the Go module proxy, snapshot
// count 100, 6000 catch-up writes. Each evidence names what the run's
// matrix.json and <provider>/<name>/result.json showed. Every one of these was
// also reproduced by later runs (`make stress`), and again on 2026-11-29 with
// signatures (`ginkgo -p --label-filter=process`, 31 of 31 as expected, 14 min
// on 2 cores shared with a node image build): each failing replacement path
// failed at its join step with a member's `failed to update; member unknown`
// panic and `etcdserver: unhealthy cluster` from the leader, each 3.5.17
// in-place path with members listing the first one with `client=` empty.
const run = "measured 2026-11-27 and 2026-11-29 (process provider): "

// Shared explanations.
const (
	attributesLost = "after the last member restarts at 3.6 it lists the others with no name or no client URLs, while they list themselves in full: " +
		"etcd 3.5.1–3.5.19 never write a published name or client URLs of an existing member to the v3store (the same refusal that drops promotions, etcd issue 19557), " +
		"3.6 reads the v3store, and the 3.6 start-up sync (etcd PR 19636) repairs learner flags only; the others published before the last member left 3.5, so it never sees their attributes. " +
		"This holds with or without learner history."
	tooManyLearnersWhy = "the first 3.6 member is sent a raft snapshot by the 3.5.17 leader, whose v3store still lists the promoted members as learners (etcd issue 19557). " +
		"On 3.6.5 it logs `Validation on configuration change failed ... membership: too many learner members in cluster` when the next learner is added, and that learner dies with `discovery failed: error validating peerURLs`; " +
		"on 3.6.16 it panics with `failed to update; member unknown` when a member it does not know publishes its attributes, and the next learner add is refused (`etcdserver: unhealthy cluster`)"
	wrongDataTravels = "hop 1 replaces every ≤3.5.19 member by 3.5.21 members that were sent snapshots by the ≤3.5.19 leader (etcd issue 20793): their v3store lists promoted members as learners and 3.5.21 repairs only at start-up, which a replacement never does. " +
		"In hop 2 the first 3.6 member joins from that data and panics with `failed to update; member unknown`, and the next learner add is refused (`etcdserver: unhealthy cluster`). " +
		"etcd issue 20793 reported exactly this chain failing at 1.34.1 (etcd 3.6.4); it fails on 3.6.5 and 3.6.16 too"
	staticReplace = "the new 3.6 members join as learners and the 3.5.17 leader records their promotion in its v2store only; the last one, sent a snapshot by that leader, lists the first two as unnamed learners and one of them stops answering: learner history is created by the replacement itself"
	faultsSafe    = "the safe path stays consistent through the fault, every key read back (faults and their times in result.json)"
	fixed         = "every member agrees, no promoted member is a learner, every key read back, audit consistent after the last hop"
)

// processExpected holds the process provider's measured verdicts, by
// scenario name.
var processExpected = map[string]Expectation{
	"3.5.17-to-3.6.5-in-place":         expect(upgrade.Inconsistent, run+attributesLost, listedShort),
	"3.5.17-to-3.6.16-in-place":        expect(upgrade.Inconsistent, run+attributesLost, listedShort),
	"3.5.17-to-3.6.5-in-place-static":  expect(upgrade.Inconsistent, run+attributesLost, listedShort),
	"3.5.17-to-3.6.16-in-place-static": expect(upgrade.Inconsistent, run+attributesLost, listedShort),
	"3.5.17-to-3.6.5-replace": expect(upgrade.UpgradeFailed, run+tooManyLearnersWhy,
		joinFails(1, "3.6.5", tooManyLearners, "the first 3.6.5 member refuses the next learner, which dies: etcd issue 19557"),
		joinFails(1, "3.6.5", memberUnknown, "the first 3.6.5 member panics on a member its v3store does not know: etcd issue 19557")),
	"3.5.17-to-3.6.16-replace": expect(upgrade.UpgradeFailed, run+tooManyLearnersWhy,
		joinFails(1, "3.6.16", memberUnknown, "the first 3.6.16 member panics on a member its v3store does not know: etcd issue 19557"),
		joinFails(1, "3.6.16", tooManyLearners, "the first 3.6.16 member refuses the next learner, which dies: etcd issue 19557")),
	"3.5.17-to-3.6.5-replace-static":                        expect(upgrade.Inconsistent, run+staticReplace, learnerAgain),
	"3.5.17-to-3.6.16-replace-static":                       expect(upgrade.Inconsistent, run+staticReplace, learnerAgain),
	"3.5.21-to-3.6.5-in-place":                              expect(upgrade.Consistent, run+fixed+"; 3.5.21 writes promotions and attributes to the v3store"),
	"3.5.21-to-3.6.16-in-place":                             expect(upgrade.Consistent, run+fixed),
	"3.5.21-to-3.6.5-replace":                               expect(upgrade.Consistent, run+fixed+"; new 3.6 members were sent snapshots by a 3.5.21 leader"),
	"3.5.21-to-3.6.16-replace":                              expect(upgrade.Consistent, run+fixed+"; new 3.6 members were sent snapshots by a 3.5.21 leader"),
	"3.5.21-to-3.6.5-in-place-static":                       expect(upgrade.Consistent, run+fixed),
	"3.5.21-to-3.6.16-in-place-static":                      expect(upgrade.Consistent, run+fixed),
	"3.5.16-to-3.5.21-to-3.6.5-in-place":                    expect(upgrade.Consistent, run+fixed+"; every member restarted at 3.5.21, which repairs its v3store at start-up (etcd PR 19563), before 3.6"),
	"3.5.16-to-3.5.21-to-3.6.16-in-place":                   expect(upgrade.Consistent, run+fixed+"; every member restarted at 3.5.21, which repairs its v3store at start-up (etcd PR 19563), before 3.6"),
	"3.5.16-to-3.5.21-to-3.6.5-replace":                     expect(upgrade.UpgradeFailed, run+"the etcd issue 20793 mechanism from 3.5.16: "+wrongDataTravels, wrongData("3.6.5")),
	"3.5.16-to-3.5.21-to-3.6.16-replace":                    expect(upgrade.UpgradeFailed, run+"the etcd issue 20793 mechanism from 3.5.16: "+wrongDataTravels, wrongData("3.6.16")),
	"3.5.19-to-3.5.21-to-3.6.4-replace-issue-20793":         expect(upgrade.UpgradeFailed, run+wrongDataTravels, wrongData("3.6.4")),
	"3.5.19-to-3.5.21-to-3.6.5-replace-issue-20793":         expect(upgrade.UpgradeFailed, run+wrongDataTravels, wrongData("3.6.5")),
	"3.5.19-to-3.5.21-to-3.6.16-replace-issue-20793":        expect(upgrade.UpgradeFailed, run+wrongDataTravels, wrongData("3.6.16")),
	"3.5.21-to-3.6.16-in-place-kill-mid-hop":                expect(upgrade.Consistent, run+faultsSafe),
	"3.5.21-to-3.6.16-in-place-lose-quorum":                 expect(upgrade.Consistent, run+faultsSafe),
	"3.5.21-to-3.6.16-replace-kill-mid-hop":                 expect(upgrade.Consistent, run+faultsSafe),
	"3.5.21-to-3.6.16-replace-kill-leader-during-promotion": expect(upgrade.Consistent, run+faultsSafe+"; the retried learner add finds the member its lost first attempt added"),
	"3.5.21-to-3.6.16-replace-restart-during-snapshot":      expect(upgrade.Consistent, run+faultsSafe),
	"3.5.21-to-3.6.16-replace-lose-quorum":                  expect(upgrade.Consistent, run+faultsSafe),
	"3.5.24-to-3.6.5-replace":                               expect(upgrade.Consistent, run+fixed+"; Kubernetes 1.33.13's own etcd pin, new members sent snapshots by a 3.5.24 leader"),
	"3.5.24-to-3.6.5-in-place":                              expect(upgrade.Consistent, run+fixed+"; Kubernetes 1.33.13's own etcd pin"),
	"3.5.19-to-3.5.24-to-3.6.5-replace":                     expect(upgrade.Consistent, run+fixed+"; 3.5.24 repairs the membership of a snapshot it is sent (etcd PR 20797)"),
	"3.5.19-to-3.5.24-to-3.6.16-replace":                    expect(upgrade.Consistent, run+fixed+"; 3.5.24 repairs the membership of a snapshot it is sent (etcd PR 20797)"),
}

// wrongData: the etcd issue 20793 chain fails in hop 2, when the first 3.6
// member joins from data a ≤3.5.19 leader once sent the 3.5.21 members.
func wrongData(target string) upgrade.Signature {
	return joinFails(2, target, memberUnknown+"|"+tooManyLearners+"|unhealthy cluster", "the first 3.6 member joins from membership data a 3.5.19 leader sent the 3.5.21 members: etcd issue 20793")
}

// learnerAgain: the last new member, sent a snapshot by the 3.5.17 leader,
// lists members it saw promoted as learners (or cannot answer at all).
var learnerAgain = upgrade.Signature{
	Check: upgrade.CheckMembership,
	Line:  `as a learner|no member list`,
	Note:  "a new member lists promoted members as learners: the replacement itself created the learner history",
}
