package scenarios

import "etcd-upgrade-e2e/framework/upgrade"

// The kind provider's measured verdicts, and the scenarios it adds. A kind
// run is a kubeadm 1.33.13 HA control plane created by kind v0.30.0 from the
// harness's offline node image: kind joins the initial control planes
// (kubeadm join --control-plane, learner then promoted), replacements add
// node containers as Cluster API's Docker provider does, in-place upgrades
// rewrite the etcd static pod manifest as kubeadm upgrade does.

// kindExpected holds the kind provider's measured verdicts, by scenario
// name. A scenario with no kind entry has no measurement on kind: its kind
// spec fails with what it measured, so that it gets recorded here.
// Runs: Docker 20.10.24 (no --privileged), cgroup v1, 2 cores, node image
// etcd-upgrade-e2e/node:v1.33.13 built offline, snapshot-count 100, 6000
// catch-up writes.
var kindExpected = map[string]Expectation{
	"3.5.17-to-3.6.5-replace": expect(upgrade.UpgradeFailed, kindRun+"_artifacts/kind-measured/kind/3.5.17-to-3.6.5-replace and _artifacts/kind-measured2/kind/3.5.17-to-3.6.5-replace: "+
		"the first 3.6.5 node (control-plane4) joins from a raft snapshot of the 3.5.17 leader; asked to add the next learner it logs "+
		"`Validation on configuration change failed ... \"error\":\"membership: too many learner members in cluster\"` while the 3.5.17 members apply the add "+
		"(`membership: peerURL exists` on kubeadm's retries). First run: kubeadm join of control-plane5 gives up after 138 s with `etcdserver: too many learner members in cluster`. "+
		"Second run: control-plane5 gets in after 138 s of retries, control-plane4 then exits with "+
		"`{\"level\":\"fatal\",...,\"msg\":\"discovery failed\",\"error\":\"membership: too many learner members in cluster\"}` and the third join does not finish within 3 min. "+
		"Same verdict and same member lines as the process provider (etcd issue 19557); which join fails first varies with kubeadm's retry timing.", joinFails(1, "3.6.5", tooManyLearners, "the first 3.6.5 node refuses the next learner (kubeadm quotes it), or dies: etcd issue 19557")),
	"3.5.21-to-3.6.5-replace": expect(upgrade.Consistent, kindRun+"_artifacts/kind-measured/kind/3.5.21-to-3.6.5-replace: "+
		"three kubeadm joins at 3.6.5 (each sent a snapshot by a 3.5.21 leader) and three kubeadm resets; every member agrees, no promoted member is a learner, "+
		"every key read back, audit consistent after the hop. Same as the process provider: 3.5.21 repaired the promotions in its v3store at start-up."),
	"3.5.17-to-3.6.5-in-place": expect(upgrade.Inconsistent, kindRun+"_artifacts/kind-measured/kind/3.5.17-to-3.6.5-in-place: "+
		"before the upgrade the offline audit finds both joined members promoted in the v2store only (etcd issue 19557); after the three static pods restart at 3.6.5 "+
		"the learner flags are repaired (audit consistent) but control-plane3 lists control-plane2 with no name and no client URLs "+
		"(`... says d35175c7ad20af5a  voter peer=https://192.168.16.3:2380 client=`) while the others list it in full. Same as the process provider.", listedShort),
	"3.5.16-to-3.5.21-to-3.6.5-replace": expect(upgrade.UpgradeFailed, kindRun+"_artifacts/kind-measured2/kind/3.5.16-to-3.5.21-to-3.6.5-replace: "+
		"hop 1 (three joins at 3.5.21 from a 3.5.16 leader's snapshots, three resets) passes; in hop 2 the first 3.6.5 node (control-plane7) joins, the second joins only after 147 s of kubeadm retries, "+
		"then control-plane7 logs `{\"level\":\"panic\",...,\"msg\":\"failed to update; member unknown\"}` and the third join never finishes "+
		"(control-plane8: `rejecting member add request; local member has not been connected to all peers`). The etcd issue 20793 mechanism, as on the process provider.", joinFails(2, "3.6.5", memberUnknown+"|"+tooManyLearners+"|not been connected to all peers", "the first 3.6.5 node panics on a member its v3store does not know, or the next join is refused: etcd issue 20793")),
	"3.5.16-to-3.5.21-to-3.6.16-in-place": expect(upgrade.Consistent, kindRun3616+"3.5.16-to-3.5.21-to-3.6.16-in-place: "+
		"six static pod restarts (three at 3.5.21, three at 3.6.16); every member lists every other in full, every key read back; the audit finds every 3.5.16 member at-risk before and every member consistent after each hop "+
		"(one audit, of control-plane3 after hop 1, was not taken: listing its etcd containers raced the kubelet removing an old one, fixed since in framework/kind): "+
		"every member restarted at 3.5.21, which repairs its v3store at start-up, before 3.6. Same as the process provider."),
	"3.5.16-to-3.5.21-to-3.6.16-replace": expect(upgrade.UpgradeFailed, kindRun3616+"3.5.16-to-3.5.21-to-3.6.16-replace: "+
		"hop 1 (three joins at 3.5.21 from a 3.5.16 leader's snapshots, three resets) passes; in hop 2 the first 3.6.16 node (control-plane7) joins, then logs "+
		"`Validation on configuration change failed ... membership: too many learner members in cluster` when the next learner is added, and that learner (control-plane8) exits with "+
		"`{\"level\":\"fatal\",...,\"msg\":\"discovery failed\",\"error\":\"error validating peerURLs ...` (a member listed as a learner with no name); the join step gives up after 142 s. "+
		"The etcd issue 20793 mechanism, as on the process provider and as 3.5.16-to-3.5.21-to-3.6.5-replace on kind.", joinFails(2, "3.6.16", tooManyLearners+"|discovery failed|"+memberUnknown, "the first 3.6.16 node refuses the next learner, which dies: etcd issue 20793")),
	"3.5.17-to-3.6.16-in-place": expect(upgrade.Inconsistent, kindRun3616+"3.5.17-to-3.6.16-in-place: "+
		"the audit before the upgrade finds every 3.5.17 member at-risk; after the three static pods restart at 3.6.16 the audit is consistent (learner flags repaired) "+
		"but control-plane3, upgraded last, lists control-plane2 with no name and no client URLs (`... says 965bbf52514b990d  voter peer=https://172.30.0.3:2380 client=`) "+
		"and control-plane with no client URLs, while the others list both in full. Same as 3.5.17-to-3.6.5-in-place on kind and the process provider.", listedShort),
	"3.5.17-to-3.6.16-replace": expect(upgrade.UpgradeFailed, kindRun3616+"3.5.17-to-3.6.16-replace: "+
		"the first 3.6.16 node (control-plane4) joins from a raft snapshot of the 3.5.17 leader; asked to add the next learner it logs "+
		"`Validation on configuration change failed ... \"error\":\"membership: too many learner members in cluster\"` while the 3.5.17 members log `membership: peerURL exists` on kubeadm's retries, "+
		"and kubeadm join of control-plane5 fails. Same verdict as on the process provider, whose 3.6.16 member instead panicked (`failed to update; member unknown`): "+
		"the same v3store data, met through a different request first.", joinFails(1, "3.6.16", tooManyLearners+"|"+memberUnknown, "the first 3.6.16 node refuses the next learner: etcd issue 19557")),
	"3.5.21-to-3.6.16-in-place": expect(upgrade.Consistent, kindRun3616+"3.5.21-to-3.6.16-in-place: "+
		"three static pod restarts at 3.6.16 (19-20 s each); every member lists every other in full, every key read back, audit consistent before and after "+
		"(one copy, of control-plane2 after the hop, held a .snap file etcd was still writing and could not be read: the audit said so rather than judge it). Same as the process provider."),
	"3.5.21-to-3.6.16-replace": expect(upgrade.Consistent, kindRun3616+"3.5.21-to-3.6.16-replace: "+
		"three kubeadm joins at 3.6.16 (each sent a snapshot by a 3.5.21 leader) and three kubeadm resets; every member agrees, every key read back, audit consistent before and after. "+
		"Same as the process provider."),
	"3.5.24-to-3.6.5-replace": expect(upgrade.Consistent, kindRun+"_artifacts/kind-measured-3524-replace/kind/custom-3.5.24-to-3.6.5-replace (run as -path=3.5.24,3.6.5 -strategy=replace): "+
		"kubeadm 1.33.13's own etcd pin; three joins at 3.6.5 from snapshots of a 3.5.24 leader and three resets; every member agrees, audit consistent. "+
		"The control of issue 8: 3.5.24 carries the fixes of etcd 19557 (3.5.20) and 20793 (3.5.24)."),
	"3.5.24-to-3.6.5-in-place": expect(upgrade.Consistent, kindRun+"_artifacts/kind-measured-3524-in-place/kind/custom-3.5.24-to-3.6.5-in-place (run as -path=3.5.24,3.6.5 -strategy=in-place): "+
		"three static pod restarts at 3.6.5 (13-17 s each); every member lists every other in full, audit consistent: 3.5.24 wrote promotions and member attributes to the v3store, "+
		"unlike 3.5.17 in 3.5.17-to-3.6.5-in-place."),
	"3.5.21-to-3.6.5-kubeadm-upgrade": expect(upgrade.Consistent, kindRun+"_artifacts/kubeadm1/kind/3.5.21-to-3.6.5-kubeadm-upgrade: "+
		"`kubeadm upgrade apply v1.34.2` on control-plane (89 s), `kubeadm upgrade node` on control-plane2 and control-plane3 (68 s, 90.5 s), each followed by the v1.34.2 kubelet; "+
		"kubeadm moved etcd to its own pin 3.6.5 once the cluster's custom imageTag was removed. Every member lists every other in full, every key read back, audit consistent before and after. "+
		"Same verdict as 3.5.21-to-3.6.5-in-place. "+kubeadmRepeat),
	"3.5.17-to-3.6.5-kubeadm-upgrade": expect(upgrade.Inconsistent, kindRun+"_artifacts/kubeadm2/kind/3.5.17-to-3.6.5-kubeadm-upgrade: "+
		"the audit before the upgrade finds every 3.5.17 member at-risk (promotions in the v2store only, etcd issue 19557); kubeadm upgrade apply and node succeed on all three nodes "+
		"(75 s, 92 s, 69 s) and every etcd serves at 3.6.5, but control-plane2 and control-plane3 list control-plane, the node kubeadm upgraded first, with no client URLs "+
		"(`... says c63fc327fd7550b9 ...-control-plane voter peer=https://172.19.0.3:2380 client=`) while it lists itself in full. The audit after the hop is consistent: the learner flags were repaired, the lost attributes were not. "+
		"kubeadm reports SUCCESS: nothing in its checks looks at member attributes. Same verdict as 3.5.17-to-3.6.5-in-place; which member is listed short differs. "+kubeadmRepeat, listedShort),
	"3.5.24-to-3.6.5-kubeadm-upgrade": expect(upgrade.Consistent, kindRun+"_artifacts/kubeadm2/kind/3.5.24-to-3.6.5-kubeadm-upgrade: "+
		"the default Kubernetes path: kubeadm 1.33.13's own etcd pin to kubeadm 1.34.2's. `kubeadm upgrade apply v1.34.2` (105 s) and `kubeadm upgrade node` (68 s, 101 s) "+
		"move every member to 3.6.5; every member lists every other in full, every key read back, audit consistent before and after. "+kubeadmRepeat),
	"3.5.21-to-3.6.5-to-3.5.21-in-place+downgrade": expect(upgrade.Consistent, kindRun1130+"custom-3.5.21-to-3.6.5-to-3.5.21-in-place+downgrade "+
		"(run as -path=3.5.21,3.6.5,3.5.21 -strategy=in-place -expect=consistent, 154 s): after the in-place hop to 3.6.5 every member reports storage version 3.6.0; "+
		"etcd answers `cluster version 3.6, a downgrade to 3.5 is valid` and `downgrade to 3.5 enabled, cluster version 3.6`; 2.2 s later every member reports "+
		"`downgrade enabled to 3.5.0, storage version 3.5.0`; each etcd static pod manifest is rewritten back to 3.5.21 (12-15 s per node); "+
		"every member lists every other in full, every key read back through each member, the audit finds every 3.5.21 member consistent. Same as the process provider."),
	"3.5.16-to-3.5.21-to-3.6.5-in-place": expect(upgrade.Consistent, kindRun1129+"3.5.16-to-3.5.21-to-3.6.5-in-place (172 s): "+
		"six static pod restarts (15 s each at 3.5.21, 15-17 s at 3.6.5); every member lists every other in full, every key read back through each member; "+
		"the audit finds every 3.5.16 member at-risk before the upgrade and every member consistent after hop 2 "+
		"(the copy of control-plane3 taken right after its restart at 3.5.21 was still at-risk: 3.5.21 repairs the v3store at start-up, and the copy can precede it). Same as the process provider."),
	"3.5.19-to-3.5.21-to-3.6.5-replace-issue-20793": expect(upgrade.UpgradeFailed, kindRun1129+"3.5.19-to-3.5.21-to-3.6.5-replace-issue-20793 (214 s): "+
		"hop 1 replaces the three 3.5.19 nodes by 3.5.21 nodes (joins 19-35 s, each sent a snapshot by a 3.5.19 leader); in hop 2 the first 3.6.5 node (control-plane7) joins, "+
		"and at the next join it logs `Validation on configuration change failed ... membership: too many learner members in cluster` while the 3.5.21 members answer kubeadm's retries with `membership: peerURL exists`; "+
		"the joining control-plane8 exits with `{\"level\":\"fatal\",...,\"msg\":\"discovery failed\",\"error\":\"couldn't find local name ... in the initial cluster configuration\"}`. "+
		"The etcd issue 20793 mechanism, as on the process provider (where the 3.6 member panicked instead).",
		joinFails(2, "3.6.5", tooManyLearners+"|"+memberUnknown+"|discovery failed", "the first 3.6.5 node, joined from membership data a 3.5.19 leader sent the 3.5.21 members, refuses the next learner: etcd issue 20793")),
	"3.5.19-to-3.5.24-to-3.6.5-replace": expect(upgrade.Consistent, kindRun1129+"3.5.19-to-3.5.24-to-3.6.5-replace (282 s): "+
		"six kubeadm joins (24-35 s each) and six resets; the audit finds every 3.5.19 member at-risk before the upgrade, and every 3.5.24 member consistent after hop 1 "+
		"although each was sent a snapshot by a 3.5.19 leader: 3.5.24 repairs the membership of a snapshot it is sent (etcd PR 20797). Every member agrees after hop 2, every key read back. "+
		"The control of the issue 20793 chain, as on the process provider."),
	"3.5.21-to-3.6.16-in-place-kill-mid-hop": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.16-in-place-kill-mid-hop (117 s): "+
		"the etcd container of control-plane, just restarted at 3.6.16, is killed at 83.4 s and serves again 1.3 s later; the other two static pods restart at 3.6.16 (13-14 s each); "+
		"every member agrees, every key read back through each member, audit consistent. "+faultsSafe),
	"3.5.21-to-3.6.16-in-place-lose-quorum": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.16-in-place-lose-quorum (140 s): "+
		"after control-plane restarts at 3.6.16, control-plane2 and control-plane3 are stopped (manifests moved aside) at 97.3 s for 3 s and started together (21.3 s in all); "+
		"the hop goes on, every member agrees, every key read back through each member, audit consistent. "+faultsSafe),
	"3.5.21-to-3.6.16-replace-kill-leader-during-promotion": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.16-replace-kill-leader-during-promotion (158 s): "+
		"the leader, control-plane3, is SIGKILLed at 76.8 s, as the first 3.6.16 learner appears, and the kubelet restarts it; the join completes (24 s), two more joins (22 s, 31 s) and three resets follow; "+
		"every member agrees, every key read back through each member, audit consistent. "+faultsSafe),
	"3.5.21-to-3.6.16-replace-kill-mid-hop": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.16-replace-kill-mid-hop (176 s): "+
		"the etcd container of the first 3.6.16 node, control-plane4, is killed right after its join (87.1 s) and serves again 4.5 s later; the replacement goes on; "+
		"every member agrees, every key read back through each member, audit consistent. "+faultsSafe),
	"3.5.21-to-3.6.16-replace-lose-quorum": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.16-replace-lose-quorum (192 s): "+
		"after the first 3.6.16 node joins, every member but the first (three of four, control-plane2 first) is stopped at 120.2 s for 3 s and they start together (33.7 s in all); the replacement goes on; "+
		"every member agrees, every key read back through each member, audit consistent. "+faultsSafe),
	"3.5.21-to-3.6.16-replace-restart-during-snapshot": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.16-replace-restart-during-snapshot (172 s): "+
		"the etcd container of the first 3.6.16 node, control-plane4, is killed at 69.7 s as soon as it appears, while it catches up from the 3.5.21 leader, and started again; "+
		"its join completes (25 s), two more joins (30 s, 33 s) and three resets follow; every member agrees, every key read back through each member, audit consistent. "+faultsSafe),
	"3.5.21-to-3.6.5-in-place": expect(upgrade.Consistent, kindRun1129+"3.5.21-to-3.6.5-in-place (116 s, of which 63 s creating the HA cluster): "+
		"three static pod restarts at 3.6.5 (12-16 s each); every member lists every other in full, every key read back through each member, audit consistent before and after: "+
		"3.5.21 wrote promotions and member attributes to the v3store. Same as the process provider, unlike 3.5.17-to-3.6.5-in-place."),
	"3.5.19-to-3.5.21-to-3.6.16-replace-issue-20793": expect(upgrade.UpgradeFailed, kindRun1129+"3.5.19-to-3.5.21-to-3.6.16-replace-issue-20793 (319 s): "+
		"hop 1 replaces the 3.5.19 nodes by 3.5.21 nodes sent snapshots by a 3.5.19 leader; in hop 2 the first 3.6.16 node (control-plane7) joins and, at the next join, logs "+
		"`Validation on configuration change failed ... membership: too many learner members in cluster`; the joining control-plane8 exits with "+
		"`{\"level\":\"fatal\",...,\"msg\":\"discovery failed\",\"error\":\"error validating peerURLs ...` (a member listed as a learner with no name). "+
		"The etcd issue 20793 mechanism on 3.6.16, as 3.5.16-to-3.5.21-to-3.6.16-replace on kind.",
		joinFails(2, "3.6.16", tooManyLearners+"|"+memberUnknown+"|discovery failed", "the first 3.6.16 node, joined from membership data a 3.5.19 leader sent the 3.5.21 members, refuses the next learner: etcd issue 20793")),
	"3.5.19-to-3.5.21-to-3.6.4-replace-issue-20793": expect(upgrade.UpgradeFailed, kindRun1129+"3.5.19-to-3.5.21-to-3.6.4-replace-issue-20793 (203 s): "+
		"the chain exactly as etcd issue 20793 reported it (1.32 → 1.33.1 → 1.34.1): hop 1 replaces the 3.5.19 nodes by 3.5.21 nodes sent snapshots by a 3.5.19 leader; "+
		"in hop 2 the first 3.6.4 node (control-plane7) joins and, at the next join, logs `Validation on configuration change failed ... membership: too many learner members in cluster`, "+
		"and the join fails. Reproduces the report on kind, as on the process provider (where the 3.6.4 member panicked instead).",
		joinFails(2, "3.6.4", tooManyLearners+"|"+memberUnknown+"|discovery failed", "the first 3.6.4 node, joined from membership data a 3.5.19 leader sent the 3.5.21 members, refuses the next learner: etcd issue 20793")),
	"3.5.19-to-3.5.24-to-3.6.16-replace": expect(upgrade.Consistent, kindRun1129+"3.5.19-to-3.5.24-to-3.6.16-replace (260 s): "+
		"six kubeadm joins and six resets; every 3.5.19 member at-risk before the upgrade, every 3.5.24 member consistent after hop 1 although sent a snapshot by a 3.5.19 leader (etcd PR 20797), "+
		"every member agrees after hop 2, every key read back through each member. The control of the issue 20793 chain against 3.6.16, as on the process provider."),
}

