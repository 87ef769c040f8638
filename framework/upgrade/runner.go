package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/check"
	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
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
}

// failure marks an upgrade that could not go on.
type failure struct {
	step string
	err  error
}

func (f *failure) Error() string { return f.step + ": " + f.err.Error() }

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
	// Faults remember whether they fired: each run gets its own copy.
	r.in.Faults = append([]Fault(nil), in.Faults...)
	err := r.run(ctx)
	r.res.KeysWritten = r.wl.Written()
	r.res.Seconds = seconds(time.Since(r.start))
	var f *failure
	switch {
	case errors.As(err, &f):
		r.res.Verdict = UpgradeFailed
		r.res.FailedStep = f.step
		r.res.Evidence = append(failureEvidence(f.err), r.res.Evidence...)
		r.res.Evidence = append(r.res.Evidence, r.memberLogEvidence(ctx, f.err)...)
		// What each member says now is recorded too.
		r.checkMembership(ctx, "after failure", false)
	case err != nil:
		r.res.Verdict = UpgradeFailed
		r.res.FailedStep = "harness"
		r.res.Evidence = append([]string{err.Error()}, r.res.Evidence...)
	case len(r.res.Evidence) > 0:
		r.res.Verdict = Inconsistent
	default:
		r.res.Verdict = Consistent
	}
	return *r.res
}

// memberLogEvidence quotes every member's own failure line, except the one
// the failing operation already quoted: the member that breaks is not always
// the one an operation was about.
func (r *runner) memberLogEvidence(ctx context.Context, err error) []string {
	skip := ""
	if me, ok := cluster.AsMemberError(err); ok && me.LogLine != "" {
		skip = me.Member
	}
	var out []string
	for _, m := range r.cl.Members() {
		if m.Name() == skip {
			continue
		}
		log, err := r.cl.Logs(ctx, m)
		if err != nil {
			continue
		}
		if line := cluster.EvidenceLine(log); line != "" {
			out = append(out, m.Name()+" log: "+line)
		}
	}
	// A member that died says more than one that refused a request because
	// of it: fatal and panic lines first.
	sort.SliceStable(out, func(i, j int) bool { return severity(out[i]) > severity(out[j]) })
	return out
}

func severity(line string) int {
	switch {
	case strings.Contains(line, `"level":"fatal"`), strings.Contains(line, `"level":"panic"`), strings.Contains(line, "log: panic:"):
		return 2
	case strings.Contains(line, `"level":"error"`):
		return 1
	}
	return 0
}

func failureEvidence(err error) []string {
	if me, ok := cluster.AsMemberError(err); ok {
		out := []string{fmt.Sprintf("%s %s: %v", me.Op, me.Member, me.Err)}
		if me.LogLine != "" {
			out = append(out, me.Member+" log: "+me.LogLine)
		}
		return out
	}
	return []string{err.Error()}
}

