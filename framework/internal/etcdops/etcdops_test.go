package etcdops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/cluster/fakecluster"
	"etcd-upgrade-e2e/framework/etcdbin"
)

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		err                  error
		transient, permanent bool
	}{
		{"no leader", rpctypes.ErrNoLeader, true, false},
		{"no leader as sent", rpctypes.ErrGRPCNoLeader, true, false},
		{"not leader", rpctypes.ErrNotLeader, true, false},
		{"leader changed", rpctypes.ErrLeaderChanged, true, false},
		{"timed out", rpctypes.ErrTimeout, true, false},
		{"timed out, leader failed", rpctypes.ErrGRPCTimeoutDueToLeaderFail, true, false},
		{"unhealthy", rpctypes.ErrUnhealthy, true, false},
		{"unhealthy as sent", rpctypes.ErrGRPCUnhealthy, true, false},
		{"too many requests", rpctypes.ErrTooManyRequests, true, false},
		{"wrapped no leader", fmt.Errorf("member add: %w", rpctypes.ErrNoLeader), true, false},
		{"unavailable", status.Error(codes.Unavailable, "connection error: connect: connection refused"), true, false},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true, false},
		{"context deadline", context.DeadlineExceeded, true, false},
		{"too many learners", rpctypes.ErrTooManyLearners, false, true},
		{"too many learners as sent", rpctypes.ErrGRPCTooManyLearners, false, true},
		{"wrapped too many learners", fmt.Errorf("add: %w", rpctypes.ErrGRPCTooManyLearners), false, true},
		{"peer URL exists", rpctypes.ErrPeerURLExist, false, true},
		{"member not found", rpctypes.ErrMemberNotFound, false, true},
		{"not a learner", rpctypes.ErrMemberNotLearner, false, true},
		{"canceled", context.Canceled, false, true},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), false, true},
		{"learner not ready", rpctypes.ErrMemberLearnerNotReady, false, false},
		{"not enough started", rpctypes.ErrMemberNotEnoughStarted, false, false},
		// Words alone do not make an error transient.
		{"plain text", errors.New("etcdserver: request timed out"), false, false},
		{"nil", nil, false, false},
	} {
		if got := Transient(tc.err); got != tc.transient {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.transient)
		}
		if got := Permanent(tc.err); got != tc.permanent {
			t.Errorf("%s: Permanent(%v) = %v, want %v", tc.name, tc.err, got, tc.permanent)
		}
	}
}

func TestIs(t *testing.T) {
	if !Is(rpctypes.ErrGRPCPeerURLExist, rpctypes.ErrPeerURLExist) {
		t.Error("the status etcd sends is not its client error")
	}
	if !Is(fmt.Errorf("x: %w", rpctypes.ErrPeerURLExist), rpctypes.ErrGRPCPeerURLExist) {
		t.Error("a wrapped client error is not the status")
	}
	if Is(rpctypes.ErrPeerURLExist, rpctypes.ErrMemberExist) {
		t.Error("two etcd errors are one")
	}
	if Is(nil, rpctypes.ErrPeerURLExist) {
		t.Error("nil is an etcd error")
	}
	if !Is(fmt.Errorf("x: %w", context.Canceled), context.Canceled) {
		t.Error("a plain error is not found in the chain")
	}
}

func TestRetryStopsAtOnceOnALastingError(t *testing.T) {
	calls := 0
	start := time.Now()
	_, err := Retry(context.Background(), time.Minute, func(context.Context) (int, error) {
		calls++
		return 0, fmt.Errorf("member add: %w", rpctypes.ErrGRPCTooManyLearners)
	})
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
	if !Is(err, rpctypes.ErrTooManyLearners) || !strings.HasPrefix(err.Error(), "member add: ") {
		t.Errorf("error changed: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s", d)
	}
}

func TestRetryRetriesTransientErrors(t *testing.T) {
	calls := 0
	v, err := Retry(context.Background(), time.Minute, func(ctx context.Context) (int, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("an attempt has no deadline")
		}
		calls++
		if calls < 3 {
			return 0, rpctypes.ErrLeaderChanged
		}
		return 7, nil
	})
	if err != nil || v != 7 || calls != 3 {
		t.Errorf("Retry = %d, %v after %d calls", v, err, calls)
	}
}

func TestRetryStopsOnUnknownErrorsAndAtItsDeadline(t *testing.T) {
	calls := 0
	want := errors.New("something else")
	if _, err := Retry(context.Background(), time.Minute, func(context.Context) (int, error) {
		calls++
		return 0, want
	}); err != want || calls != 1 {
		t.Errorf("unknown error: %v after %d calls", err, calls)
	}
	calls = 0
	if _, err := Retry(context.Background(), 0, func(context.Context) (int, error) {
		calls++
		return 0, rpctypes.ErrNoLeader
	}); !errors.Is(err, rpctypes.ErrNoLeader) || calls != 1 {
		t.Errorf("past deadline: %v after %d calls", err, calls)
	}
}

func TestRetryEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Retry(ctx, time.Minute, func(context.Context) (int, error) { return 0, rpctypes.ErrNoLeader })
	if !errors.Is(err, rpctypes.ErrNoLeader) {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s after the context ended", d)
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Error("Sleep ignored its context")
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
}

func TestWithout(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		m    int
		want []int
	}{
		{[]int{1, 2, 3}, 2, []int{1, 3}},
		{[]int{1, 2, 3}, 1, []int{2, 3}},
		{[]int{1, 2, 3}, 3, []int{1, 2}},
		{[]int{1, 2, 3}, 4, []int{1, 2, 3}},
		{[]int{1, 2, 2}, 2, []int{1, 2}},
		{nil, 1, nil},
	} {
		got := Without(append([]int(nil), tc.in...), tc.m)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Without(%v, %d) = %v, want %v", tc.in, tc.m, got, tc.want)
		}
	}
}

type member struct{ name string }

func (m *member) Name() string             { return m.name }
func (m *member) Version() etcdbin.Version { return etcdbin.Version{} }
func (m *member) Endpoint() string         { return "" }

type otherMember struct{ cluster.Member }

func TestSet(t *testing.T) {
	var s Set[*member]
	a, b, c := &member{"a"}, &member{"b"}, &member{"c"}
	s.Add(a, b)
	s.Add(c)
	s.Remove(b)
	if got := s.Current(); len(got) != 2 || got[0] != a || got[1] != c {
		t.Errorf("Current = %v", got)
	}
	if got := s.All(); len(got) != 3 || got[2] != b {
		t.Errorf("All = %v", got)
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d", s.Len())
	}
	cur := s.Current()
	cur[0] = nil
	if s.Current()[0] != a {
		t.Error("Current shares its slice")
	}
}

func TestOwn(t *testing.T) {
	if _, err := Own[*member](otherMember{}, "test"); err == nil || !strings.Contains(err.Error(), "a test cluster") {
		t.Errorf("another provider's member: %v", err)
	}
	if _, err := Own[*member]((*member)(nil), "test"); err == nil {
		t.Error("a nil member was accepted")
	}
	m := &member{"x"}
	if got, err := Own[*member](m, "test"); err != nil || got != m {
		t.Errorf("Own(m) = %v, %v", got, err)
	}
}

func TestShortErr(t *testing.T) {
	if got := ShortErr(errors.New("short")); got != "short" {
		t.Errorf("ShortErr = %q", got)
	}
	got := ShortErr(errors.New(strings.Repeat("x", 300)))
	if !strings.HasSuffix(got, "…") || len(got) != shortErrLen+len("…") {
		t.Errorf("ShortErr cut to %d bytes", len(got))
	}
}

