package fakecluster_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/audit/audittest"
	"etcd-upgrade-e2e/framework/check"
	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/cluster/fakecluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/workload"
)

var (
	v3521 = etcdbin.MustParseVersion("3.5.21")
	v365  = etcdbin.MustParseVersion("3.6.5")
)

// build returns a cluster of size members made as kubeadm makes them: init,
// then learner joins.
func build(t *testing.T, size int, opts ...fakecluster.Option) (*fakecluster.Cluster, []*fakecluster.Member) {
	t.Helper()
	ctx := context.Background()
	fc := fakecluster.New(opts...)
	t.Cleanup(func() { _ = fc.Close(context.Background()) })
	if _, err := fc.Init(ctx, v3521); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < size; i++ {
		if _, err := fc.Join(ctx, v3521); err != nil {
			t.Fatal(err)
		}
	}
	var ms []*fakecluster.Member
	for _, m := range fc.Members() {
		ms = append(ms, m.(*fakecluster.Member))
	}
	return fc, ms
}

func client(t *testing.T, fc *fakecluster.Cluster, m cluster.Member) *clientv3.Client {
	t.Helper()
	cli, err := fc.Client(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func names(records []*pb.Member) string {
	var out []string
	for _, r := range records {
		role := "voter"
		if r.IsLearner {
			role = "learner"
		}
		out = append(out, r.Name+"/"+role)
	}
	return strings.Join(out, ",")
}

func TestMembersAndClients(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3, fakecluster.WithName("kcp"))
	if fc.Provider() != "fake" {
		t.Fatalf("provider %q", fc.Provider())
	}
	for i, m := range ms {
		if want := fmt.Sprintf("kcp-cp%d", i+1); m.Name() != want || m.Endpoint() != "fake://"+want || m.Version() != v3521 {
			t.Fatalf("member %d: %s %s %s", i+1, m.Name(), m.Endpoint(), m.Version())
		}
	}
	for _, m := range ms {
		cli := client(t, fc, m)
		resp, err := cli.MemberList(ctx, clientv3.WithSerializable())
		if err != nil {
			t.Fatal(err)
		}
		if got := names(resp.Members); got != "kcp-cp1/voter,kcp-cp2/voter,kcp-cp3/voter" {
			t.Fatalf("%s lists %s", m.Name(), got)
		}
		st, err := cli.Status(ctx, m.Endpoint())
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId != m.ID() || st.Leader != ms[0].ID() || st.Version != "3.5.21" {
			t.Fatalf("status of %s: %+v", m.Name(), st)
		}
	}

	// Close works on a client with no connection: it cancels the client's
	// context and returns that, without panicking; requests then fail.
	cli, err := fc.ClusterClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("close: %v", err)
	}
	if _, err := cli.Get(ctx, "k"); err == nil {
		t.Fatal("a closed client answered")
	}
}

func TestOpenClientsCountsWhatIsNotClosed(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 1)
	a, _ := fc.Client(ctx, ms[0])
	b, _ := fc.ClusterClient(ctx)
	if n := fc.OpenClients(); n != 2 {
		t.Fatalf("%d open clients, want 2", n)
	}
	a.Close()
	b.Close()
	if n := fc.OpenClients(); n != 0 {
		t.Fatalf("%d open clients after closing both", n)
	}
}