func (r *runner) run(ctx context.Context) error {
	p := r.in.Path
	if err := p.Validate(); err != nil {
		return err
	}
	stop := heartbeat(ctx, r.cl, r.in.HeartbeatInterval)
	defer stop()
	if err := r.build(ctx); err != nil {
		return err
	}
	if err := r.step(ctx, fmt.Sprintf("write %d keys so every member snapshots and the leader compacts its log", r.in.CatchUpWrites), func(ctx context.Context) error {
		return r.write(ctx, "catch-up", r.in.CatchUpWrites)
	}); err != nil {
		return &failure{"workload", err}
	}
	if err := r.inject(ctx, AtBeforeUpgrade, nil); err != nil {
		return err
	}
	r.judge(ctx, "before upgrade", false)
	for i, h := range p.Hops {
		hop := fmt.Sprintf("hop %d (%s → %s, %s)", i+1, r.currentVersion(), h.To, h.Strategy)
		var err error
		switch h.Strategy {
		case InPlace:
			err = r.inPlace(ctx, hop, h.To, "upgrade %s in place", r.cl.Upgrade)
		case KubeadmUpgrade:
			err = r.kubeadmUpgrade(ctx, hop, h.To)
		case Replace:
			err = r.replace(ctx, hop, h.To)
		}
		if err != nil {
			return err
		}
		r.judge(ctx, "after "+hop, i == len(p.Hops)-1)
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
				return &failure{"bootstrap", err}
			}
			return nil
		})
	}
	if err := r.step(ctx, fmt.Sprintf("init the first control-plane member at etcd %s", p.From), func(ctx context.Context) error {
		if _, err := r.cl.Init(ctx, p.From); err != nil {
			return &failure{"init", err}
		}
		return nil
	}); err != nil {
		return err
	}
	for i := 1; i < p.Size; i++ {
		if err := r.step(ctx, fmt.Sprintf("join control-plane member %d at etcd %s (learner, then promote)", i+1, p.From), func(ctx context.Context) error {
			m, err := r.cl.Join(ctx, p.From)
			if err != nil {
				return &failure{fmt.Sprintf("join member %d", i+1), err}
			}
			r.promoted[m.Name()] = true
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// inPlace upgrades members one at a time, in join order, as kubeadm upgrades
// the first control-plane node and then the others. what describes the
// upgrade of one member ("upgrade %s in place"), upgrade does it.
func (r *runner) inPlace(ctx context.Context, hop string, to etcdbin.Version, what string, upgrade func(context.Context, cluster.Member, etcdbin.Version) error) error {
	for _, m := range r.cl.Members() {
		from := m.Version()
		if err := r.inject(ctx, AtBeforeMemberUpgrade, m); err != nil {
			return err
		}
		name := fmt.Sprintf("%s: %s %s → %s", hop, fmt.Sprintf(what, m.Name()), from, to)
		if err := r.step(ctx, name, func(ctx context.Context) error {
			if err := upgrade(ctx, m, to); err != nil {
				return &failure{name, err}
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
		return &failure{hop, fmt.Errorf("provider %s runs no Kubernetes: strategy %s needs one that does (kind)", r.cl.Provider(), KubeadmUpgrade)}
	}
	target, err := ku.KubeadmUpgradeTarget()
	if err != nil {
		return &failure{hop, err}
	}
	first := ""
	if ms := r.cl.Members(); len(ms) > 0 {
		first = ms[0].Name()
	}
	return r.inPlace(ctx, hop, to, "kubeadm upgrade %s to Kubernetes "+target+", etcd", func(ctx context.Context, m cluster.Member, v etcdbin.Version) error {
		return ku.KubeadmUpgrade(ctx, m, m.Name() == first, v)
	})
}

// replace adds a member at the target version and removes the oldest old
// one, until none is left, as Cluster API's KubeadmControlPlane does. Before
// removing the leader, leadership moves to the newest member, as KCP does.
func (r *runner) replace(ctx context.Context, hop string, to etcdbin.Version) error {
	old := r.cl.Members()
	// Which member leads decides which data new members are sent (the
	// leader sends the raft snapshot), so it is pinned rather than left to
	// chance: the hop starts with leadership on the old member removed last,
	// and, as KCP does, leadership only moves when the leader itself is
	// removed, to the newest member. New members are then sent old data for
	// as long as an old member exists: the worst case a KCP rollout can meet,
	// and the same in every run.
	last := old[len(old)-1]
	if err := r.step(ctx, fmt.Sprintf("%s: make %s (etcd %s) the leader", hop, last.Name(), last.Version()), func(ctx context.Context) error {
		return r.ensureLeader(ctx, last)
	}); err != nil {
		return &failure{hop + ": move leadership to " + last.Name(), err}
	}
	for i, m := range old {
		var added cluster.Member
		if err := r.inject(ctx, AtBeforeJoin, nil); err != nil {
			return err
		}
		name := fmt.Sprintf("%s: join a new member at etcd %s (learner, then promote; snapshot from leader %s)", hop, to, r.leaderName(ctx))
		if err := r.step(ctx, name, func(ctx context.Context) error {
			n, err := r.cl.Join(ctx, to)
			if err != nil {
				return &failure{name, err}
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
				return &failure{name, err}
			}
			if err := r.cl.Remove(ctx, m); err != nil {
				return &failure{name, err}
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

// leaderName names the current leader and its version, for step names.
func (r *runner) leaderName(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, m := range r.cl.Members() {
		cli, err := r.cl.Client(ctx, m)
		if err != nil {
			continue
		}
		st, err := cli.Status(ctx, m.Endpoint())
		cli.Close()
		if err == nil && st.Leader == st.Header.MemberId {
			return fmt.Sprintf("%s at %s", m.Name(), m.Version())
		}
	}
	return "unknown"
}

// ensureLeader makes target the leader, through the current leader.
func (r *runner) ensureLeader(ctx context.Context, target cluster.Member) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tcli, err := r.cl.Client(ctx, target)
	if err != nil {
		return err
	}
	defer tcli.Close()
	var last error
	for ctx.Err() == nil {
		st, err := tcli.Status(ctx, target.Endpoint())
		if err == nil && st.Leader == st.Header.MemberId {
			return nil
		}
		if err == nil && st.Leader != 0 {
			err = r.moveLeaderTo(ctx, st.Leader, st.Header.MemberId)
		}
		if err != nil {
			last = err
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become leader: %v", target.Name(), last)
}

// moveLeaderTo asks the member with ID leader to hand leadership to target.
func (r *runner) moveLeaderTo(ctx context.Context, leader, target uint64) error {
	for _, m := range r.cl.Members() {
		cli, err := r.cl.Client(ctx, m)
		if err != nil {
			continue
		}
		st, err := cli.Status(ctx, m.Endpoint())
		if err == nil && st.Header.MemberId == leader {
			_, err = cli.MoveLeader(ctx, target)
			cli.Close()
			return err
		}
		cli.Close()
	}
	return fmt.Errorf("leader %x is not a current member", leader)
}

// moveLeaderOff hands leadership from m to target when m leads.
func (r *runner) moveLeaderOff(ctx context.Context, m, target cluster.Member) error {
	cli, err := r.cl.Client(ctx, m)
	if err != nil {
		return err
	}
	defer cli.Close()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := cli.Status(sctx, m.Endpoint())
	if err != nil {
		return fmt.Errorf("status of %s: %w", m.Name(), err)
	}
	if st.Leader != st.Header.MemberId {
		return nil
	}
	tcli, err := r.cl.Client(ctx, target)
	if err != nil {
		return err
	}
	defer tcli.Close()
	tst, err := tcli.Status(sctx, target.Endpoint())
	if err != nil {
		return fmt.Errorf("status of %s: %w", target.Name(), err)
	}
	fmt.Fprintf(r.in.Log, "moving leadership from %s to %s before removing it\n", m.Name(), target.Name())
	if _, err := cli.MoveLeader(sctx, tst.Header.MemberId); err != nil {
		return fmt.Errorf("moving leadership to %s: %w", target.Name(), err)
	}
	return nil
}

func (r *runner) writeStep(ctx context.Context, hop, after string) error {
	if r.in.StepWrites == 0 {
		return nil
	}
	if err := r.write(ctx, "after-"+after, r.in.StepWrites); err != nil {
		return &failure{hop + ": write after " + after, err}
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

// judge runs the live checks and the offline audits for one stage. Problems
// found after the first hop make the path inconsistent; before the upgrade
// they are recorded (a 3.5 cluster agreeing with itself is expected).
func (r *runner) judge(ctx context.Context, stage string, final bool) {
	r.checkMembership(ctx, stage, true)
	r.auditAll(ctx, stage, final)
}

func (r *runner) checkMembership(ctx context.Context, stage string, counts bool) {
	r.announce(fmt.Sprintf("check %s: every member's own member list, and every key written", stage))
	t := time.Now()
	views := check.MemberViews(ctx, r.cl)
	var current []string
	for _, m := range r.cl.Members() {
		current = append(current, m.Name())
	}
	rec := CheckRecord{Stage: stage, Views: views, Problems: check.CompareViews(views, r.promoted, current)}
	if cli, err := r.cl.ClusterClient(ctx); err == nil {
		lost, err := r.wl.Verify(ctx, cli)
		cli.Close()
		if err != nil {
			rec.Problems = append(rec.Problems, err.Error())
		}
		rec.LostKeys = lost
	}
	r.res.Checks = append(r.res.Checks, rec)
	if counts {
		for _, p := range rec.Problems {
			r.res.Evidence = append(r.res.Evidence, stage+": "+p)
		}
		if n := len(rec.LostKeys); n > 0 {
			r.res.Evidence = append(r.res.Evidence, fmt.Sprintf("%s: %d of %d keys lost or changed, first: %s", stage, n, r.wl.Written(), rec.LostKeys[0]))
		}
	}
	r.res.Steps = append(r.res.Steps, Step{Name: "check " + stage, Seconds: seconds(time.Since(t))})
}

// auditAll audits a copy of every member's data. Only the audit after the
// last hop can make the verdict: before that, a 3.5 cluster built with
// learner joins is expected to be at risk, which is the point of the suite.
func (r *runner) auditAll(ctx context.Context, stage string, final bool) {
	t := time.Now()
	for _, m := range r.cl.Members() {
		rec := r.auditMember(ctx, stage, m)
		r.res.Audits = append(r.res.Audits, rec)
		if final && rec.Error == "" && rec.Verdict != string(audit.VerdictConsistent) {
			for _, d := range rec.Diffs {
				r.res.Evidence = append(r.res.Evidence, fmt.Sprintf("%s: audit of %s: %s", stage, m.Name(), d))
			}
		}
	}
	r.res.Steps = append(r.res.Steps, Step{Name: "audit " + stage, Seconds: seconds(time.Since(t))})
}

func (r *runner) auditMember(ctx context.Context, stage string, m cluster.Member) AuditRecord {
	r.auditSeq++
	rec := AuditRecord{Stage: stage, Member: m.Name(), Version: m.Version().String()}
	base := filepath.Join(r.in.ArtifactsDir, "audits", fmt.Sprintf("%02d-%s-%s", r.auditSeq, slug(stage), m.Name()))
	copyDir := base + ".data"
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

func (r *runner) currentVersion() etcdbin.Version {
	ms := r.cl.Members()
	if len(ms) == 0 {
		return etcdbin.Version{}
	}
	return ms[0].Version()
}

func (r *runner) announce(text string) {
	if r.in.By != nil {
		r.in.By(text)
	}
	fmt.Fprintf(r.in.Log, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), text)
}

// step runs one timed operation and records it.
func (r *runner) step(ctx context.Context, name string, f func(ctx context.Context) error) error {
	r.announce(name)
	t := time.Now()
	err := f(ctx)
	s := Step{Name: name, Seconds: seconds(time.Since(t))}
	if err != nil {
		s.Error = err.Error()
	}
	r.res.Steps = append(r.res.Steps, s)
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
