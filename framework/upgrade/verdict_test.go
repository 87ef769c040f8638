package upgrade_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/cluster/fakecluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

// These tests drive upgrade.Run on the in-memory provider to every outcome
// on purpose, and check that the verdict says what happened: the cluster's
// own answer makes an upgrade-failed, the harness's own trouble a
// harness-error that no expectation accepts, and each check its own
// findings.

var (
	v3521 = etcdbin.MustParseVersion("3.5.21")
	v364  = etcdbin.MustParseVersion("3.6.4")
	v365  = etcdbin.MustParseVersion("3.6.5")
)

var (
	inPlacePath = upgrade.Path{From: v3521, Hops: []upgrade.Hop{{To: v365, Strategy: upgrade.InPlace}}, Size: 3, Bootstrap: upgrade.LearnerJoins}
	replacePath = upgrade.Path{From: v3521, Hops: []upgrade.Hop{{To: v365, Strategy: upgrade.Replace}}, Size: 3, Bootstrap: upgrade.LearnerJoins}
	staticPath  = upgrade.Path{From: v3521, Hops: []upgrade.Hop{{To: v365, Strategy: upgrade.InPlace}}, Size: 3, Bootstrap: upgrade.Static}
	twoHopPath  = upgrade.Path{From: v3521, Hops: []upgrade.Hop{{To: v364, Strategy: upgrade.InPlace}, {To: v365, Strategy: upgrade.InPlace}}, Size: 3, Bootstrap: upgrade.LearnerJoins}
)

// Step names as the runner announces them.
const (
	inPlaceHop = "hop 1 (3.5.21 → 3.6.5, in-place)"
	replaceHop = "hop 1 (3.5.21 → 3.6.5, replace)"
)

// Lines as etcd writes them.
const (
	fatalLine     = `{"level":"fatal","ts":"2026-01-01T00:00:00Z","caller":"etcdmain/etcd.go:204","msg":"discovery failed","error":"membership: too many learner members in cluster"}`
	panicLine     = `{"level":"panic","ts":"2026-01-01T00:00:00Z","caller":"membership/cluster.go:870","msg":"failed to update; member unknown","member-id":"8e9e05c52164694d"}`
	errorLine     = `{"level":"error","ts":"2026-01-01T00:00:00Z","caller":"etcdserver/server.go:1660","msg":"failed to publish local member to cluster through raft","error":"etcdserver: request timed out"}`
	downgradeLine = `{"level":"fatal","ts":"2026-01-01T00:00:00Z","caller":"etcdmain/etcd.go:204","msg":"discovery failed","error":"invalid downgrade; server version is lower than determined cluster version"}`
	refusalLine   = `{"level":"error","ts":"2026-01-01T00:00:00Z","caller":"etcdserver/server.go:2070","msg":"failed to apply conf change","error":"membership: too many learner members in cluster"}`
)

// env is one run's fake cluster and input, for a case to script.
type env struct {
	fc  *fakecluster.Cluster
	in  *upgrade.Input
	log *syncBuffer
	// cancel ends the context the run was given.
	cancel context.CancelCauseFunc
}

func (e *env) member(name string) *fakecluster.Member {
	m := e.fc.Member(name)
	if m == nil {
		panic("no fake member " + name)
	}
	return m
}

// syncBuffer is the run's progress log.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runFake runs path p on a fresh fake cluster that setup scripted first.
func runFake(t *testing.T, p upgrade.Path, setup func(e *env)) (upgrade.Result, *env) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	fc := fakecluster.New()
	t.Cleanup(func() { _ = fc.Close(context.Background()) })
	e := &env{fc: fc, log: &syncBuffer{}, cancel: cancel}
	e.in = &upgrade.Input{
		Cluster:           fc,
		Path:              p,
		ArtifactsDir:      t.TempDir(),
		CatchUpWrites:     20,
		StepWrites:        5,
		HeartbeatInterval: 5 * time.Millisecond,
		Log:               e.log,
	}
	if setup != nil {
		setup(e)
	}
	res := upgrade.Run(ctx, *e.in)
	if n := fc.OpenClients(); n != 0 {
		t.Errorf("the run left %d clients open", n)
	}
	return res, e
}

func describe(res upgrade.Result) string {
	return res.Signature() + "\nevidence:\n  " + strings.Join(res.Evidence, "\n  ")
}

// anyExpectation lists expectations whose patterns match anything: a run
// must still not match them unless its verdict is theirs.
func anyExpectation() []upgrade.Expected {
	out := []upgrade.Expected{
		{Verdict: upgrade.Consistent},
		{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: ".*", Source: ".*", Line: ".*"}}},
	}
	for _, c := range upgrade.Checks {
		out = append(out, upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: c, Line: ".*"}}})
	}
	return out
}

// checkFailureEvidence checks what every failed run must show: the failed
// step once, each line with its source, no line twice.
func checkFailureEvidence(t *testing.T, res upgrade.Result) {
	t.Helper()
	f := res.Failure
	if f == nil {
		t.Fatalf("no failure recorded:\n%s", describe(res))
	}
	if res.FailedStep != f.Step || f.Step == "" {
		t.Errorf("failed step %q, failure step %q", res.FailedStep, f.Step)
	}
	if f.Error == "" {
		t.Errorf("failure without an error:\n%s", describe(res))
	}
	n := 0
	for _, e := range res.Evidence {
		n += strings.Count(e, f.Step+": ")
	}
	if n != 1 {
		t.Errorf("the step %q is named %d times in the evidence, want once:\n%s", f.Step, n, describe(res))
	}
	seen := map[upgrade.Line]bool{}
	for _, l := range f.Lines {
		if l.Source == "" || l.Text == "" {
			t.Errorf("line without source or text: %+v", l)
		}
		if seen[l] {
			t.Errorf("line quoted twice: %s\n%s", l, describe(res))
		}
		seen[l] = true
	}
}

