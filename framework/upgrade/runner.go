package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/check"
	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/internal/par"
	"etcd-upgrade-e2e/framework/workload"
)

// Input is what one run needs.
type Input struct {
	Cluster cluster.Cluster
	Path    Path
	// ArtifactsDir receives audit reports and data dir copies.
	ArtifactsDir string
	// CatchUpWrites are written right after the cluster is built. They make
	// every member snapshot (so promotions are no longer replayed from the
	// WAL) and the leader compact its log (so a new member is sent a raft
	// snapshot, not log entries): etcd 3.5 keeps 5000 entries behind a
	// snapshot, so this must exceed 5000 plus the snapshot count.
	CatchUpWrites int
	// StepWrites are written after every member operation.
	StepWrites int
	// Faults are injected at their points of the run.
	Faults []Fault
	// By announces a step (ginkgo's By); may be nil.
	By func(text string)
	// Log receives progress lines; may be nil.
	Log io.Writer
	// HeartbeatInterval is how often a lease-like key is renewed in the
	// background while the path runs (see heartbeat.go); 0 means 500ms.
	HeartbeatInterval time.Duration
	// KeepAuditCopies keeps the data dir copies the audits read.
	KeepAuditCopies bool
}

// runner carries one run's state.
type runner struct {
	in       Input
	cl       cluster.Cluster
	res      *Result
	wl       *workload.Workload
	promoted map[string]bool
	start    time.Time
	auditSeq int
	hop      int // the hop under way, 1-based; 0 while the cluster is set up
	faults   faultRunner
}

// failure marks a run that could not go on: the step it stopped at, and
// the hop that step belongs to.
type failure struct {
	step string
	hop  int
	err  error
	// harness says why the error is the harness's own, when that is known
	// where it happens (a fault that could not be injected, an audit that
	// could not read its copy).
	harness string
}