// kindRun1129 starts the evidence of the kind runs of 2026-11-29, made with
// signatures: `ginkgo --focus=... ./e2e -- -provider=kind`, artifacts of
// that run under /tmp/kb/kind/<scenario> on the machine that ran it.
const kindRun1130 = "measured 2026-11-30 (kind provider, kind v0.30.0, kubeadm v1.33.13, 2 cores), artifacts /tmp/k15/kind/"

const kindRun1129 = "measured 2026-11-29 (kind provider, kind v0.30.0, kubeadm v1.33.13, 2 cores), artifacts /tmp/kb/kind/"

// kubeadmRepeat cites the second run of every kubeadm-upgrade path.
const kubeadmRepeat = "Repeated by `make e2e PROVIDER=kind GINKGO_ARGS=--label-filter=kubeadm-upgrade` (artifacts _artifacts/kubeadm3, same day): same verdict and the same member listed short, " +
	"448-486 s per path."

// kindRun3616 starts the evidence of the kind runs against etcd 3.6.16.
const kindRun3616 = kindRun + "_artifacts/kind-3616/kind/"

// kindRun starts every kind evidence.
const kindRun = "measured 2026-11-27 (kind provider, kind v0.30.0, kubeadm v1.33.13), artifacts "

// kindAsOnProcess holds the kind runs of scenarios first measured on kind
// with -expect-from=process that gave the process provider's verdict and
// matched its signatures: the evidence of each kind run, by scenario. Each
// becomes a kind expectation with the process signatures (asOnProcess).
var kindAsOnProcess = map[string]string{
	"3.5.17-to-3.6.16-to-3.5.21-in-place+downgrade": kindRun1130b + "3.5.17-to-3.6.16-to-3.5.21-in-place+downgrade (280 s): " +
		"every 3.5.17 member at-risk in the audit before the upgrade; after the in-place hop to 3.6.16 control-plane2 lists control-plane with no client URLs " +
		"(`...-control-plane2 says 5320353a7d98bdee ...-control-plane voter peer=https://172.18.0.4:2380 client=`) and control-plane3 does not list control-plane2, while the audit is consistent; " +
		"etcd answers `cluster version 3.6, a downgrade to 3.5 is valid` and `downgrade to 3.5 enabled, cluster version 3.6`, every member reports `downgrade enabled to 3.5.0, storage version 3.5.0` 4.3 s later, " +
		"each static pod goes back to 3.5.21 (15-17 s) and after it every member lists every other in full, every key read back, audit consistent. Same as the process provider: the rollback repairs what 3.6 showed.",
	"3.5.17-to-3.6.16-to-3.5.35-in-place+downgrade": kindRun1130b + "3.5.17-to-3.6.16-to-3.5.35-in-place+downgrade (284 s): " +
		"as the rollback to 3.5.21: at 3.6.16 a member lists control-plane with `client=` empty and control-plane3 does not list control-plane2; the downgrade is valid, enabled and reported by every member in 2.2 s; " +
		"each member restarts on 3.5.35 (18-19 s) and every member then lists every other in full, audit consistent. Same as the process provider.",
	"3.5.17-to-3.6.16-to-3.7.3-in-place": kindRun1130b + "3.5.17-to-3.6.16-to-3.7.3-in-place (288 s): " +
		"at 3.6.16 control-plane2 lists control-plane with `client=` empty; hop 2 rewrites each manifest to 3.7.3 with the flag names kubeadm writes for etcd 3.6+ " +
		"(`--feature-gates=InitialCorruptCheck=true`, `--watch-progress-notify-interval=5s`: 3.7 no longer has the experimental ones), 13-19 s per node; every member reports storage version 3.7.0, " +
		"every member lists every other in full, every key read back, and the audit finds every member `no-v2store`. Same as the process provider: the 3.7 hop restarts every member, which republishes its attributes.",
	"3.5.17-to-3.6.5-1of3-to-3.5.21-in-place+downgrade": kindRun1130b + "3.5.17-to-3.6.5-1of3-to-3.5.21-in-place+downgrade (248 s): " +
		"after control-plane alone restarts at 3.6.5 it does not list control-plane2 and control-plane3 in full; etcd refuses `downgrade validate 3.5` " +
		"(`etcdserver: invalid downgrade target version`: the cluster version is still 3.5), so all three restart on 3.5.21 directly and list each other in full; " +
		"the audit of control-plane3's copy after the rollback still finds control-plane2 `a voter in the v2store but still a learner in the v3store`, as on the process provider.",
	"3.5.17-to-3.6.5-1of3-to-3.5.21-replace+downgrade": kindRun1130b + "3.5.17-to-3.6.5-1of3-to-3.5.21-replace+downgrade (287 s): " +
		"the first 3.6.5 node, control-plane4, joins from the 3.5.17 leader's snapshot (56 s) and lists control-plane2 and control-plane3 as learners " +
		"(`...-control-plane4 lists 4686fbf05d51365d  learner peer=https://172.22.0.5:2380 client= as a learner after every member was promoted`); the rollout halts there; " +
		"etcd refuses `downgrade validate 3.5` (the cluster version is still 3.5), every member restarts on 3.5.21, and control-plane4 still lists both as learners " +
		"(`...-control-plane4 lists ...-control-plane2 (4686fbf05d51365d) as a learner, but it was promoted`): the wrong view 3.6 wrote came back into 3.5.21. Same as the process provider.",
	"3.5.17-to-3.6.5-to-3.5.21-in-place+downgrade": kindRun1130b + "3.5.17-to-3.6.5-to-3.5.21-in-place+downgrade (262 s): " +
		"at 3.6.5 control-plane2 lists control-plane with `client=` empty; `cluster version 3.6, a downgrade to 3.5 is valid`, enabled and reported by every member; " +
		"each member restarts on 3.5.21 and every member then lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.17-to-3.6.5-to-3.5.35-in-place+downgrade": kindRun1130b + "3.5.17-to-3.6.5-to-3.5.35-in-place+downgrade (276 s; the run was stopped during this spec's teardown, after its verdict): " +
		"as the rollback to 3.5.21: `client=` empty at 3.6.5, the downgrade valid, enabled and reported, each member restarted on 3.5.35, and after it every member lists every other in full, audit consistent.",
	"3.5.21-to-3.6.16-to-3.7.3-in-place": kindRun1130b + "3.5.21-to-3.6.16-to-3.7.3-in-place (278 s): " +
		"three static pod restarts at 3.6.16, then three at 3.7.3 (15-16 s each, the manifests given the flag names 3.7 accepts); 2.3 s later every member reports `server 3.7.3, no downgrade enabled, storage version 3.7.0`; " +
		"every member lists every other in full, every key read back through each member, and the audit finds every member's data `no-v2store`. Same as the process provider.",
	"3.5.21-to-3.6.16-to-3.7.3-replace": kindRun1130b + "3.5.21-to-3.6.16-to-3.7.3-replace (629 s, on 2 cores shared with a CI run): " +
		"three kubeadm joins at 3.6.16 (59-86 s each under that load) and three removals, then three kubeadm joins at 3.7.3, each given the kubeadm patch that renames the two flags 3.7 no longer has " +
		"(`kubeadm patch /kind/patches/etcd+json.json renames the etcd flags 3.7.3 no longer has`; 40-48 s each, sent a snapshot by a 3.6.16 leader) and three removals; every member reports storage version 3.7.0, " +
		"every member agrees, every key read back, audit `no-v2store` for every member. Same as the process provider.",
	"3.5.21-to-3.6.16-to-3.5.21-replace+downgrade": kindRun1130b + "3.5.21-to-3.6.16-to-3.5.21-replace+downgrade (740 s, on 2 cores shared with a CI run's kind specs): " +
		"three kubeadm joins at 3.6.16 and three removals; every member reports storage version 3.6.0, `cluster version 3.6, a downgrade to 3.5 is valid`, `downgrade to 3.5 enabled, cluster version 3.6`, " +
		"every member reports `downgrade enabled to 3.5.0, storage version 3.5.0` 4.7 s later; each of the three 3.6.16 nodes' static pods goes back to 3.5.21 (25-34 s under that load); " +
		"every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.16-to-3.5.21-in-place+downgrade": kindRun1130b + "3.5.21-to-3.6.16-to-3.5.21-in-place+downgrade (262 s, artifacts /tmp/k15c): " +
		"three static pod restarts at 3.6.16 (13-16 s each), `cluster version 3.6, a downgrade to 3.5 is valid`, enabled and reported by every member, three restarts back on 3.5.21 (14 s each); " +
		"every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.5-1of3-to-3.5.21-in-place+downgrade": kindRun1130b + "3.5.21-to-3.6.5-1of3-to-3.5.21-in-place+downgrade (220 s, artifacts /tmp/k15c): " +
		"control-plane alone restarts at 3.6.5 (23 s); etcd refuses `downgrade validate 3.5` (`etcdserver: invalid downgrade target version: the cluster version is still 3.5`), " +
		"so only control-plane restarts back on 3.5.21 (14.5 s); every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.16-to-3.5.35-in-place+downgrade": kindRun1130c + "3.5.21-to-3.6.16-to-3.5.35-in-place+downgrade (327 s): " +
		"three static pod restarts at 3.6.16 (18-21 s each), every member lists every other in full and the audit is consistent at 3.6.16; " +
		"`cluster version 3.6, a downgrade to 3.5 is valid`, enabled, every member reports `downgrade enabled to 3.5.0, storage version 3.5.0` 1.2 s later; " +
		"three restarts back on 3.5.35 (17-23 s each); every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.16-to-3.5.35-replace+downgrade": kindRun1130c + "3.5.21-to-3.6.16-to-3.5.35-replace+downgrade (438 s): " +
		"three kubeadm joins at 3.6.16 sent a snapshot by the 3.5.21 leader (41-50 s each, kubeadm's `[etcd]` phase 8.5-13 s) and three removals; " +
		"every member reports `server 3.6.16, no downgrade enabled, storage version 3.6.0`, then `cluster version 3.6, a downgrade to 3.5 is valid`, " +
		"`downgrade to 3.5 enabled, cluster version 3.6`, every member `downgrade enabled to 3.5.0, storage version 3.5.0` 1.1 s later; " +
		"each 3.6.16 node's static pod goes back to 3.5.35 (13-18 s); every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.5-to-3.5.35-in-place+downgrade": kindRun1130c + "3.5.21-to-3.6.5-to-3.5.35-in-place+downgrade (266 s): " +
		"three static pod restarts at 3.6.5 (15-16 s each), every member lists every other in full; `cluster version 3.6, a downgrade to 3.5 is valid`, " +
		"`downgrade to 3.5 enabled, cluster version 3.6`, every member reports `downgrade enabled to 3.5.0, storage version 3.5.0` 1.1 s later; " +
		"three restarts back on 3.5.35 (13-15 s each); every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.5-to-3.5.21-replace+downgrade": kindRun1130c + "3.5.21-to-3.6.5-to-3.5.21-replace+downgrade (422 s): " +
		"three kubeadm joins at 3.6.5 sent a snapshot by the 3.5.21 leader (41-54 s each, kubeadm's `[etcd]` phase 8-16 s) and three removals; every member lists every other in full; " +
		"`cluster version 3.6, a downgrade to 3.5 is valid`, `downgrade to 3.5 enabled, cluster version 3.6`, every member reports the downgrade 1.2 s later; " +
		"each static pod goes back to 3.5.21 (16-17 s, of which 14 s the old etcd's exit); every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.5-to-3.5.35-replace+downgrade": kindRun1130c + "3.5.21-to-3.6.5-to-3.5.35-replace+downgrade (392 s): " +
		"three kubeadm joins at 3.6.5 sent a snapshot by the 3.5.21 leader (41-50 s each, kubeadm's `[etcd]` phase 9-14 s) and three removals; every member lists every other in full; " +
		"`cluster version 3.6, a downgrade to 3.5 is valid`, `downgrade to 3.5 enabled, cluster version 3.6`, every member reports the downgrade 2.3 s later; " +
		"each static pod goes back to 3.5.35 (14-16 s); every member lists every other in full, every key read back, audit consistent. Same as the process provider.",
	"3.5.21-to-3.6.5-1of3-to-3.5.21-replace+downgrade": kindRun1130c + "3.5.21-to-3.6.5-1of3-to-3.5.21-replace+downgrade (328 s): " +
		"the first 3.6.5 node, control-plane4, joins from the 3.5.21 leader's snapshot (58 s) and control-plane is removed; the rollout halts there and every member lists every other in full; " +
		"etcd refuses `downgrade validate 3.5` (`etcdserver: invalid downgrade target version: the cluster version is still 3.5`), so control-plane4 alone restarts on 3.5.21 (28 s); " +
		"every member lists every other in full, every key read back, audit consistent. Same as the process provider: from 3.5.21 the halted rollout leaves nothing wrong.",
}

// kindRun1130b starts the evidence of the kind runs made with
// -expect-from=process on 2026-11-30.
const kindRun1130b = "measured 2026-11-30 with -expect-from=process (kind provider, kind v0.30.0, kubeadm v1.33.13, 2 cores), artifacts /tmp/k15b/kind/"

// kindRun1130c starts the evidence of the later kind runs of that day, the
// machine otherwise idle.
const kindRun1130c = "measured 2026-11-30 with -expect-from=process (kind provider, kind v0.30.0, kubeadm v1.33.13, 2 cores otherwise idle), artifacts /tmp/s21/k6/kind/"

func init() {
	for name, evidence := range kindAsOnProcess {
		kindExpected[name] = asOnProcess(name, evidence)
	}
}

// asOnProcess is the kind expectation of a scenario whose kind run gave the
// verdict measured on the process provider and matched its signatures.
func asOnProcess(name, evidence string) Expectation {
	e, ok := processExpected[name]
	if !ok {
		panic("kind run of " + name + " recorded as the process verdict, which has none")
	}
	return Expectation{Expected: e.Expected, Evidence: evidence}
}