// A path whose every step works and whose checks find nothing is
// consistent, whatever the strategy or bootstrap, and so is one where a
// copy is at risk only before the last hop: only the last audit judges.
func TestVerdictConsistent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		path  upgrade.Path
		setup func(e *env)
		// faults is how many fault records must show a fired fault.
		faults int
		// atRisk is how many audits must have found a copy at risk.
		atRisk int
	}{
		{name: "in-place", path: inPlacePath},
		{name: "replace", path: replacePath},
		{name: "static bootstrap", path: staticPath},
		{name: "two hops", path: twoHopPath},
		{
			name: "at risk before the last hop only",
			path: twoHopPath,
			setup: func(e *env) {
				e.fc.After(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp2"), func(_ context.Context, m *fakecluster.Member) error {
					e.fc.SetAtRisk(m, true)
					return nil
				})
				// The first upgrade of the second hop repairs it.
				e.fc.After(fakecluster.OpUpgrade, fakecluster.OnCall(4), func(context.Context, *fakecluster.Member) error {
					e.fc.SetAtRisk(e.member("etcd-cp2"), false)
					return nil
				})
			},
			atRisk: 2, // before the upgrade and after hop 1
		},
		{
			name: "a fault that fires",
			path: inPlacePath,
			setup: func(e *env) {
				e.in.Faults = []upgrade.Fault{
					{Name: "restart", At: upgrade.AtAfterMemberUpgrade, Once: true, Inject: func(ctx context.Context, fc *upgrade.FaultContext) error {
						if err := fc.Cluster.Stop(ctx, fc.Member); err != nil {
							return err
						}
						fc.Fired(fc.Member)
						return fc.Cluster.Start(ctx, fc.Member)
					}},
					{Name: "background", At: upgrade.AtBeforeUpgrade, Inject: func(ctx context.Context, fc *upgrade.FaultContext) error {
						fc.Go(func(context.Context) error {
							fc.Fired(nil)
							return nil
						})
						return nil
					}},
					// Fault sets pair points of both strategies: one whose
					// point an in-place path never reaches is no error
					// while another fires.
					{Name: "before a join", At: upgrade.AtBeforeJoin, Inject: func(context.Context, *upgrade.FaultContext) error { return nil }},
				}
			},
			faults: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, e := runFake(t, tc.path, tc.setup)
			if res.Verdict != upgrade.Consistent || res.Failure != nil || len(res.Findings) != 0 || len(res.Evidence) != 0 {
				t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, upgrade.Consistent, describe(res))
			}
			to := tc.path.Hops[len(tc.path.Hops)-1].To
			if ms := e.fc.Members(); len(ms) != tc.path.Size {
				t.Errorf("%d members after the path, want %d", len(ms), tc.path.Size)
			}
			for _, m := range e.fc.Members() {
				if m.Version() != to {
					t.Errorf("%s runs %s after the path", m.Name(), m.Version())
				}
			}
			fired := 0
			for _, f := range res.Faults {
				if f.Fired {
					fired++
				}
			}
			if fired != tc.faults || len(res.Faults) != tc.faults {
				t.Errorf("faults %+v, want %d fired", res.Faults, tc.faults)
			}
			atRisk := 0
			for _, a := range res.Audits {
				if a.Verdict == string(audit.VerdictAtRisk) {
					atRisk++
				}
			}
			if atRisk != tc.atRisk {
				t.Errorf("%d audits found a copy at risk, want %d: %+v", atRisk, tc.atRisk, res.Audits)
			}
			if err := (upgrade.Expected{Verdict: upgrade.Consistent}).Match(res); err != nil {
				t.Errorf("a consistent run does not match a consistent expectation: %v", err)
			}
			for _, exp := range anyExpectation()[1:] {
				if err := exp.Match(res); err == nil {
					t.Errorf("a consistent run matches %s", exp)
				}
			}
		})
	}

	t.Run("a copy at risk throughout is judged at the last audit only", func(t *testing.T) {
		t.Parallel()
		res, _ := runFake(t, twoHopPath, func(e *env) {
			e.fc.After(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp2"), func(_ context.Context, m *fakecluster.Member) error {
				e.fc.SetAtRisk(m, true)
				return nil
			})
		})
		atRisk := map[string]bool{}
		for _, a := range res.Audits {
			if a.Verdict == string(audit.VerdictAtRisk) {
				atRisk[a.Stage] = true
			}
		}
		if len(atRisk) != 3 || res.Verdict != upgrade.Inconsistent {
			t.Fatalf("at-risk stages %v, verdict %s: a copy at risk throughout must be seen at every stage and judged at the last", atRisk, res.Verdict)
		}
		for _, fd := range res.Findings {
			if fd.Check != upgrade.CheckAudit || fd.Stage != "after hop 2 (3.6.4 → 3.6.5, in-place)" || !strings.HasPrefix(fd.Text, "etcd-cp2: ") {
				t.Errorf("finding %+v: only the audit after the last hop judges, and only etcd-cp2's copy is at risk", fd)
			}
		}
	})
}

