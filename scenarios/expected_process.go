package scenarios

import (
	"fmt"
	"regexp"

	"etcd-upgrade-e2e/framework/upgrade"
)

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
// On 2026-11-30 the members run with --unsafe-no-fsync (the default since,
// -fsync restores etcd's): `ginkgo --procs=4 --label-filter=process`, 51 of
// 51 as expected, verdict and signature, in 633 s (2309 s of spec time).
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

	// Rolled back to 3.5, and pushed on to 3.7 (issue 15).
	"3.5.21-to-3.6.5-to-3.5.21-in-place+downgrade":      expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.5-to-3.5.21-in-place+downgrade (36.5 s): "+rolledBack),
	"3.5.21-to-3.6.5-to-3.5.35-in-place+downgrade":      expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.5-to-3.5.35-in-place+downgrade (40.3 s): "+rolledBack),
	"3.5.21-to-3.6.16-to-3.5.21-in-place+downgrade":     expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.16-to-3.5.21-in-place+downgrade (32.9 s): "+rolledBack),
	"3.5.21-to-3.6.16-to-3.5.35-in-place+downgrade":     expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.16-to-3.5.35-in-place+downgrade (30.8 s): "+rolledBack),
	"3.5.21-to-3.6.5-to-3.5.21-replace+downgrade":       expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.5-to-3.5.21-replace+downgrade (59.6 s): "+rolledBack+"; the 3.6 members joined from snapshots of a 3.5.21 leader"),
	"3.5.21-to-3.6.5-to-3.5.35-replace+downgrade":       expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.5-to-3.5.35-replace+downgrade (48.2 s): "+rolledBack+"; the 3.6 members joined from snapshots of a 3.5.21 leader"),
	"3.5.21-to-3.6.16-to-3.5.21-replace+downgrade":      expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.16-to-3.5.21-replace+downgrade (49.3 s): "+rolledBack+"; the 3.6 members joined from snapshots of a 3.5.21 leader"),
	"3.5.21-to-3.6.16-to-3.5.35-replace+downgrade":      expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.16-to-3.5.35-replace+downgrade (50.6 s): "+rolledBack+"; the 3.6 members joined from snapshots of a 3.5.21 leader"),
	"3.5.17-to-3.6.5-to-3.5.21-in-place+downgrade":      expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.5-to-3.5.21-in-place+downgrade (35.2 s): "+shortThenRepaired, shortAt36),
	"3.5.17-to-3.6.5-to-3.5.35-in-place+downgrade":      expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.5-to-3.5.35-in-place+downgrade (31.0 s): "+shortThenRepaired, shortAt36),
	"3.5.17-to-3.6.16-to-3.5.21-in-place+downgrade":     expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.16-to-3.5.21-in-place+downgrade (38.6 s): "+shortThenRepaired, shortAt36),
	"3.5.17-to-3.6.16-to-3.5.35-in-place+downgrade":     expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.16-to-3.5.35-in-place+downgrade (40.3 s): "+shortThenRepaired, shortAt36),
	"3.5.21-to-3.6.5-1of3-to-3.5.21-in-place+downgrade": expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.5-1of3-to-3.5.21-in-place+downgrade (17.6 s): "+midwayRefused+"; cp1 restarts on 3.5.21 and "+fixed),
	"3.5.21-to-3.6.5-1of3-to-3.5.21-replace+downgrade":  expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.5-1of3-to-3.5.21-replace+downgrade (29.4 s): "+midwayRefused+"; the one 3.6.5 member (cp4, joined from a 3.5.21 leader's snapshot) restarts on 3.5.21 and "+fixed),
	"3.5.17-to-3.6.5-1of3-to-3.5.21-in-place+downgrade": expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.5-1of3-to-3.5.21-in-place+downgrade (23.4 s): "+
		"after the first member restarts at 3.6.5, it lists the two 3.5.17 members with no name and no client URLs (`cp1 says e7e0e6bf75b3b768  voter peer=... client=`) while they list themselves in full: "+
		"3.5.17 never wrote their attributes to the v3store 3.6 reads. "+midwayRefused+"; all three restart on 3.5.21 (cp1 from 3.6.5, cp2 and cp3 from 3.5.17) and list each other in full; "+
		"the audit of cp3's copy after the rollback still found cp2 promoted in the v2store only, in both runs, as it did for the member restarted last at 3.5.21 "+
		"in 3.5.16-to-3.5.21-to-3.6.x-in-place after its hop 1 in the same runs, although 3.5.20+ is to repair that at start-up (why was not measured)", shortAt36),
	"3.5.17-to-3.6.5-1of3-to-3.5.21-replace+downgrade": expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.5-1of3-to-3.5.21-replace+downgrade (25.7 s): "+
		"a Cluster API rollout stopped after its first new member, as one whose next join fails (3.5.17-to-3.6.5-replace) stops, then rolled back: "+
		"the 3.6.5 member cp4 joined from the 3.5.17 leader's snapshot and lists cp2 and cp3 as learners (etcd issue 19557). "+midwayRefused+"; "+
		"cp2 and cp3 restart on 3.5.21 from 3.5.17, cp4 from 3.6.5, and cp4 still lists cp2 and cp3 as learners (`cp4 lists ...-cp2 (5da978c6b7721d39) as a learner, but it was promoted`): "+
		"3.6 writes the v2 snapshot a 3.5 member reads from its own v3store, so its wrong view came back into 3.5.21, which now reads it from the v2store. "+
		"The audit of cp3's copy after the rollback (cp3 restarted on 3.5.21 from 3.5.17) also still found cp2 promoted in the v2store only", learnerAfterRollback),
	"3.5.21-to-3.6.16-to-3.7.3-in-place": expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.16-to-3.7.3-in-place (33.6 s): "+to37),
	"3.5.21-to-3.6.16-to-3.7.3-replace":  expect(upgrade.Consistent, rollbackRun+"3.5.21-to-3.6.16-to-3.7.3-replace (68.0 s): "+to37+"; the 3.7.3 members joined from snapshots of a 3.6.16 leader"),
	"3.5.17-to-3.6.16-to-3.7.3-in-place": expect(upgrade.Inconsistent, rollbackRun+"3.5.17-to-3.6.16-to-3.7.3-in-place (29.3 s): "+
		"after hop 1 cp3, upgraded last, lists cp2 with no name and no client URLs, or not at all (`cp3 does not list member ...-cp2`): "+attributesLost+" "+
		"Hop 2 restarts every member again at 3.7.3, each republishes its attributes, and after it every member lists every other in full: "+to37, shortAt36),
	"3.7.3-to-3.5.21-downgrade": expect(upgrade.UpgradeFailed, rollbackRun+"3.7.3-to-3.5.21-downgrade (14.9 s): "+
		"a cluster born on 3.7.3 asked to downgrade two minors; etcd refuses `downgrade validate 3.5` with `etcdserver: invalid downgrade target version` "+
		"(the target must be the minor below the cluster version, 3.6) and no member restarts. The 3.7.3 members that joined as learners also log "+
		"`failed to update storage version ... cannot detect storage schema version: missing term information` until they have applied an entry of their own term: unrelated to the refusal", downgradeRefused(1, "3.7.3", "3.5.21")),
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

