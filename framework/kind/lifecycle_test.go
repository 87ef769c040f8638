package kind

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/internal/logtail"
	"etcd-upgrade-e2e/framework/nodeimage"
)

// TestMemberLifecycle drives one kind cluster through the operations the
// upgrade runner does not use on every path (stop, kill, start, logs, a
// data dir copy of a stopped member) besides init, join and upgrade. It
// needs Docker and the node image, so it only runs with
// ETCDUP_KIND_LIFECYCLE_TEST=1:
//
//	ETCDUP_KIND_LIFECYCLE_TEST=1 go test ./framework/kind -run Lifecycle -v -timeout 30m
func TestMemberLifecycle(t *testing.T) {
	if os.Getenv("ETCDUP_KIND_LIFECYCLE_TEST") != "1" {
		t.Skip("set ETCDUP_KIND_LIFECYCLE_TEST=1 to run a kind cluster (needs Docker, takes minutes)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Minute)
	defer cancel()
	b := nodeimage.New(nodeimage.WithLog(testWriter{t}))
	env, err := b.PrepareDocker(ctx)
	if err != nil {
		t.Skipf("docker cannot run kind nodes here: %v", err)
	}
	if err := env.Apply(); err != nil {
		t.Fatal(err)
	}
	from, to := etcdbin.MustParseVersion("3.5.24"), etcdbin.MustParseVersion("3.6.5")
	img, err := b.NodeImage(ctx, nodeimage.DefaultKubernetesVersion, []string{from.String(), to.String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadBalancerImage(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := New(WithName(NamePrefix+"lifecycle-"+time.Now().Format("150405")), WithDir(dir), WithNodeImage(img.Ref),
		WithSnapshotCount(100), WithLog(testWriter{t}), WithKubeletLocalMode(false), WithImageLoader(b.LoadEtcdImages))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("close: %v", err)
		}
		if left := containersOf(t, c.Name()); len(left) > 0 {
			t.Errorf("containers left after Close: %v", left)
		}
	}()

	m1, err := c.Init(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := c.Join(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := c.Join(ctx, from)
	if err != nil {
		t.Fatal(err)
	}

	if err := c.Stop(ctx, m2); err != nil {
		t.Fatalf("stop: %v", err)
	}
	log, err := c.Logs(ctx, m2)
	if err != nil || !strings.Contains(log, "received signal; shutting down") {
		t.Errorf("log of a stopped member lacks its shutdown (%v): %s", err, logtail.Last(log, 3))
	}
	copyDir := filepath.Join(dir, "stopped-copy")
	if err := c.CopyDataDir(ctx, m2, copyDir); err != nil {
		t.Fatalf("copy of a stopped member: %v", err)
	}
	if rep, err := audit.Audit(copyDir); err != nil || rep.Verdict != audit.VerdictConsistent {
		t.Errorf("audit of the stopped member's copy: %v %v", rep.Verdict, err)
	}
	if err := c.Start(ctx, m2); err != nil {
		t.Fatalf("start: %v", err)
	}

	if err := c.Kill(ctx, m3); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := c.Start(ctx, m3); err != nil {
		t.Fatalf("start after kill: %v", err)
	}

	if err := c.Upgrade(ctx, m1, to); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	cli, err := c.Client(ctx, m1)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st, err := cli.Status(ctx, m1.Endpoint())
	if err != nil || st.Version != to.String() {
		t.Errorf("after the upgrade %s reports %v (%v), want %s", m1.Name(), st, err, to)
	}
	live := filepath.Join(dir, "live-copy")
	if err := c.CopyDataDir(ctx, m1, live); err != nil {
		t.Fatalf("copy of a running member: %v", err)
	}
	if _, err := os.Stat(filepath.Join(live, "member", "wal")); err != nil {
		t.Errorf("live copy has no WAL: %v", err)
	}

	// Leadership moves as the runner moves it, and a removal checks the
	// membership through the leader after kubeadm reset.
	if err := etcdops.EnsureLeader(ctx, c, m3); err != nil {
		t.Fatalf("moving leadership to %s: %v", m3.Name(), err)
	}
	if leader, err := etcdops.LeaderMember(ctx, c); err != nil || leader != m3 {
		t.Errorf("leader %v (%v), want %s", leader, err, m3.Name())
	}
	if err := c.Remove(ctx, m2); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if got := c.Members(); len(got) != 2 || got[0] != m1 || got[1] != m3 {
		t.Errorf("members after removing %s: %v", m2.Name(), got)
	}
	list, err := etcdops.List(ctx, c)
	if err != nil {
		t.Fatalf("member list after remove: %v", err)
	}
	for _, pm := range list {
		if pm.Name == m2.Name() {
			t.Errorf("%s is still a member after Remove", m2.Name())
		}
	}
	if len(list) != 2 {
		t.Errorf("%d members after Remove, want 2", len(list))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