// Each check finds what it is for, after the hop it happens in, and says
// so in a finding of its own.
func TestVerdictInconsistent(t *testing.T) {
	t.Parallel()
	// afterLastUpgrade runs f once the last member of a one-hop in-place
	// path is upgraded, before the checks after the hop.
	afterLastUpgrade := func(f func(e *env)) func(e *env) {
		return func(e *env) {
			e.fc.After(fakecluster.OpUpgrade, fakecluster.OnCall(3), func(context.Context, *fakecluster.Member) error {
				f(e)
				return nil
			})
		}
	}
	for _, tc := range []struct {
		name  string
		path  upgrade.Path
		setup func(e *env)
		check string
		// line matches a finding of check; stage its stage.
		line, stage string
	}{
		{
			name: "membership: a member lists another without client URLs",
			path: inPlacePath,
			setup: afterLastUpgrade(func(e *env) {
				e.fc.EditRecord(e.member("etcd-cp3"), e.member("etcd-cp1").ID(), func(r *pb.Member) { r.ClientURLs = nil })
			}),
			check: upgrade.CheckMembership,
			line:  `^etcd-cp1 says \S+ etcd-cp1 voter peer=fake://etcd-cp1:2380 client=fake://etcd-cp1; etcd-cp3 says \S+ etcd-cp1 voter peer=fake://etcd-cp1:2380 client=$`,
			stage: "after " + inPlaceHop,
		},
		{
			name: "membership: a promoted member is a learner again after a hop",
			path: twoHopPath,
			setup: func(e *env) {
				e.fc.After(fakecluster.OpUpgrade, fakecluster.OnCall(3), func(context.Context, *fakecluster.Member) error {
					e.fc.EditRecord(e.member("etcd-cp1"), e.member("etcd-cp2").ID(), func(r *pb.Member) { r.IsLearner = true })
					return nil
				})
			},
			check: upgrade.CheckMembership,
			line:  `^etcd-cp1 lists etcd-cp2 \(\S+\) as a learner, but it was promoted$`,
			stage: "after hop 1 (3.5.21 → 3.6.4, in-place)",
		},
		{
			// etcd issue 21694: every member list agrees that etcd-cp2 is a
			// voter; only raft's own line says it is still a learner.
			name: "raft: a member listed as a voter that raft counts a learner",
			path: inPlacePath,
			setup: afterLastUpgrade(func(e *env) {
				cp1, cp2, cp3 := e.member("etcd-cp1").ID(), e.member("etcd-cp2").ID(), e.member("etcd-cp3").ID()
				e.fc.AppendLog(e.member("etcd-cp3"), fmt.Sprintf(`{"level":"info","logger":"raft","msg":"%x switched to configuration voters=(%d %d) learners=(%d)"}`, cp3, cp1, cp3, cp2))
			}),
			check: upgrade.CheckRaft,
			line:  `^etcd-cp3 lists etcd-cp2 \(\S+\) as a voter, but its raft counts it a learner \([0-9]+\); etcd-cp3 log: .*switched to configuration`,
			stage: "after " + inPlaceHop,
		},
		{
			name: "membership: a learner left in a cluster that never had one",
			path: staticPath,
			setup: afterLastUpgrade(func(e *env) {
				e.fc.EditRecord(e.member("etcd-cp2"), e.member("etcd-cp3").ID(), func(r *pb.Member) { r.IsLearner = true })
			}),
			check: upgrade.CheckMembership,
			line:  `^etcd-cp2 lists \S+ etcd-cp3 learner .* as a learner after every member was promoted$`,
			stage: "after " + inPlaceHop,
		},
		{
			name: "membership: an unknown member in one list",
			path: inPlacePath,
			setup: afterLastUpgrade(func(e *env) {
				e.fc.EditView(e.member("etcd-cp2"), func(rs []*pb.Member) []*pb.Member {
					return append(rs, &pb.Member{ID: 0xbad, Name: "ghost", PeerURLs: []string{"fake://ghost:2380"}})
				})
			}),
			check: upgrade.CheckMembership,
			line:  `^etcd-cp2 lists bad ghost voter peer=fake://ghost:2380 client=, which is not a current member`,
			stage: "after " + inPlaceHop,
		},
		{
			name: "membership: an unknown member after a replacement",
			path: replacePath,
			setup: func(e *env) {
				e.fc.After(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp6"), func(_ context.Context, m *fakecluster.Member) error {
					e.fc.EditView(m, func(rs []*pb.Member) []*pb.Member {
						return append(rs, &pb.Member{ID: 0xbad, Name: "ghost", PeerURLs: []string{"fake://ghost:2380"}})
					})
					return nil
				})
			},
			check: upgrade.CheckMembership,
			line:  `^etcd-cp6 lists bad ghost voter .*which is not a current member`,
			stage: "after " + replaceHop,
		},
		{
			name: "keys: one member lost keys",
			path: inPlacePath,
			setup: afterLastUpgrade(func(e *env) {
				e.fc.LoseKeys(e.member("etcd-cp2"), "/upgrade-e2e/", 3)
			}),
			check: upgrade.CheckKeys,
			line:  `^etcd-cp2: 3 of 35 keys lost or changed, first: /upgrade-e2e/\S+: lost`,
			stage: "after " + inPlaceHop,
		},
		{
			name: "audit: a member's copy is at risk after the last hop",
			path: inPlacePath,
			setup: afterLastUpgrade(func(e *env) {
				e.fc.SetAtRisk(e.member("etcd-cp1"), true)
			}),
			check: upgrade.CheckAudit,
			line:  `^etcd-cp1: \S+: ` + string(audit.DiffPromotedInV2Only) + `: `,
			stage: "after " + inPlaceHop,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := runFake(t, tc.path, tc.setup)
			if res.Verdict != upgrade.Inconsistent || res.Failure != nil {
				t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, upgrade.Inconsistent, describe(res))
			}
			re := regexp.MustCompile(tc.line)
			found := false
			for _, fd := range res.Findings {
				if fd.Check != tc.check {
					t.Errorf("a %s finding where only the %s check should find something: %+v", fd.Check, tc.check, fd)
				}
				if fd.Check == tc.check && fd.Stage == tc.stage && re.MatchString(fd.Text) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s finding at %q matches %s:\n%s", tc.check, tc.stage, tc.line, describe(res))
			}
			if len(res.Evidence) != len(res.Findings) {
				t.Errorf("evidence %q does not render the findings one by one", res.Evidence)
			}
			for _, e := range res.Evidence {
				if !strings.Contains(e, " check: ") {
					t.Errorf("evidence %q names no check", e)
				}
			}
			exp := upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: tc.check, Line: tc.line}}}
			if err := exp.Match(res); err != nil {
				t.Errorf("the run does not match its own signature: %v", err)
			}
			for _, other := range upgrade.Checks {
				if other == tc.check {
					continue
				}
				exp := upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: other, Line: ".*"}}}
				if err := exp.Match(res); err == nil {
					t.Errorf("a %s finding matches a %s signature", tc.check, other)
				}
			}
		})
	}
}

// upgradeFailedCase is a run the cluster itself fails, with the line that
// says why and where it comes from.
type upgradeFailedCase struct {
	name               string
	path               upgrade.Path
	setup              func(e *env)
	step, source, line string // patterns
	member, op         string
}