// rollbackRun starts the evidence of the rollback and 3.7 scenarios (issue
// 15): `ginkgo -p --label-filter='process && (downgrade || etcd-3.7)'` on 2
// cores shared with a kind matrix run, artifacts under /tmp/i15/new2/process/
// on the machine that ran it; then the whole process matrix with ginkgo -p
// (/tmp/i15/all, 51 of 51 as expected), which gave every one the same
// verdict and signature.
const rollbackRun = "measured twice on 2026-11-30 (process provider, ginkgo -p on 2 cores shared with a running kind matrix; the second run was the whole matrix, /tmp/i15/all, same verdict and signature), artifacts of the first /tmp/i15/new2/process/"

// Shared explanations of the rollback and 3.7 scenarios.
const (
	rolledBack = "every member reports storage version 3.6, etcd validates and enables the downgrade to 3.5 (`cluster version 3.6, a downgrade to 3.5 is valid`), " +
		"every member reports it within seconds (`downgrade enabled to 3.5.0, storage version 3.5.0`; the 3.6 members log `Cluster version downgrade detected, forcing snapshot` " +
		"and `The server is ready to downgrade`), each member restarts on 3.5 and " + fixed
	shortThenRepaired = "after hop 1 a member lists another with no client URLs (and often no name), or not at all, as 3.5.17-to-3.6.x-in-place does: " + attributesLost + " " +
		"The rollback (downgrade validated, enabled and reported by every member, then each member restarted on 3.5) restarts every member, each republishes its attributes, " +
		"and after it every member lists every other in full, every key read back, audit consistent: rolling back repairs what 3.6 showed"
	midwayRefused = "with two members still on 3.5 the cluster version never left 3.5: etcd refuses `downgrade validate 3.5` (`etcdserver: invalid downgrade target version`), " +
		"so no downgrade is enabled and the members not on 3.5.21 restart on it directly"
	to37 = "hop 2 ends when every member reports storage version 3.7.0; every member agrees, every key written before and on the way read back, " +
		"and the audit after it finds every member's data `no-v2store`: etcd 3.7 reads membership from the v3store alone, whose v2-format copy in the .snap files agrees with it"
)

// shortAt36: after the hop to 3.6 a member lists another with no client
// URLs; the check after the rollback (or the 3.7 hop) finds nothing.
var shortAt36 = upgrade.Signature{
	Check: upgrade.CheckMembership,
	Stage: `^after hop 1 `,
	Line:  listedShort.Line,
	Note:  "at 3.6 a member lists another with no client URLs (3.5.17 never wrote them to the v3store); the rollback or the 3.7 hop restarts every member, which repairs it",
}

// learnerAfterRollback: a member that joined at 3.6 from a 3.5.17 leader's
// snapshot still lists promoted members as learners after it is rolled
// back to 3.5.
var learnerAfterRollback = upgrade.Signature{
	Check: upgrade.CheckMembership,
	Stage: `^after hop 2 \(3\.6\.5 → 3\.5\.21, downgrade\)`,
	Line:  `lists \S+ \([0-9a-f]+\) as a learner, but it was promoted`,
	Note:  "the rolled-back member reads the v2 snapshot 3.6 wrote from its wrong v3store: the promoted members are learners again in 3.5",
}

// downgradeRefused: etcd refuses the downgrade when it is asked to validate
// it, and says why.
func downgradeRefused(hop int, from, to string) upgrade.Signature {
	return upgrade.Signature{
		Step:   fmt.Sprintf(`^hop %d \(%s → %s, downgrade\): etcdctl downgrade validate`, hop, regexp.QuoteMeta(from), regexp.QuoteMeta(to)),
		Source: `^etcd API$`,
		Line:   `invalid downgrade target version`,
		Note:   "etcd refuses a downgrade target other than the minor below the cluster version",
	}
}