func TestMembershipChangesReachEveryView(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	if err := fc.Remove(ctx, ms[1]); err != nil {
		t.Fatal(err)
	}
	if len(fc.Members()) != 2 || ms[1].Running() {
		t.Fatalf("removed member still current or running")
	}
	m4, err := fc.Join(ctx, v365)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fc.Members() {
		if got := names(fc.View(m.(*fakecluster.Member))); got != "etcd-cp1/voter,etcd-cp3/voter,etcd-cp4/voter" {
			t.Fatalf("%s lists %s", m.Name(), got)
		}
	}
	if m4.Name() != "etcd-cp4" || m4.Version() != v365 {
		t.Fatalf("joined %s at %s", m4.Name(), m4.Version())
	}

	// A learner added through a client shows in every view, nameless.
	cli := client(t, fc, ms[0])
	resp, err := cli.MemberAddAsLearner(ctx, []string{"fake://outsider:2380"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(fc.View(ms[2])); !strings.HasSuffix(got, ",/learner") {
		t.Fatalf("etcd-cp3 lists %s", got)
	}
	if _, err := cli.MemberAddAsLearner(ctx, []string{"fake://second:2380"}); !errors.Is(err, rpctypes.ErrTooManyLearners) {
		t.Fatalf("second learner: %v", err)
	}
	if _, err := cli.MemberPromote(ctx, resp.Member.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.MemberRemove(ctx, resp.Member.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.MemberRemove(ctx, resp.Member.ID); !errors.Is(err, rpctypes.ErrMemberNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
}

// One member's view can be made to disagree; the check package sees it.
func TestEditedViewIsThatMembersOwn(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	want := check.Want{Current: []string{"etcd-cp1", "etcd-cp2", "etcd-cp3"}, Promoted: map[string]bool{"etcd-cp2": true, "etcd-cp3": true}, Settled: true}
	if p := check.CompareViews(check.MemberViews(ctx, fc), want); len(p) != 0 {
		t.Fatalf("fresh cluster: %v", p)
	}

	fc.EditRecord(ms[2], ms[0].ID(), func(r *pb.Member) { r.Name, r.ClientURLs = "", nil })
	fc.EditRecord(ms[1], ms[2].ID(), func(r *pb.Member) { r.IsLearner = true })
	fc.EditView(ms[0], func(rs []*pb.Member) []*pb.Member {
		return append(rs, &pb.Member{ID: 0xbad, Name: "ghost", PeerURLs: []string{"fake://ghost:2380"}})
	})
	p := strings.Join(check.CompareViews(check.MemberViews(ctx, fc), want), "\n")
	for _, want := range []string{
		"etcd-cp3 does not list member etcd-cp1", // the blanked name
		"etcd-cp2 lists etcd-cp3 (" + fmt.Sprintf("%x", ms[2].ID()) + ") as a learner, but it was promoted",
		"etcd-cp1 lists bad ghost voter peer=fake://ghost:2380 client=, which is not a current member",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("problems lack %q:\n%s", want, p)
		}
	}

	// A later membership change updates the edited views record by record.
	if err := fc.Remove(ctx, ms[1]); err != nil {
		t.Fatal(err)
	}
	if got := names(fc.View(ms[2])); got != "/voter,etcd-cp3/voter" {
		t.Fatalf("etcd-cp3 lists %s", got)
	}
}

// The leader decides membership changes with its own view: a learner flag
// left there makes the next learner one too many, and the join quotes
// etcd's answer.
func TestJoinRefusedByLeadersView(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	fc.EditRecord(ms[0], ms[1].ID(), func(r *pb.Member) { r.IsLearner = true })
	_, err := fc.Join(ctx, v3521)
	me, ok := cluster.AsMemberError(err)
	if !ok || me.Op != "add learner" || me.Member != "etcd-cp4" || !errors.Is(me.Err, rpctypes.ErrTooManyLearners) || me.Source() != "etcd API" {
		t.Fatalf("join: %v", err)
	}
	if len(fc.Members()) != 3 {
		t.Fatalf("%d members after a refused join", len(fc.Members()))
	}
}

func TestKeysArePerMember(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	wl := workload.New("/w")
	cc, err := fc.ClusterClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := wl.Write(ctx, cc, "a", 20); err != nil {
		t.Fatal(err)
	}
	if n := fc.LoseKeys(ms[1], "/w/", 3); n != 3 {
		t.Fatalf("lost %d keys", n)
	}
	count := func(m cluster.Member, opts ...clientv3.OpOption) int64 {
		resp, err := client(t, fc, m).Get(ctx, "/w/", append(opts, clientv3.WithPrefix())...)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	if a, b, s := count(ms[0]), count(ms[1]), count(ms[1], clientv3.WithSerializable()); a != 20 || b != 17 || s != 17 {
		t.Fatalf("counts %d %d %d, want 20 17 17", a, b, s)
	}
	if lost, err := wl.Verify(ctx, cc); err != nil || len(lost) != 0 {
		t.Fatalf("verify through the leader: %v %v", lost, err)
	}

	// A cluster client reads the leader's copy, so keys the leader lost are
	// what workload.Verify reports; a new member copies the leader's keys.
	fc.LoseKeys(ms[0], "/w/a/", 2)
	lost, err := wl.Verify(ctx, cc)
	if err != nil || len(lost) != 2 || !strings.Contains(lost[0], "/w/a/000000: lost") {
		t.Fatalf("verify: %v %v", lost, err)
	}
	m4, err := fc.Join(ctx, v3521)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fc.Data(m4.(*fakecluster.Member))); n != 18 {
		t.Fatalf("new member has %d keys, want the leader's 18", n)
	}
}

func TestLeadershipAndQuorum(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	if _, err := client(t, fc, ms[1]).MoveLeader(ctx, ms[2].ID()); !errors.Is(err, rpctypes.ErrNotLeader) {
		t.Fatalf("move leader through a follower: %v", err)
	}
	if _, err := client(t, fc, ms[0]).MoveLeader(ctx, ms[2].ID()); err != nil {
		t.Fatal(err)
	}
	if l := fc.Leader(); l != ms[2] {
		t.Fatalf("leader %v, want etcd-cp3", l)
	}
	// Restarting the leader hands leadership over.
	if err := fc.Upgrade(ctx, ms[2], v365); err != nil {
		t.Fatal(err)
	}
	if l := fc.Leader(); l != ms[0] || ms[2].Version() != v365 {
		t.Fatalf("leader %v after upgrading etcd-cp3", l)
	}
	st, err := client(t, fc, ms[0]).Status(ctx, ms[2].Endpoint())
	if err != nil || st.Header.MemberId != ms[2].ID() || st.Version != "3.6.5" || st.Leader != ms[0].ID() {
		t.Fatalf("status of etcd-cp3 through etcd-cp1: %+v %v", st, err)
	}

	cc, _ := fc.ClusterClient(ctx)
	defer cc.Close()
	if err := fc.Stop(ctx, ms[1]); err != nil {
		t.Fatal(err)
	}
	if err := fc.Kill(ctx, ms[0]); err != nil {
		t.Fatal(err)
	}
	if fc.Leader() != nil {
		t.Fatal("a leader without quorum")
	}
	if _, err := cc.Put(ctx, "k", "v"); !errors.Is(err, rpctypes.ErrNoLeader) {
		t.Fatalf("put without quorum: %v", err)
	}
	if _, err := client(t, fc, ms[0]).MemberList(ctx, clientv3.WithSerializable()); err == nil {
		t.Fatal("a stopped member answered")
	}
	if _, err := client(t, fc, ms[2]).MemberList(ctx, clientv3.WithSerializable()); err != nil {
		t.Fatalf("serializable list without quorum: %v", err)
	}
	if _, err := client(t, fc, ms[2]).MemberList(ctx); !errors.Is(err, rpctypes.ErrNoLeader) {
		t.Fatalf("linearizable list without quorum: %v", err)
	}
	if err := fc.Start(ctx, ms[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put with quorum back: %v", err)
	}
}

func TestScriptedFailures(t *testing.T) {
	ctx := context.Background()
	line := `{"level":"fatal","msg":"discovery failed","error":"membership: too many learner members in cluster"}`
	memberErr := &cluster.MemberError{Member: "etcd-cp2", Op: "upgrade", LogLine: line, Err: errors.New("exit status 1")}

	t.Run("nth call", func(t *testing.T) {
		fc, ms := build(t, 3)
		fc.Fail(fakecluster.OpUpgrade, fakecluster.OnCall(2), memberErr)
		if err := fc.Upgrade(ctx, ms[0], v365); err != nil {
			t.Fatal(err)
		}
		err := fc.Upgrade(ctx, ms[1], v365)
		if me, ok := cluster.AsMemberError(err); !ok || me != memberErr {
			t.Fatalf("second upgrade: %v", err)
		}
		if ms[1].Version() != v3521 {
			t.Fatal("a failed upgrade changed the version")
		}
		if err := fc.Upgrade(ctx, ms[2], v365); err != nil {
			t.Fatal(err)
		}
		if n := fc.Calls(fakecluster.OpUpgrade); n != 3 {
			t.Fatalf("%d upgrade calls", n)
		}
	})

	t.Run("member", func(t *testing.T) {
		fc, ms := build(t, 3)
		fc.Fail(fakecluster.OpJoin, fakecluster.OnMember("etcd-cp4"), rpctypes.ErrTooManyLearners)
		fc.Fail(fakecluster.OpClient, fakecluster.OnMember("etcd-cp2"), context.DeadlineExceeded)
		fc.Fail(fakecluster.OpPut, fakecluster.OnCall(1), errors.New("docker exec: etcdctl: exit status 1"))
		fc.Fail(fakecluster.OpCopyDataDir, fakecluster.OnMember("etcd-cp3"), errors.New("copy: no space left on device"))
		fc.Fail(fakecluster.OpMemberList, fakecluster.OnMember("etcd-cp1"), rpctypes.ErrGRPCUnhealthy)
		if _, err := fc.Join(ctx, v3521); !errors.Is(err, rpctypes.ErrTooManyLearners) {
			t.Fatalf("join: %v", err)
		}
		if _, err := fc.Client(ctx, ms[1]); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client: %v", err)
		}
		cc, _ := fc.ClusterClient(ctx)
		defer cc.Close()
		if _, err := cc.Put(ctx, "k", "v"); err == nil || !strings.Contains(err.Error(), "docker exec") {
			t.Fatalf("first put: %v", err)
		}
		if _, err := cc.Put(ctx, "k", "v"); err != nil {
			t.Fatalf("second put: %v", err)
		}
		if err := fc.CopyDataDir(ctx, ms[2], t.TempDir()); err == nil {
			t.Fatal("copy did not fail")
		}
		// The leader answers the cluster client's member list.
		if _, err := cc.MemberList(ctx); !errors.Is(err, rpctypes.ErrGRPCUnhealthy) {
			t.Fatalf("member list: %v", err)
		}
	})

	t.Run("promotion", func(t *testing.T) {
		fc, _ := build(t, 2)
		fc.Fail(fakecluster.OpPromote, fakecluster.OnEveryCall(), rpctypes.ErrMemberLearnerNotReady)
		m, err := fc.Join(ctx, v3521)
		if !errors.Is(err, rpctypes.ErrMemberLearnerNotReady) || m == nil {
			t.Fatalf("join: %v %v", m, err)
		}
		if got := names(fc.View(fc.Member("etcd-cp1"))); got != "etcd-cp1/voter,etcd-cp2/voter,etcd-cp3/learner" {
			t.Fatalf("after a failed promotion etcd-cp1 lists %s", got)
		}
	})

	t.Run("hook", func(t *testing.T) {
		fc, ms := build(t, 3)
		// After the second upgrade, the member upgraded last lists the
		// first without name or client URLs.
		fc.After(fakecluster.OpUpgrade, fakecluster.OnCall(2), func(_ context.Context, m *fakecluster.Member) error {
			fc.EditRecord(m, ms[0].ID(), func(r *pb.Member) { r.Name, r.ClientURLs = "", nil })
			fc.AppendLog(m, line)
			return nil
		})
		for _, m := range ms {
			if err := fc.Upgrade(ctx, m, v365); err != nil {
				t.Fatal(err)
			}
		}
		if got := names(fc.View(ms[1])); got != "/voter,etcd-cp2/voter,etcd-cp3/voter" {
			t.Fatalf("etcd-cp2 lists %s", got)
		}
		log, err := fc.Logs(ctx, ms[1])
		if err != nil || cluster.EvidenceLine(log) != line {
			t.Fatalf("log %q %v", log, err)
		}
	})

	t.Run("hang until the caller gives up", func(t *testing.T) {
		fc, ms := build(t, 3)
		fc.Before(fakecluster.OpStart, fakecluster.OnEveryCall(), func(ctx context.Context, _ *fakecluster.Member) error {
			<-ctx.Done()
			return ctx.Err()
		})
		cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := fc.Start(cctx, ms[0]); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("start: %v", err)
		}
	})
}

func TestDataDirCopies(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	auditCopy := func(m *fakecluster.Member) *audit.Report {
		t.Helper()
		dst := filepath.Join(t.TempDir(), "copy")
		if err := fc.CopyDataDir(ctx, m, dst); err != nil {
			t.Fatal(err)
		}
		rep, err := audit.Audit(dst)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := auditCopy(ms[0])
	if rep.Verdict != audit.VerdictConsistent || len(rep.V3Members) != 3 || rep.LocalID != audit.ID(ms[0].ID()) {
		t.Fatalf("copy of etcd-cp1: %s %+v", rep.Verdict, rep.Diffs)
	}

	fc.SetAtRisk(ms[0], true)
	rep = auditCopy(ms[0])
	if rep.Verdict != audit.VerdictAtRisk || len(audit.Learners(rep.V3Members)) != 2 || len(audit.Learners(rep.V2Members)) != 0 {
		t.Fatalf("at-risk copy of etcd-cp1: %s %+v", rep.Verdict, rep.Diffs)
	}
	if rep := auditCopy(ms[1]); rep.Verdict != audit.VerdictConsistent {
		t.Fatalf("copy of etcd-cp2: %s", rep.Verdict)
	}

	// A removed member stays removed in both stores; an upgraded one
	// records the 3.6 storage version.
	if err := fc.Remove(ctx, ms[1]); err != nil {
		t.Fatal(err)
	}
	if err := fc.Upgrade(ctx, ms[2], v365); err != nil {
		t.Fatal(err)
	}
	rep = auditCopy(ms[2])
	if rep.Verdict != audit.VerdictConsistent || len(rep.V3Removed) != 1 || rep.Versions.Storage != "3.6.0" || rep.Versions.ClusterV3 != "3.5.0" {
		t.Fatalf("copy of etcd-cp3: %s removed %v versions %+v", rep.Verdict, rep.V3Removed, rep.Versions)
	}

	fc.EditCopies(ms[2], func(s *audittest.Spec) { s.V3Members = s.V3Members[:1] })
	if rep := auditCopy(ms[2]); rep.Verdict != audit.VerdictInconsistent {
		t.Fatalf("edited copy: %s", rep.Verdict)
	}
}

// The runner writes from many goroutines while a heartbeat writes and
// members restart; run with -race.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 3)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				cc, err := fc.ClusterClient(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = cc.Put(ctx, fmt.Sprintf("/k/%d/%d", g, i), "v")
				_, _ = cc.Get(ctx, "/k/", clientv3.WithPrefix())
				_, _ = cc.MemberList(ctx, clientv3.WithSerializable())
				cc.Close()
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, m := range ms {
			if err := fc.Upgrade(ctx, m, v365); err != nil {
				t.Error(err)
			}
			_ = check.MemberViews(ctx, fc)
			_, _ = fc.Logs(ctx, m)
		}
	}()
	wg.Wait()
	if n := fc.OpenClients(); n != 0 {
		t.Fatalf("%d clients left open", n)
	}
}

func TestClosedCluster(t *testing.T) {
	ctx := context.Background()
	fc, ms := build(t, 1)
	fc.SetLog(ms[0], "last words")
	cli := client(t, fc, ms[0])
	if err := fc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Join(ctx, v3521); err == nil {
		t.Fatal("joined a closed cluster")
	}
	if _, err := cli.Get(ctx, "k"); err == nil {
		t.Fatal("a member of a closed cluster answered")
	}
	if log, err := fc.Logs(ctx, ms[0]); err != nil || log != "last words" {
		t.Fatalf("logs after close: %q %v", log, err)
	}
}