// A hop the cluster fails is upgrade-failed only when the cluster said why:
// the member's own line, an etcd server error anywhere in the error chain,
// or a member that died.
func TestVerdictUpgradeFailed(t *testing.T) {
	t.Parallel()
	replaceJoin := "^" + regexp.QuoteMeta(replaceHop+": join a new member at etcd 3.6.5")
	upgradeCP2 := "^" + regexp.QuoteMeta(inPlaceHop+": upgrade etcd-cp2 in place 3.5.21 → 3.6.5") + "$"
	for _, tc := range []upgradeFailedCase{
		{
			name: "the member's own log line",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), &cluster.MemberError{Member: "etcd-cp2", Op: "upgrade", LogLine: fatalLine, Err: errors.New("etcd exited with code 1")})
			},
			step: upgradeCP2, source: `^etcd-cp2 log$`, line: `"level":"fatal".*too many learner members`,
			member: "etcd-cp2", op: "upgrade",
		},
		{
			name: "an etcd error returned by a join",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), rpctypes.ErrTooManyLearners)
			},
			step: replaceJoin, source: `^etcd API$`, line: `^etcdserver: too many learner members in cluster$`,
		},
		{
			name: "an etcd error inside a member error without a log line",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), &cluster.MemberError{
					Member: "etcd-cp4", Op: "join", LogTail: `{"level":"info","msg":"starting"}`,
					Err: fmt.Errorf("kubeadm join --control-plane: %w", rpctypes.ErrTooManyLearners),
				})
			},
			step: replaceJoin, source: `^etcd API$`, line: `too many learner members`,
			member: "etcd-cp4", op: "join",
		},
		{
			name: "an etcd error inside a wrapped member error during an upgrade",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), fmt.Errorf("restart: %w",
					&cluster.MemberError{Member: "etcd-cp2", Op: "upgrade", Err: fmt.Errorf("health: %w", rpctypes.ErrTimeout)}))
			},
			step: upgradeCP2, source: `^etcd API$`, line: `^etcdserver: request timed out$`,
			member: "etcd-cp2", op: "upgrade",
		},
		{
			name: "the leader refuses a learner because of a stale learner flag",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Before(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), func(context.Context, *fakecluster.Member) error {
					e.fc.EditRecord(e.fc.Leader(), e.member("etcd-cp2").ID(), func(r *pb.Member) { r.IsLearner = true })
					return nil
				})
			},
			step: replaceJoin, source: `^etcd API$`, line: `too many learner members`,
			member: "etcd-cp4", op: "add learner",
		},
		{
			name: "another member died while the operation failed with a plain error",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Before(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), func(context.Context, *fakecluster.Member) error {
					e.fc.AppendLog(e.member("etcd-cp1"), `{"level":"info","msg":"ready to serve client requests"}`, panicLine)
					e.fc.AppendLog(e.member("etcd-cp3"), errorLine)
					return errors.New("etcd-cp2 did not serve within 2m0s")
				})
			},
			step: upgradeCP2, source: `^etcd-cp1 log$`, line: `"level":"panic"`,
		},
		{
			name: "kubeadm relays etcd's answer",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), &cluster.MemberError{
					Member: "etcd-cp4", Op: "join", LogSource: "kubeadm join on kind-control-plane4",
					LogLine: "error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: etcdserver: too many learner members in cluster",
					Err:     errors.New("kubeadm join --control-plane failed"),
				})
			},
			step: replaceJoin, source: `^kubeadm join on kind-control-plane4$`, line: `etcdserver: too many learner members in cluster`,
			member: "etcd-cp4", op: "join",
		},
		{
			name: "another member's line explains the join",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Before(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), func(context.Context, *fakecluster.Member) error {
					e.fc.AppendLog(e.member("etcd-cp3"), refusalLine)
					return &cluster.MemberError{Member: "etcd-cp4", Op: "join", LogSource: "etcd-cp3 log", LogLine: refusalLine, Err: errors.New("kubeadm join --control-plane failed")}
				})
			},
			step: replaceJoin, source: `^etcd-cp3 log$`, line: `too many learner members`,
			member: "etcd-cp4", op: "join",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := runFake(t, tc.path, tc.setup)
			if res.Verdict != upgrade.UpgradeFailed {
				t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, upgrade.UpgradeFailed, describe(res))
			}
			checkFailureEvidence(t, res)
			f := res.Failure
			if f.Cause != "" || f.Hop != 1 || f.Member != tc.member || f.Op != tc.op {
				t.Errorf("failure %+v, want hop 1, member %q, op %q, no cause", f, tc.member, tc.op)
			}
			if !regexp.MustCompile(tc.step).MatchString(f.Step) {
				t.Errorf("failed step %q, want %s", f.Step, tc.step)
			}
			exp := upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: tc.step, Source: tc.source, Line: tc.line}}}
			if err := exp.Match(res); err != nil {
				t.Errorf("the run does not match its own signature: %v", err)
			}
			// After the failure, every member's view is recorded, not judged.
			if last := res.Checks[len(res.Checks)-1]; last.Stage != "after failure" {
				t.Errorf("last check %q, want the one after the failure", last.Stage)
			}
		})
	}
}

// harnessCase is a run that measured nothing about the upgrade.
type harnessCase struct {
	name  string
	path  upgrade.Path
	setup func(e *env)
	step  string // pattern
	hop   int
	cause string // substring of Failure.Cause
}