func (f *failure) Error() string { return f.step + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// fail records that the step failed during the hop under way.
func (r *runner) fail(step string, err error) *failure {
	return &failure{step: step, hop: r.hop, err: err}
}

// Run builds the starting cluster, runs every hop and judges the result.
// The caller owns the cluster and closes it.
func Run(ctx context.Context, in Input) Result {
	r := &runner{in: in, cl: in.Cluster, res: &Result{}, wl: workload.New("/upgrade-e2e"), promoted: map[string]bool{}, start: time.Now()}
	if in.Log == nil {
		r.in.Log = io.Discard
	}
	if r.in.HeartbeatInterval <= 0 {
		r.in.HeartbeatInterval = 500 * time.Millisecond
	}
	r.faults.init(r, in.Faults)
	err := r.run(ctx)
	if err == nil {
		err = r.faults.unfired()
	}
	r.res.Faults = r.faults.records()
	r.res.KeysWritten = r.wl.Written()
	r.res.Seconds = seconds(time.Since(r.start))
	if err != nil {
		r.res.Verdict, r.res.Failure = r.classify(ctx, err)
		r.res.FailedStep = r.res.Failure.Step
		// What each member says now is recorded too.
		if r.res.Failure.Hop > 0 {
			r.checkMembership(ctx, "after failure", false, false)
		}
	} else if len(r.res.Findings) > 0 {
		r.res.Verdict = Inconsistent
	} else {
		r.res.Verdict = Consistent
	}
	r.res.Evidence = evidenceOf(r.res)
	return *r.res
}

// classify says whose answer the error that stopped the run is. Only the
// cluster's own answer during a hop makes an upgrade-failed: a member's
// error line, an etcd server error, or a member that died. Everything else
// (a failure while the starting cluster is built, a deadline or tool of the
// harness with no member saying why, an interrupted spec) is a harness
// error, which no expectation accepts.
func (r *runner) classify(ctx context.Context, err error) (Verdict, *Failure) {
	f := &failure{step: "harness", hop: r.hop, err: err}
	errors.As(err, &f)
	out := &Failure{Step: f.step, Hop: f.hop, Error: f.err.Error()}
	own := false
	skip := ""
	if me, ok := cluster.AsMemberError(err); ok {
		out.Member, out.Op = me.Member, me.Op
		if me.LogLine != "" {
			l := Line{Source: me.Source(), Text: me.LogLine}
			out.Lines = append(out.Lines, l)
			own = fromCluster(l)
			if me.LogSource == "" {
				skip = me.Member
			}
		}
	}
	// A line the failing operation already quoted (etcd's answer relayed
	// as "etcd API", another member's log line) is not quoted again.
	quote := func(l Line) {
		if !slices.Contains(out.Lines, l) {
			out.Lines = append(out.Lines, l)
		}
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		quote(Line{Source: "etcd API", Text: ee.Error()})
		own = true
	}
	died := false
	for _, l := range r.memberLogLines(context.WithoutCancel(ctx), skip) {
		quote(l)
		died = died || severity(l.Text) == 2
	}
	machine := ""
	for _, l := range out.Lines {
		if m := machineFault(l.Text); m != "" && machine == "" {
			machine = fmt.Sprintf("%s shows a fault of the machine, not of etcd (%s)", l.Source, m)
		}
	}
	switch {
	case f.harness != "":
		out.Cause = f.harness
	case machine != "":
		out.Cause = machine
	case ctx.Err() != nil:
		out.Cause = "the spec was interrupted or ran out of its time: " + context.Cause(ctx).Error()
	case f.hop == 0:
		out.Cause = fmt.Sprintf("the starting cluster at etcd %s could not be set up, so no upgrade was measured", r.in.Path.From)
	case !own && !died:
		out.Cause = "no member and no etcd answer says why: the error is the harness's own (a deadline, Docker, kubeadm before etcd, ports)"
	default:
		return UpgradeFailed, out
	}
	return HarnessError, out
}

// machineFaults are what a member says when the machine or the harness
// failed it, not etcd: a port another process took, a full disk, too few
// file descriptors, a data dir it may not write.
var machineFaults = []string{"address already in use", "no space left on device", "too many open files", "permission denied"}

// machineFault names the machine fault a member's line shows, or "".
func machineFault(line string) string {
	lower := strings.ToLower(line)
	for _, m := range machineFaults {
		if strings.Contains(lower, m) {
			return m
		}
	}
	return ""
}

// fromCluster says whether a line is the cluster's own answer: a member's
// log line, an etcd server error, or a tool quoting one.
func fromCluster(l Line) bool {
	return strings.HasSuffix(l.Source, " log") || strings.HasPrefix(l.Source, "etcd API") || strings.Contains(l.Text, "etcdserver: ")
}

// evidenceOf renders what the verdict rests on, for people.
func evidenceOf(res *Result) []string {
	var out []string
	if f := res.Failure; f != nil {
		if f.Cause != "" {
			out = append(out, "harness error: "+f.Cause)
		}
		out = append(out, f.Step+": "+f.Error)
		for _, l := range f.Lines {
			out = append(out, l.String())
		}
	}
	for _, fd := range res.Findings {
		out = append(out, fmt.Sprintf("%s: %s check: %s", fd.Stage, fd.Check, fd.Text))
	}
	return out
}

// memberLogLines quotes every member's own failure line, except skip's,
// which the failing operation already quoted: the member that breaks is not
// always the one an operation was about. A member that died says more than
// one that refused a request because of it: fatal and panic lines first.
func (r *runner) memberLogLines(ctx context.Context, skip string) []Line {
	var out []Line
	for _, m := range r.cl.Members() {
		if m.Name() == skip {
			continue
		}
		log, err := r.cl.Logs(ctx, m)
		if err != nil {
			continue
		}
		if line := cluster.EvidenceLine(log); line != "" {
			out = append(out, Line{Source: m.Name() + " log", Text: line})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return severity(out[i].Text) > severity(out[j].Text) })
	return out
}

func severity(line string) int {
	switch {
	case strings.Contains(line, `"level":"fatal"`), strings.Contains(line, `"level":"panic"`), strings.HasPrefix(line, "panic:"):
		return 2
	case strings.Contains(line, `"level":"error"`):
		return 1
	}
	return 0
}

func (r *runner) run(ctx context.Context) error {
	p := r.in.Path
	if err := p.Validate(); err != nil {
		return r.fail("path", err)
	}
	stop := heartbeat(ctx, r.cl, r.in.HeartbeatInterval)
	defer stop()
	// Fault work started in the background ends before the run does.
	defer r.faults.wait(ctx)
	if err := r.build(ctx); err != nil {
		return err
	}
	if err := r.step(ctx, fmt.Sprintf("write %d keys so every member snapshots and the leader compacts its log", r.in.CatchUpWrites), func(ctx context.Context) error {
		return r.write(ctx, "catch-up", r.in.CatchUpWrites)
	}); err != nil {
		return r.fail("catch-up writes", err)
	}
	if err := r.inject(ctx, AtBeforeUpgrade, nil); err != nil {
		return err
	}
	if err := r.judge(ctx, "before upgrade", false); err != nil {
		return err
	}
	prev := p.From
	for i, h := range p.Hops {
		r.hop = i + 1
		hop := fmt.Sprintf("hop %d (%s → %s, %s)", i+1, prev, h.To, h.Strategy)
		if h.Members > 0 {
			hop = fmt.Sprintf("hop %d (%s → %s, %s, halted after %d of %d members)", i+1, prev, h.To, h.Strategy, h.Members, p.Size)
		}
		prev = h.To
		var err error
		switch h.Strategy {
		case InPlace:
			err = r.inPlace(ctx, hop, h.To, "upgrade %s in place", limit(r.cl.Members(), h.Members), r.cl.Upgrade)
		case KubeadmUpgrade:
			err = r.kubeadmUpgrade(ctx, hop, h.To)
		case Replace:
			err = r.replace(ctx, hop, h.To, h.Members)
		case Downgrade:
			err = r.downgrade(ctx, hop, h.To)
		}
		if err == nil && h.Strategy != Downgrade && h.Members == 0 && h.To.Minor >= 7 {
			// A cluster runs 3.7 once its storage version is 3.7: from then on
			// it keeps no v2store, which the checks after the hop measure.
			name := fmt.Sprintf("%s: wait until every member reports storage version %s", hop, h.To.MinorString())
			err = r.stepNote(ctx, name, func(ctx context.Context) (string, error) {
				note, err := r.waitStorageVersion(ctx, h.To)
				if err != nil {
					return "", r.fail(name, err)
				}
				return note, nil
			})
		}
		if err != nil {
			return err
		}
		// A fault still at work would disturb the checks: the hop ends when
		// it does, and a fault that failed stops the run here.
		if err := r.faults.wait(ctx); err != nil {
			return err
		}
		if err := r.judge(ctx, "after "+hop, i == len(p.Hops)-1); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) build(ctx context.Context) error {
	p := r.in.Path
	if p.Bootstrap == Static {
		sb, ok := r.cl.(cluster.StaticBootstrapper)
		if !ok {
			return fmt.Errorf("provider %s cannot bootstrap a static cluster", r.cl.Provider())
		}
		return r.step(ctx, fmt.Sprintf("bootstrap %d members at etcd %s from a static initial cluster (no learners)", p.Size, p.From), func(ctx context.Context) error {
			_, err := sb.Bootstrap(ctx, p.From, p.Size)
			if err != nil {
				return r.fail("bootstrap", err)
			}
			return nil
		})
	}
	join, how := r.cl.Join, "learner, then promote"
	if p.Bootstrap == LearnerJoinsMemberUpdate {
		lu, ok := r.cl.(cluster.LearnerUpdater)
		if !ok {
			return r.fail("bootstrap", fmt.Errorf("provider %s cannot send a member update inside a join: bootstrap %s needs one that can (process)", r.cl.Provider(), p.Bootstrap))
		}
		join, how = lu.JoinUpdatingLearner, "learner, member update with its own peer URL, then promote"
	}
	if err := r.step(ctx, fmt.Sprintf("init the first control-plane member at etcd %s", p.From), func(ctx context.Context) error {
		if _, err := r.cl.Init(ctx, p.From); err != nil {
			return r.fail("init", err)
		}
		return nil
	}); err != nil {
		return err
	}
	for i := 1; i < p.Size; i++ {
		if err := r.step(ctx, fmt.Sprintf("join control-plane member %d at etcd %s (%s)", i+1, p.From, how), func(ctx context.Context) error {
			m, err := join(ctx, p.From)
			if err != nil {
				return r.fail(fmt.Sprintf("join member %d", i+1), err)
			}
			r.promoted[m.Name()] = true
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// limit returns the first n members, or all of them when n is 0: a hop
// halted midway moves n.
func limit(ms []cluster.Member, n int) []cluster.Member {
	if n > 0 && n < len(ms) {
		return ms[:n]
	}
	return ms
}

// inPlace upgrades members one at a time, in join order, as kubeadm upgrades
// the first control-plane node and then the others. what describes the
// upgrade of one member ("upgrade %s in place"), upgrade does it.
func (r *runner) inPlace(ctx context.Context, hop string, to etcdbin.Version, what string, members []cluster.Member, upgrade func(context.Context, cluster.Member, etcdbin.Version) error) error {
	for _, m := range members {
		from := m.Version()
		if err := r.inject(ctx, AtBeforeMemberUpgrade, m); err != nil {
			return err
		}
		name := fmt.Sprintf("%s: %s %s → %s", hop, fmt.Sprintf(what, m.Name()), from, to)
		if err := r.step(ctx, name, func(ctx context.Context) error {
			if err := upgrade(ctx, m, to); err != nil {
				return r.fail(name, err)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := r.inject(ctx, AtAfterMemberUpgrade, m); err != nil {
			return err
		}
		if err := r.writeStep(ctx, hop, m.Name()); err != nil {
			return err
		}
	}
	return nil
}

// kubeadmUpgrade moves the control plane to the next Kubernetes release
// with kubeadm, node by node, as an operator does: `kubeadm upgrade apply`
// on the first control plane, `kubeadm upgrade node` on each other one.
func (r *runner) kubeadmUpgrade(ctx context.Context, hop string, to etcdbin.Version) error {
	ku, ok := r.cl.(cluster.KubeadmUpgrader)
	if !ok {
		return r.fail(hop, fmt.Errorf("provider %s runs no Kubernetes: strategy %s needs one that does (kind)", r.cl.Provider(), KubeadmUpgrade))
	}
	target, err := ku.KubeadmUpgradeTarget()
	if err != nil {
		return r.fail(hop, err)
	}
	first := ""
	if ms := r.cl.Members(); len(ms) > 0 {
		first = ms[0].Name()
	}
	return r.inPlace(ctx, hop, to, "kubeadm upgrade %s to Kubernetes "+target+", etcd", r.cl.Members(), func(ctx context.Context, m cluster.Member, v etcdbin.Version) error {
		return ku.KubeadmUpgrade(ctx, m, m.Name() == first, v)
	})
}

// replace adds a member at the target version and removes the oldest old
// one, until none is left, as Cluster API's KubeadmControlPlane does. Before
// removing the leader, leadership moves to the newest member, as KCP does.
// With halt > 0 the rollout stops after that many old members are replaced.
func (r *runner) replace(ctx context.Context, hop string, to etcdbin.Version, halt int) error {
	old := r.cl.Members()
	if p, ok := r.cl.(cluster.JoinPreparer); ok {
		p.PrepareJoins(ctx, len(limit(old, halt)))
	}
	// Which member leads decides which data new members are sent (the
	// leader sends the raft snapshot), so it is pinned rather than left to
	// chance: the hop starts with leadership on the old member removed last,
	// and, as KCP does, leadership only moves when the leader itself is
	// removed, to the newest member. New members are then sent old data for
	// as long as an old member exists: the worst case a KCP rollout can meet,
	// and the same in every run.
	last := old[len(old)-1]
	if err := r.step(ctx, fmt.Sprintf("%s: make %s (etcd %s) the leader", hop, last.Name(), last.Version()), func(ctx context.Context) error {
		return etcdops.EnsureLeader(ctx, r.cl, last)
	}); err != nil {
		return r.fail(hop+": move leadership to "+last.Name(), err)
	}
	for i, m := range limit(old, halt) {
		var added cluster.Member
		if err := r.inject(ctx, AtBeforeJoin, nil); err != nil {
			return err
		}
		name := fmt.Sprintf("%s: join a new member at etcd %s (learner, then promote; snapshot from leader %s)", hop, to, etcdops.LeaderName(ctx, r.cl))
		if err := r.step(ctx, name, func(ctx context.Context) error {
			n, err := r.cl.Join(ctx, to)
			if err != nil {
				return r.fail(name, err)
			}
			added = n
			r.promoted[n.Name()] = true
			return nil
		}); err != nil {
			return err
		}
		if err := r.inject(ctx, AtAfterJoin, added); err != nil {
			return err
		}
		if err := r.writeStep(ctx, hop, added.Name()); err != nil {
			return err
		}
		name = fmt.Sprintf("%s: remove old member %s (%d of %d)", hop, m.Name(), i+1, len(old))
		if err := r.step(ctx, name, func(ctx context.Context) error {
			if err := r.moveLeaderOff(ctx, m, added); err != nil {
				return r.fail(name, err)
			}
			if err := r.cl.Remove(ctx, m); err != nil {
				return r.fail(name, err)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := r.writeStep(ctx, hop, "removed-"+m.Name()); err != nil {
			return err
		}
	}
	return nil
}

// moveLeaderOff hands leadership from m to target when m leads.
func (r *runner) moveLeaderOff(ctx context.Context, m, target cluster.Member) error {
	leads, err := etcdops.Leads(ctx, r.cl, m)
	if err != nil || !leads {
		return err
	}
	fmt.Fprintf(r.in.Log, "moving leadership from %s to %s before removing it\n", m.Name(), target.Name())
	return etcdops.MoveLeader(ctx, r.cl, m, target)
}

func (r *runner) writeStep(ctx context.Context, hop, after string) error {
	if r.in.StepWrites == 0 {
		return nil
	}
	if err := r.write(ctx, "after-"+after, r.in.StepWrites); err != nil {
		return r.fail(hop+": write after "+after, err)
	}
	return nil
}

func (r *runner) write(ctx context.Context, phase string, n int) error {
	cli, err := r.cl.ClusterClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return r.wl.Write(ctx, cli, phase, n)
}

// judge runs the live checks and the offline audits for one stage. What
// the live checks find counts at every stage: a 3.5 cluster must agree with
// itself before the upgrade too. Only the audit after the last hop can make
// the verdict: before that, a 3.5 cluster built with learner joins is
// expected to be at risk, which is the point of the suite. An audit after
// the last hop that cannot be made is a harness error.
func (r *runner) judge(ctx context.Context, stage string, final bool) error {
	r.checkMembership(ctx, stage, true, true)
	return r.auditAll(ctx, stage, final)
}

// checkMembership asks every member for its own member list and reads every
// key written back through each member. settled says every membership
// change has completed (no learner may be left); counts makes what it finds
// part of the verdict.
func (r *runner) checkMembership(ctx context.Context, stage string, settled, counts bool) {
	r.announce(fmt.Sprintf("check %s: every member's own member list, against the others' and its raft's, and every key written, read through each member", stage))
	t := time.Now()
	views := check.MemberViews(ctx, r.cl)
	var current []string
	for _, m := range r.cl.Members() {
		current = append(current, m.Name())
	}
	rec := CheckRecord{Stage: stage, Views: views, Problems: check.CompareViews(views, check.Want{Current: current, Promoted: r.promoted, Settled: settled})}
	rec.Raft = check.RaftConfigs(ctx, r.cl)
	raftProblems := check.CompareRaft(views, rec.Raft)
	if len(raftProblems) > 0 {
		// A member may apply a configuration change between the reads of
		// its list and of its log: a real contradiction is still there when
		// both are read again.
		rec.Raft = check.RaftConfigs(ctx, r.cl)
		raftProblems = check.CompareRaft(check.MemberViews(ctx, r.cl), rec.Raft)
	}
	// Every member's keys are read at once, as its member list was.
	members := r.cl.Members()
	type readBack struct {
		lost []string
		err  error
	}
	reads := par.Map(members, func(_ int, m cluster.Member) readBack {
		lost, err := r.verifyKeys(ctx, m)
		return readBack{lost, err}
	})
	var keyProblems []string
	for i, m := range members {
		lost, err := reads[i].lost, reads[i].err
		switch {
		case err != nil:
			keyProblems = append(keyProblems, fmt.Sprintf("%s: %v", m.Name(), err))
		case len(lost) > 0:
			keyProblems = append(keyProblems, fmt.Sprintf("%s: %d of %d keys lost or changed, first: %s", m.Name(), len(lost), r.wl.Written(), lost[0]))
			if rec.LostKeys == nil {
				rec.LostKeys = lost
			}
		}
	}
	membershipProblems := rec.Problems
	rec.Problems = append(append(rec.Problems, raftProblems...), keyProblems...)
	r.res.Checks = append(r.res.Checks, rec)
	if counts {
		for _, f := range []struct {
			check    string
			problems []string
		}{{CheckMembership, membershipProblems}, {CheckRaft, raftProblems}, {CheckKeys, keyProblems}} {
			for _, p := range f.problems {
				r.res.Findings = append(r.res.Findings, Finding{Check: f.check, Stage: stage, Text: p})
			}
		}
	}
	r.res.Steps = append(r.res.Steps, Step{Name: "check " + stage, Seconds: seconds(time.Since(t))})
}

// verifyKeys reads every key written back through m alone: a linearizable
// read that m answers from its own store once it has applied everything
// committed, so it shows m holds the data.
// A member the provider knows has died is not read: it could only time out.
func (r *runner) verifyKeys(ctx context.Context, m cluster.Member) ([]string, error) {
	if err := cluster.NotRunning(r.cl, m); err != nil {
		return nil, err
	}
	cli, err := r.cl.Client(ctx, m)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	return r.wl.Verify(ctx, cli)
}

// auditAll audits a copy of every member's data.
func (r *runner) auditAll(ctx context.Context, stage string, final bool) error {
	t := time.Now()
	defer func() {
		r.res.Steps = append(r.res.Steps, Step{Name: "audit " + stage, Seconds: seconds(time.Since(t))})
	}()
	// The members' copies are taken and audited at once: each waits mostly
	// on its member's snapshot stream and its own disk reads. Measured on
	// processes under ginkgo -p: 2.5 s a stage one after another, 1.8 s at
	// once; on kind no gain (11-14 s against 12.3 s: docker exec and CPU).
	members := r.cl.Members()
	first := r.auditSeq + 1
	r.auditSeq += len(members)
	recs := par.Map(members, func(i int, m cluster.Member) AuditRecord {
		base := filepath.Join(r.in.ArtifactsDir, "audits", fmt.Sprintf("%02d-%s-%s", first+i, slug(stage), m.Name()))
		return r.auditMember(ctx, stage, m, base)
	})
	for i, m := range members {
		rec := recs[i]
		r.res.Audits = append(r.res.Audits, rec)
		if !final {
			continue
		}
		if rec.Error != "" {
			return &failure{step: "audit " + stage, hop: r.hop, err: fmt.Errorf("audit of %s: %s", m.Name(), rec.Error),
				harness: "the audit after the last hop could not read a copy of " + m.Name() + "'s data, so the stores were not compared"}
		}
		if !audit.Verdict(rec.Verdict).Sound() {
			for _, d := range rec.Diffs {
				r.res.Findings = append(r.res.Findings, Finding{Check: CheckAudit, Stage: stage, Text: m.Name() + ": " + d})
			}
		}
	}
	return nil
}

// auditAttempts is how often a member's data is copied and audited before
// the audit counts as failed: a copy taken while etcd writes a snapshot
// file can be torn, and the next one is not.
const auditAttempts = 3

func (r *runner) auditMember(ctx context.Context, stage string, m cluster.Member, base string) AuditRecord {
	var rec AuditRecord
	for attempt := 1; attempt <= auditAttempts; attempt++ {
		rec = r.auditCopy(ctx, stage, m, base)
		if rec.Error == "" || ctx.Err() != nil {
			break
		}
		fmt.Fprintf(r.in.Log, "audit of %s (attempt %d of %d): %s\n", m.Name(), attempt, auditAttempts, rec.Error)
	}
	return rec
}

func (r *runner) auditCopy(ctx context.Context, stage string, m cluster.Member, base string) AuditRecord {
	rec := AuditRecord{Stage: stage, Member: m.Name(), Version: m.Version().String()}
	copyDir := base + ".data"
	_ = os.RemoveAll(copyDir)
	defer func() {
		if !r.in.KeepAuditCopies {
			_ = os.RemoveAll(copyDir)
		}
	}()
	if err := r.cl.CopyDataDir(ctx, m, copyDir); err != nil {
		rec.Error = err.Error()
		return rec
	}
	rep, err := audit.Audit(copyDir)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.Verdict = string(rep.Verdict)
	for _, d := range rep.Diffs {
		if d.Kind.AffectsVerdict() {
			rec.Diffs = append(rec.Diffs, d.String())
		}
	}
	rec.Report = base + ".json"
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		_ = os.WriteFile(rec.Report, b, 0o644)
	}
	return rec
}

func (r *runner) announce(text string) {
	if r.in.By != nil {
		r.in.By(text)
	}
	fmt.Fprintf(r.in.Log, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), text)
}

// step runs one timed operation and records it.
func (r *runner) step(ctx context.Context, name string, f func(ctx context.Context) error) error {
	return r.stepNote(ctx, name, func(ctx context.Context) (string, error) { return "", f(ctx) })
}

// stepNote is step for an operation whose answer is worth recording even
// when it succeeds (what etcd said to a downgrade request).
func (r *runner) stepNote(ctx context.Context, name string, f func(ctx context.Context) (string, error)) error {
	r.announce(name)
	t := time.Now()
	note, err := f(ctx)
	s := Step{Name: name, Seconds: seconds(time.Since(t)), Note: note}
	if err != nil {
		s.Error = err.Error()
	}
	s.Substeps = r.substeps(t)
	r.res.Steps = append(r.res.Steps, s)
	if note != "" {
		fmt.Fprintf(r.in.Log, "          %s\n", note)
	}
	fmt.Fprintf(r.in.Log, "          done in %.1fs%s\n", s.Seconds, errSuffix(err))
	return err
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.':
			b.WriteRune(c)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