func bootstrap(t *testing.T, opts ...fakecluster.Option) *fakecluster.Cluster {
	t.Helper()
	c := fakecluster.New(opts...)
	if _, err := c.Bootstrap(context.Background(), etcdbin.MustParseVersion("3.5.21"), 3); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestAddLearnerStopsOnTooManyLearners(t *testing.T) {
	c := bootstrap(t)
	ctx := context.Background()
	if _, _, err := AddLearner(ctx, c, "fake://a:2380"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err := AddLearner(ctx, c, "fake://b:2380")
	if !Is(err, rpctypes.ErrTooManyLearners) {
		t.Fatalf("second learner: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a lasting error was retried for %s", d)
	}
	if n := c.Calls(fakecluster.OpMemberAdd); n != 2 {
		t.Errorf("%d adds, want 2", n)
	}
}

// "unhealthy cluster" is retried while every member lives, and answered
// at once, as etcd gave it, once a member has died.
func TestAddLearnerUnlessAMemberDied(t *testing.T) {
	c := bootstrap(t)
	ctx := context.Background()
	c.Fail(fakecluster.OpMemberAdd, fakecluster.OnCall(1), rpctypes.ErrUnhealthy)
	c.Fail(fakecluster.OpMemberAdd, fakecluster.OnCall(2), rpctypes.ErrUnhealthy)
	if _, _, err := AddLearnerUnless(ctx, c, "fake://a:2380", func() bool { return false }); err != nil {
		t.Fatalf("add while every member lives: %v", err)
	}
	if n := c.Calls(fakecluster.OpMemberAdd); n != 3 {
		t.Errorf("%d adds, want 3 (two refusals retried)", n)
	}
	c.Fail(fakecluster.OpMemberAdd, fakecluster.OnEveryCall(), rpctypes.ErrUnhealthy)
	start := time.Now()
	_, _, err := AddLearnerUnless(ctx, c, "fake://b:2380", func() bool { return true })
	if !Is(err, rpctypes.ErrUnhealthy) || err.Error() != "etcdserver: unhealthy cluster" {
		t.Fatalf("add with a dead member = %v, want etcd's own answer", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("retried for %s with a member dead", d)
	}
	if n := c.Calls(fakecluster.OpMemberAdd); n != 4 {
		t.Errorf("%d adds, want 4 (no retry once a member died)", n)
	}
}

func TestAddLearnerFindsAnAddThatHappened(t *testing.T) {
	c := bootstrap(t, fakecluster.WithMaxLearners(2))
	ctx := context.Background()
	_, id, err := AddLearner(ctx, c, "fake://a:2380")
	if err != nil {
		t.Fatal(err)
	}
	_, again, err := AddLearner(ctx, c, "fake://a:2380")
	if err != nil || again != id {
		t.Errorf("adding again = %x, %v; want %x", again, err, id)
	}
}

func TestLeaderOperations(t *testing.T) {
	c := bootstrap(t)
	ctx := context.Background()
	leader, err := LeaderMember(ctx, c)
	if err != nil || leader.Name() != c.Leader().Name() {
		t.Fatalf("LeaderMember = %v, %v; want %s", leader, err, c.Leader().Name())
	}
	if !strings.HasPrefix(LeaderName(ctx, c), leader.Name()+" at ") {
		t.Errorf("LeaderName = %q", LeaderName(ctx, c))
	}
	var other cluster.Member
	for _, m := range c.Members() {
		if m != leader {
			other = m
		}
	}
	if leads, err := Leads(ctx, c, other); err != nil || leads {
		t.Errorf("Leads(follower) = %v, %v", leads, err)
	}
	if err := EnsureLeader(ctx, c, other); err != nil {
		t.Fatal(err)
	}
	if c.Leader().Name() != other.Name() {
		t.Errorf("leader %s, want %s", c.Leader().Name(), other.Name())
	}
	if err := MoveLeader(ctx, c, other, leader); err != nil {
		t.Fatal(err)
	}
	if c.Leader().Name() != leader.Name() {
		t.Errorf("leader %s, want %s", c.Leader().Name(), leader.Name())
	}
	// Without the leader among the peers, a change goes to a follower.
	rest := Only(c, func(m cluster.Member) bool { return m.Name() != leader.Name() })
	if _, _, err := Leader(ctx, rest); !errors.Is(err, ErrNoLeader) {
		t.Errorf("Leader without the leader = %v", err)
	}
	if _, err := anyMember(ctx, Only(c, func(cluster.Member) bool { return false })); err == nil {
		t.Error("a client to no member")
	}
}

func TestRemoveAndPromote(t *testing.T) {
	c := bootstrap(t)
	ctx := context.Background()
	_, id, err := AddLearner(ctx, c, "fake://a:2380")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	if err := Promote(ctx, c, id, 10*time.Second, func(context.Context) error { checked++; return nil }); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if checked == 0 {
		t.Error("check never ran")
	}
	// A voter nothing of this Promote promoted is etcd's refusal, as etcd
	// gave it (etcd issue 21694 makes a learner look like one)...
	if err := Promote(ctx, c, id, 10*time.Second, nil); !Is(err, rpctypes.ErrMemberNotLearner) {
		t.Errorf("promoting a voter at the first attempt = %v, want etcd's %v", err, rpctypes.ErrMemberNotLearner)
	}
	// ...but after an attempt whose answer was lost, it is that attempt's
	// promotion: done.
	_, id2, err := AddLearner(ctx, c, "fake://b:2380")
	if err != nil {
		t.Fatal(err)
	}
	// A member update through the leader changes the peer URLs alone: the
	// fake, like a fixed etcd, keeps the learner a learner.
	members, err := UpdatePeerURLs(ctx, c, id2, []string{"fake://b2:2380"})
	if err != nil {
		t.Fatalf("UpdatePeerURLs: %v", err)
	}
	for _, mem := range members {
		if mem.ID == id2 && (!mem.IsLearner || len(mem.PeerURLs) != 1 || mem.PeerURLs[0] != "fake://b2:2380") {
			t.Errorf("updated learner listed as %+v", mem)
		}
	}
	c.After(fakecluster.OpMemberPromote, fakecluster.OnCall(c.Calls(fakecluster.OpMemberPromote)+1), func(context.Context, *fakecluster.Member) error {
		return context.DeadlineExceeded
	})
	if err := Promote(ctx, c, id2, 10*time.Second, nil); err != nil {
		t.Errorf("a promotion committed but its answer lost: %v", err)
	}
	if err := Remove(ctx, c, id2); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("the member exited")
	if err := Promote(ctx, c, id, 10*time.Second, func(context.Context) error { return stop }); err != stop {
		t.Errorf("Promote after a failed check = %v", err)
	}
	if err := Remove(ctx, c, id); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	start := time.Now()
	if err := Remove(ctx, c, id); !Is(err, rpctypes.ErrMemberNotFound) {
		t.Errorf("removing a member that is gone: %v", err)
	}
	if err := Promote(ctx, c, id, time.Minute, nil); !Is(err, rpctypes.ErrMemberNotFound) {
		t.Errorf("promoting a member that is gone: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("lasting errors were retried for %s", d)
	}
	members, err = List(ctx, c)
	if err != nil || len(members) != 3 {
		t.Errorf("List = %d members, %v", len(members), err)
	}
}