// Whatever stops a run without the cluster saying why is the harness's
// own: a harness-error with its cause, never upgrade-failed, and no
// expectation accepts it.
func TestVerdictHarnessError(t *testing.T) {
	t.Parallel()
	const (
		noAnswer  = "no member and no etcd answer says why"
		notSetUp  = "the starting cluster at etcd 3.5.21 could not be set up"
		noFire    = "a fault of the spec never fired"
		noCopy    = "the audit after the last hop could not read a copy of etcd-cp2's data"
		cancelled = "the spec was interrupted or ran out of its time: spec timed out"
	)
	upgradeCP2 := "^" + regexp.QuoteMeta(inPlaceHop+": upgrade etcd-cp2 in place 3.5.21 → 3.6.5") + "$"
	noOp := func(context.Context, *upgrade.FaultContext) error { return nil }
	for _, tc := range []harnessCase{
		{
			name: "a tool fails during a hop with no member line",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), errors.New("docker exec kind-control-plane2 crictl ps: exit status 1"))
			},
			step: upgradeCP2, hop: 1, cause: noAnswer,
		},
		{
			name: "a member error whose member said nothing",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), &cluster.MemberError{
					Member: "etcd-cp2", Op: "upgrade", LogTail: `{"level":"info","msg":"serving client traffic"}`, Err: errors.New("docker exec: exit status 137"),
				})
			},
			step: upgradeCP2, hop: 1, cause: noAnswer,
		},
		{
			name: "another member's error line is not a death",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Before(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), func(context.Context, *fakecluster.Member) error {
					e.fc.AppendLog(e.member("etcd-cp1"), errorLine)
					return errors.New("docker exec kind-control-plane2: exit status 1")
				})
			},
			step: upgradeCP2, hop: 1, cause: noAnswer,
		},
		{
			name: "a member dies of a port another process took",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), &cluster.MemberError{
					Member: "etcd-cp2", Op: "upgrade",
					LogLine: `{"level":"fatal","msg":"listener failed","error":"listen tcp 127.0.0.1:2379: bind: address already in use"}`,
					Err:     errors.New("etcd exited with code 1"),
				})
			},
			step: upgradeCP2, hop: 1, cause: "shows a fault of the machine, not of etcd (address already in use)",
		},
		{
			name: "a deadline during a hop",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), context.DeadlineExceeded)
			},
			step: upgradeCP2, hop: 1, cause: noAnswer,
		},
		{
			name: "a deadline wrapped in a member error during a join",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), &cluster.MemberError{Member: "etcd-cp4", Op: "join", Err: fmt.Errorf("kubeadm join: %w", context.DeadlineExceeded)})
			},
			step: "^" + regexp.QuoteMeta(replaceHop+": join a new member"), hop: 1, cause: noAnswer,
		},
		{
			name: "init fails with the member's fatal line (kept data)",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpInit, fakecluster.OnEveryCall(), &cluster.MemberError{Member: "etcd-cp1", Op: "init", LogLine: downgradeLine, Err: errors.New("etcd exited with code 1")})
			},
			step: "^init$", hop: 0, cause: notSetUp,
		},
		{
			name: "a setup join refused by etcd",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp3"), rpctypes.ErrTooManyLearners)
			},
			step: "^join member 3$", hop: 0, cause: notSetUp,
		},
		{
			// The fake cannot send a member update inside a join: the run
			// says so before any member starts.
			name: "a member update bootstrap on a provider that cannot send one",
			path: upgrade.Path{From: v3521, Hops: inPlacePath.Hops, Size: 3, Bootstrap: upgrade.LearnerJoinsMemberUpdate},
			step: "^bootstrap$", hop: 0, cause: notSetUp,
		},
		{
			name: "a static bootstrap fails with a member's fatal line",
			path: staticPath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpBootstrap, fakecluster.OnEveryCall(), &cluster.MemberError{Member: "etcd-cp1", Op: "bootstrap", LogLine: fatalLine, Err: errors.New("exit status 1")})
			},
			step: "^bootstrap$", hop: 0, cause: notSetUp,
		},
		{
			name: "the catch-up write fails",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpClusterClient, fakecluster.OnEveryCall(), errors.New("dial tcp 127.0.0.1:32379: connect: connection refused"))
			},
			step: "^catch-up writes$", hop: 0, cause: notSetUp,
		},
		{
			name: "the catch-up write fails with an etcd answer",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpClusterClient, fakecluster.OnEveryCall(), rpctypes.ErrNoLeader)
			},
			step: "^catch-up writes$", hop: 0, cause: notSetUp,
		},
		{
			name: "the spec's context ends mid-hop",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Before(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), func(ctx context.Context, m *fakecluster.Member) error {
					e.cancel(errors.New("spec timed out"))
					<-ctx.Done()
					return &cluster.MemberError{Member: m.Name(), Op: "upgrade", LogLine: fatalLine, Err: ctx.Err()}
				})
			},
			step: upgradeCP2, hop: 1, cause: cancelled,
		},
		{
			name: "every copy fails at the final audit",
			path: inPlacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpCopyDataDir, fakecluster.OnMember("etcd-cp2"), errors.New("docker cp: no space left on device"))
			},
			step: "^" + regexp.QuoteMeta("audit after "+inPlaceHop) + "$", hop: 1, cause: noCopy,
		},
		{
			name: "a fault that never fired",
			path: inPlacePath,
			setup: func(e *env) {
				e.in.Faults = []upgrade.Fault{{Name: "does nothing", At: upgrade.AtAfterMemberUpgrade, Once: true, Inject: noOp}}
			},
			step: "^faults$", hop: 1, cause: noFire,
		},
		{
			name: "background work of a fault that never fired",
			path: replacePath,
			setup: func(e *env) {
				e.in.Faults = []upgrade.Fault{{Name: "waits for nothing", At: upgrade.AtBeforeJoin, Once: true, Inject: func(_ context.Context, fc *upgrade.FaultContext) error {
					fc.Go(func(context.Context) error { return nil })
					return nil
				}}}
			},
			step: "^faults$", hop: 1, cause: noFire,
		},
		{
			name: "a fault whose point the path never reaches",
			path: inPlacePath,
			setup: func(e *env) {
				e.in.Faults = []upgrade.Fault{{Name: "before a join", At: upgrade.AtBeforeJoin, Inject: noOp}}
			},
			step: "^faults$", hop: 1, cause: noFire,
		},
		{
			name: "kubeadm's own error line",
			path: replacePath,
			setup: func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), &cluster.MemberError{
					Member: "etcd-cp4", Op: "join", LogSource: "kubeadm join on kind-control-plane4",
					LogLine: "error execution phase preflight: couldn't validate the identity of the API Server: Get \"https://172.18.0.2:6443/api/v1/namespaces/kube-public/configmaps/cluster-info\": dial tcp 172.18.0.2:6443: connect: connection refused",
					Err:     errors.New("kubeadm join --control-plane failed"),
				})
			},
			step: "^" + regexp.QuoteMeta(replaceHop+": join a new member"), hop: 1, cause: noAnswer,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, e := runFake(t, tc.path, tc.setup)
			if res.Verdict != upgrade.HarnessError {
				t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, upgrade.HarnessError, describe(res))
			}
			checkFailureEvidence(t, res)
			f := res.Failure
			if f.Cause == "" || !strings.Contains(f.Cause, tc.cause) {
				t.Errorf("cause %q, want one saying %q", f.Cause, tc.cause)
			}
			if f.Hop != tc.hop {
				t.Errorf("hop %d, want %d", f.Hop, tc.hop)
			}
			if !regexp.MustCompile(tc.step).MatchString(f.Step) {
				t.Errorf("failed step %q, want %s", f.Step, tc.step)
			}
			if len(res.Evidence) == 0 || res.Evidence[0] != "harness error: "+f.Cause {
				t.Errorf("evidence does not open with the cause: %q", res.Evidence)
			}
			if !strings.Contains(res.Signature(), "cause: "+f.Cause) {
				t.Errorf("signature lacks the cause:\n%s", res.Signature())
			}
			if err := (upgrade.Expected{Verdict: upgrade.HarnessError}).Match(res); err == nil {
				t.Error("a harness error matches an expected harness error")
			}
			for _, exp := range anyExpectation() {
				err := exp.Match(res)
				if err == nil {
					t.Errorf("a harness error matches %s", exp)
				} else if !strings.Contains(err.Error(), "measured:") {
					t.Errorf("mismatch without the measured signature: %v", err)
				}
			}
			if tc.cause == noCopy {
				if got := strings.Count(e.log.String(), "audit of etcd-cp2 (attempt"); got != 2*3 {
					t.Errorf("%d failed copy attempts of etcd-cp2 logged, want 3 per audit", got)
				}
			}
		})
	}
}

// One failed copy is taken again: it is not the audit failing.
func TestVerdictCopyRetried(t *testing.T) {
	t.Parallel()
	res, e := runFake(t, inPlacePath, func(e *env) {
		// Calls 1-3 copy the members before the upgrade, 4-6 after it.
		e.fc.Fail(fakecluster.OpCopyDataDir, fakecluster.OnCall(5), errors.New("tar: member/snap/db: file changed as we read it"))
	})
	if res.Verdict != upgrade.Consistent {
		t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, upgrade.Consistent, describe(res))
	}
	if n := e.fc.Calls(fakecluster.OpCopyDataDir); n != 7 {
		t.Errorf("%d copies, want 7 (one taken again)", n)
	}
}

// A line kubeadm relays is the cluster's answer only when it quotes etcd.
func TestVerdictKubeadmRelayedLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want upgrade.Verdict
	}{
		{"error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: timeout waiting for etcd cluster to be available", upgrade.HarnessError},
		{"error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: etcdserver: too many learner members in cluster", upgrade.UpgradeFailed},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			t.Parallel()
			res, _ := runFake(t, replacePath, func(e *env) {
				e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), &cluster.MemberError{
					Member: "etcd-cp4", Op: "join", LogSource: "kubeadm join on kind-control-plane4", LogLine: tc.line,
					Err: errors.New("kubeadm join --control-plane failed"),
				})
			})
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, tc.want, describe(res))
			}
			checkFailureEvidence(t, res)
			if l := res.Failure.Lines[0]; l.Source != "kubeadm join on kind-control-plane4" || l.Text != tc.line {
				t.Errorf("first line %s, want kubeadm's", l)
			}
			if (res.Failure.Cause == "") != (tc.want == upgrade.UpgradeFailed) {
				t.Errorf("cause %q for a %s", res.Failure.Cause, tc.want)
			}
		})
	}
}

// The evidence says where each line comes from: a line another member
// logged is that member's, not the failing member's.
func TestVerdictEvidenceSources(t *testing.T) {
	t.Parallel()
	res, _ := runFake(t, replacePath, func(e *env) {
		e.fc.Before(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), func(context.Context, *fakecluster.Member) error {
			e.fc.AppendLog(e.member("etcd-cp3"), refusalLine)
			e.fc.AppendLog(e.member("etcd-cp1"), errorLine)
			return &cluster.MemberError{Member: "etcd-cp4", Op: "join", LogSource: "etcd-cp3 log", LogLine: refusalLine, Err: errors.New("kubeadm join --control-plane failed")}
		})
	})
	if res.Verdict != upgrade.UpgradeFailed {
		t.Fatalf("verdict %s:\n%s", res.Verdict, describe(res))
	}
	checkFailureEvidence(t, res)
	f := res.Failure
	if f.Member != "etcd-cp4" || len(f.Lines) == 0 || f.Lines[0] != (upgrade.Line{Source: "etcd-cp3 log", Text: refusalLine}) {
		t.Fatalf("failure %+v: the first line must be the refusal, from etcd-cp3's log", f)
	}
	sources := map[string]bool{}
	for _, l := range f.Lines {
		sources[l.Source] = true
		if strings.Contains(l.Source, "etcd-cp4") {
			t.Errorf("line %s is attributed to the failing member", l)
		}
	}
	if !sources["etcd-cp1 log"] {
		t.Errorf("etcd-cp1's own error line is not quoted: %+v", f.Lines)
	}
	want := []string{
		replaceHop,
		"etcd-cp3 log: " + refusalLine,
		"etcd-cp1 log: " + errorLine,
	}
	all := strings.Join(res.Evidence, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("evidence lacks %q:\n%s", w, all)
		}
	}

	// A member's own line (no LogSource) stands for its log: it is quoted
	// once, under its name, whether its log holds that line or another.
	for _, log := range []string{fatalLine, errorLine} {
		res, _ = runFake(t, inPlacePath, func(e *env) {
			e.fc.Before(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp2"), func(_ context.Context, m *fakecluster.Member) error {
				e.fc.AppendLog(m, log)
				return &cluster.MemberError{Member: "etcd-cp2", Op: "upgrade", LogLine: fatalLine, Err: errors.New("exit status 1")}
			})
		})
		if res.Verdict != upgrade.UpgradeFailed {
			t.Fatalf("verdict %s:\n%s", res.Verdict, describe(res))
		}
		checkFailureEvidence(t, res)
		if got := res.Failure.Lines; len(got) != 1 || got[0] != (upgrade.Line{Source: "etcd-cp2 log", Text: fatalLine}) {
			t.Errorf("lines %+v, want etcd-cp2's own line once", got)
		}
	}
}

// Expected.Match accepts a run only with the expected verdict and one of
// the expected signatures, and says why not otherwise.
func TestExpectedMatch(t *testing.T) {
	t.Parallel()
	joinStep := replaceHop + ": join a new member at etcd 3.6.5 (learner, then promote; snapshot from leader etcd-cp3 at 3.5.21)"
	failed := upgrade.Result{
		Verdict:    upgrade.UpgradeFailed,
		FailedStep: joinStep,
		Failure: &upgrade.Failure{Step: joinStep, Hop: 1, Member: "etcd-cp4", Op: "join", Error: "join etcd-cp4: exit status 1", Lines: []upgrade.Line{
			{Source: "etcd-cp4 log", Text: fatalLine},
			{Source: "etcd API", Text: "etcdserver: too many learner members in cluster"},
		}},
	}
	joinSig := upgrade.Signature{Step: `^hop 1 \(3\.5\.21 → 3\.6\.5, replace\): join a new member`, Source: `log$`, Line: `too many learner members`}
	harness := failed
	harness.Verdict = upgrade.HarnessError
	harness.Failure = &upgrade.Failure{}
	*harness.Failure = *failed.Failure
	harness.Failure.Cause = "no member and no etcd answer says why"
	inconsistent := upgrade.Result{Verdict: upgrade.Inconsistent, Findings: []upgrade.Finding{
		{Check: upgrade.CheckKeys, Stage: "after " + replaceHop, Text: "etcd-cp5: 3 of 35 keys lost or changed, first: /upgrade-e2e/catch-up/000000: lost"},
	}}

	for _, tc := range []struct {
		name string
		exp  upgrade.Expected
		res  upgrade.Result
		// why is "" for a match, else a substring of the mismatch.
		why string
	}{
		{"the expected step and line", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{joinSig}}, failed, ""},
		{"another step", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: `remove old member`, Line: `too many learner members`}}}, failed, "for another reason"},
		{"another line", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: `join a new member`, Line: `invalid downgrade`}}}, failed, "for another reason"},
		{"the line from another source", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: `join a new member`, Source: `^kubeadm`, Line: `too many learner members`}}}, failed, "for another reason"},
		{"source and line must be one line's", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: `join a new member`, Source: `^etcd API$`, Line: `"level":"fatal"`}}}, failed, "for another reason"},
		{"another verdict", upgrade.Expected{Verdict: upgrade.Consistent}, failed, "another verdict"},
		{"an upgrade failure is not an inconsistency", upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Line: ".*"}}}, failed, "another verdict"},
		{"a harness error with the expected lines", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{joinSig}}, harness, "the harness failed"},
		{"a harness error is not consistent", upgrade.Expected{Verdict: upgrade.Consistent}, harness, "the harness failed"},
		{"the expected check", upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Line: `keys lost`}}}, inconsistent, ""},
		{"another check", upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckMembership, Line: `keys lost`}}}, inconsistent, "for another reason"},
		{"another finding", upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Line: `etcd-cp4:`}}}, inconsistent, "for another reason"},
		{"the expected stage", upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Stage: `^after hop 1 `, Line: `keys lost`}}}, inconsistent, ""},
		{"another stage", upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Stage: `^after hop 2 `, Line: `keys lost`}}}, inconsistent, "for another reason"},
		{"a stage names an inconsistency, not a failure", upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{{Step: `join`, Stage: `hop 1`, Line: `too many`}}}, failed, "invalid expectation"},
		{"an invalid expectation matches nothing", upgrade.Expected{Verdict: upgrade.Consistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Line: ".*"}}}, upgrade.Result{Verdict: upgrade.Consistent}, "invalid expectation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.exp.Match(tc.res)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("no match: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s matches\n%s", tc.exp, tc.res.Signature())
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.why) {
				t.Errorf("mismatch %q does not say %q", msg, tc.why)
			}
			if tc.why != "invalid expectation" && (!strings.Contains(msg, "expected: ") || !strings.Contains(msg, "measured: ")) {
				t.Errorf("mismatch does not set expected and measured side by side:\n%s", msg)
			}
		})
	}

	// A path that fails in two measured ways matches either, on real runs.
	t.Run("either of two signatures", func(t *testing.T) {
		t.Parallel()
		joinRefused := upgrade.Signature{Step: `^hop 1 .*: join a new member`, Source: `^etcd API$`, Line: `too many learner members`}
		memberDied := upgrade.Signature{Step: `^hop 1 .*: upgrade etcd-cp\d in place`, Source: `log$`, Line: `"level":"fatal"`}
		exp := upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: []upgrade.Signature{joinRefused, memberDied}}
		if err := exp.Validate(); err != nil {
			t.Fatal(err)
		}
		a, _ := runFake(t, replacePath, func(e *env) {
			e.fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp5"), rpctypes.ErrTooManyLearners)
		})
		b, _ := runFake(t, inPlacePath, func(e *env) {
			e.fc.Fail(fakecluster.OpUpgrade, fakecluster.OnMember("etcd-cp3"), &cluster.MemberError{Member: "etcd-cp3", Op: "upgrade", LogLine: fatalLine, Err: errors.New("exit status 1")})
		})
		for _, r := range []struct {
			res  upgrade.Result
			want upgrade.Signature
		}{{a, joinRefused}, {b, memberDied}} {
			if err := exp.Match(r.res); err != nil {
				t.Errorf("no match: %v", err)
			}
			if s, ok := exp.Matching(r.res); !ok || s != r.want {
				t.Errorf("matching signature %v (%t), want %v", s, ok, r.want)
			}
		}

		lost := upgrade.Signature{Check: upgrade.CheckKeys, Line: `keys lost`}
		ghost := upgrade.Signature{Check: upgrade.CheckMembership, Line: `not a current member`}
		exp = upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: []upgrade.Signature{lost, ghost}}
		if err := exp.Match(inconsistent); err != nil {
			t.Errorf("no match: %v", err)
		}
		c, _ := runFake(t, inPlacePath, func(e *env) {
			e.fc.After(fakecluster.OpUpgrade, fakecluster.OnCall(3), func(context.Context, *fakecluster.Member) error {
				e.fc.EditView(e.member("etcd-cp1"), func(rs []*pb.Member) []*pb.Member {
					return append(rs, &pb.Member{ID: 0xbad, PeerURLs: []string{"fake://ghost:2380"}})
				})
				return nil
			})
		})
		if s, ok := exp.Matching(c); !ok || s != ghost {
			t.Errorf("matching signature %v (%t), want %v:\n%s", s, ok, ghost, describe(c))
		}
	})
}

func TestExpectedValidate(t *testing.T) {
	t.Parallel()
	uf := func(sigs ...upgrade.Signature) upgrade.Expected {
		return upgrade.Expected{Verdict: upgrade.UpgradeFailed, Signatures: sigs}
	}
	inc := func(sigs ...upgrade.Signature) upgrade.Expected {
		return upgrade.Expected{Verdict: upgrade.Inconsistent, Signatures: sigs}
	}
	for _, tc := range []struct {
		name string
		exp  upgrade.Expected
		ok   bool
	}{
		{"consistent", upgrade.Expected{Verdict: upgrade.Consistent}, true},
		{"upgrade-failed with a signature", uf(upgrade.Signature{Step: `join`, Source: `log$`, Line: `too many`}), true},
		{"inconsistent with each check", inc(upgrade.Signature{Check: upgrade.CheckMembership, Line: `x`}, upgrade.Signature{Check: upgrade.CheckKeys, Line: `x`}, upgrade.Signature{Check: upgrade.CheckAudit, Line: `x`}), true},

		{"upgrade-failed without a signature", uf(), false},
		{"inconsistent without a signature", inc(), false},
		{"consistent with a signature", upgrade.Expected{Verdict: upgrade.Consistent, Signatures: []upgrade.Signature{{Check: upgrade.CheckKeys, Line: `x`}}}, false},
		{"harness-error", upgrade.Expected{Verdict: upgrade.HarnessError}, false},
		{"harness-error with a signature", upgrade.Expected{Verdict: upgrade.HarnessError, Signatures: []upgrade.Signature{{Step: `x`, Line: `x`}}}, false},
		{"an unknown verdict", upgrade.Expected{Verdict: "flaky"}, false},
		{"a bad step pattern", uf(upgrade.Signature{Step: `join (`, Line: `x`}), false},
		{"a bad source pattern", uf(upgrade.Signature{Step: `join`, Source: `*log`, Line: `x`}), false},
		{"a bad line pattern", uf(upgrade.Signature{Step: `join`, Line: `[too many`}), false},
		{"a bad line pattern of an inconsistency", inc(upgrade.Signature{Check: upgrade.CheckKeys, Line: `(?P<`}), false},
		{"one bad signature of two", uf(upgrade.Signature{Step: `join`, Line: `x`}, upgrade.Signature{Step: `join`, Line: `(`}), false},
		{"upgrade-failed without a step", uf(upgrade.Signature{Line: `x`}), false},
		{"upgrade-failed without a line", uf(upgrade.Signature{Step: `join`}), false},
		{"upgrade-failed naming a check", uf(upgrade.Signature{Step: `join`, Check: upgrade.CheckKeys, Line: `x`}), false},
		{"inconsistent with an unknown check", inc(upgrade.Signature{Check: "quorum", Line: `x`}), false},
		{"inconsistent without a check", inc(upgrade.Signature{Line: `x`}), false},
		{"inconsistent naming a step", inc(upgrade.Signature{Check: upgrade.CheckKeys, Step: `join`, Line: `x`}), false},
		{"inconsistent naming a source", inc(upgrade.Signature{Check: upgrade.CheckKeys, Source: `log$`, Line: `x`}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.exp.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate(%s) = %v, want ok %t", tc.exp, err, tc.ok)
			}
			if !tc.ok {
				// An invalid expectation matches no run, not even one that
				// would show its signature.
				if err := tc.exp.Match(upgrade.Result{Verdict: tc.exp.Verdict}); err == nil {
					t.Errorf("an invalid expectation matched")
				}
			}
		})
	}
	if _, err := upgrade.ParseVerdict(string(upgrade.HarnessError)); err == nil {
		t.Error("harness-error parses as a verdict a path can be expected to give")
	}
}

// exitingCluster is a fake cluster whose provider knows which members died
// on their own, as the process provider knows its exec.Cmd.
type exitingCluster struct {
	*fakecluster.Cluster
	mu   sync.Mutex
	dead map[string]error
}

func (c *exitingCluster) Exited(m cluster.Member) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead[m.Name()]
}

// A member that died after joining (etcd 3.6 panics with "failed to
// update; member unknown") makes the next join fail with etcd's "unhealthy
// cluster". When the provider knows the member died, the check after the
// failure does not ask it anything (it could only time out) and records
// it as not running; the verdict and its evidence are the same as when the
// provider cannot tell.
func TestVerdictDeadMemberNotAsked(t *testing.T) {
	t.Parallel()
	run := func(knows bool) (upgrade.Result, *env, *bool) {
		asked := new(bool)
		res, e := runFake(t, replacePath, func(e *env) {
			ec := &exitingCluster{Cluster: e.fc, dead: map[string]error{}}
			if knows {
				e.in.Cluster = ec
			}
			e.fc.Before(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp5"), func(ctx context.Context, _ *fakecluster.Member) error {
				cp4 := e.member("etcd-cp4")
				e.fc.AppendLog(cp4, panicLine)
				if err := e.fc.Kill(ctx, cp4); err != nil {
					return err
				}
				ec.mu.Lock()
				ec.dead["etcd-cp4"] = errors.New("exit status 2")
				ec.mu.Unlock()
				if knows {
					for _, op := range []fakecluster.Op{fakecluster.OpClient, fakecluster.OpMemberList, fakecluster.OpGet} {
						e.fc.Before(op, fakecluster.OnMember("etcd-cp4"), func(context.Context, *fakecluster.Member) error {
							*asked = true
							return errors.New("a dead member was asked")
						})
					}
				}
				return &cluster.MemberError{Member: "etcd-cp5", Op: "add learner", Err: rpctypes.ErrUnhealthy}
			})
		})
		return res, e, asked
	}
	blind, _, _ := run(false)
	res, _, asked := run(true)
	if res.Verdict != upgrade.UpgradeFailed || blind.Verdict != upgrade.UpgradeFailed {
		t.Fatalf("verdicts %s and %s, want %s:\n%s", res.Verdict, blind.Verdict, upgrade.UpgradeFailed, describe(res))
	}
	checkFailureEvidence(t, res)
	if fmt.Sprint(res.Failure) != fmt.Sprint(blind.Failure) || fmt.Sprint(*res.Failure) != fmt.Sprint(*blind.Failure) {
		t.Errorf("the failure differs when the provider knows the member died:\n%+v\nwant\n%+v", *res.Failure, *blind.Failure)
	}
	if !strings.Contains(strings.Join(res.Evidence, "\n"), "etcd-cp4 log: "+panicLine) {
		t.Errorf("the dead member's panic is not in the evidence:\n%s", describe(res))
	}
	if *asked {
		t.Error("the check after the failure asked the dead member")
	}
	last := res.Checks[len(res.Checks)-1]
	if last.Stage != "after failure" {
		t.Fatalf("last check %q, want the one after the failure", last.Stage)
	}
	want := []string{"etcd-cp4: no member list: not running (exited: exit status 2)", "etcd-cp4: not running (exited: exit status 2)"}
	for _, w := range want {
		if !slices.Contains(last.Problems, w) {
			t.Errorf("check after failure lacks %q: %q", w, last.Problems)
		}
	}
}
