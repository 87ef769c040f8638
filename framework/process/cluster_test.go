package process

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/internal/logtail"
)

// fakeBinaries hands out binaries that point at etcd, without provisioning.
func fakeBinaries(etcd string) BinariesFunc {
	return func(_ context.Context, v etcdbin.Version) (etcdbin.Binaries, error) {
		return etcdbin.Binaries{Version: v, Etcd: etcd, Etcdctl: etcd + "ctl", Source: etcdbin.SourceDir}, nil
	}
}

// newTestCluster is a cluster whose directory and port marks live in the
// test's temporary directory.
func newTestCluster(t *testing.T, opts ...Option) *Cluster {
	t.Helper()
	base := []Option{
		WithDir(filepath.Join(t.TempDir(), "members")),
		WithPortLockDir(filepath.Join(t.TempDir(), "ports")),
		WithBinaries(fakeBinaries("/nonexistent/etcd")),
	}
	c, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ports.Release() })
	return c
}

func TestNewValidatesOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"no directory", nil, "no directory given"},
		{"zero snapshot count", []Option{WithDir(t.TempDir()), WithSnapshotCount(0)}, "snapshot count 0 must be positive"},
		{"negative snapshot count", []Option{WithDir(t.TempDir()), WithSnapshotCount(-5)}, "snapshot count -5 must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{WithBinaries(fakeBinaries("etcd")), WithPortLockDir(t.TempDir())}, tc.opts...)
			c, err := New(opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: got (%v, %v), want an error containing %q", c, err, tc.want)
			}
		})
	}
}

func TestNewDefaultsAndOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	c := newTestCluster(t, WithDir(dir))
	if c.cfg.name != "etcd" || c.cfg.snapshotCount != 10000 || c.cfg.keep || c.cfg.log != io.Discard {
		t.Errorf("defaults: got %+v", c.cfg)
	}
	if c.cfg.startTimeout != 60*time.Second || c.cfg.promoteWait != 2*time.Minute {
		t.Errorf("default timeouts: start %s, promote %s", c.cfg.startTimeout, c.cfg.promoteWait)
	}
	if c.ArtifactsDir() != dir || c.Provider() != "process" {
		t.Errorf("ArtifactsDir %q, Provider %q", c.ArtifactsDir(), c.Provider())
	}
	if len(c.Members()) != 0 || len(c.ProcessMembers()) != 0 {
		t.Errorf("a new cluster has members: %v", c.Members())
	}

	var log strings.Builder
	c = newTestCluster(t,
		WithName("up"), WithSnapshotCount(100), WithKeep(true), WithLog(&log),
		WithStartTimeout(time.Second), WithPromoteTimeout(2*time.Second),
		WithExtraFlags("--a=1"), WithExtraFlags("--b=2", "--c=3"))
	want := config{name: "up", snapshotCount: 100, keep: true, log: &log, startTimeout: time.Second, promoteWait: 2 * time.Second,
		extraFlags: []string{"--a=1", "--b=2", "--c=3"}}
	got := c.cfg
	got.dir, got.portDir, got.binaries = "", "", nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options: got %+v, want %+v", got, want)
	}
	c.logf("hello %d", 1)
	if log.String() != "hello 1\n" {
		t.Errorf("logf wrote %q", log.String())
	}
}

func TestNewMemberNamesAndRisingPorts(t *testing.T) {
	c := newTestCluster(t, WithName("path"))
	v := etcdbin.MustParseVersion("3.5.17")
	last := 0
	for i := 1; i <= 3; i++ {
		m, err := c.newMember(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		if want := "path-cp" + strconv.Itoa(i); m.Name() != want {
			t.Errorf("member %d named %q, want %q", i, m.Name(), want)
		}
		if m.dir != filepath.Join(c.cfg.dir, m.Name()) {
			t.Errorf("%s: dir %q", m.Name(), m.dir)
		}
		if m.DataDir() != filepath.Join(m.dir, "data") || m.LogPath() != filepath.Join(m.dir, "etcd.log") {
			t.Errorf("%s: data dir %q, log %q", m.Name(), m.DataDir(), m.LogPath())
		}
		peer, client := urlPort(t, m.PeerURL()), urlPort(t, m.Endpoint())
		if !(last < peer && peer < client) {
			t.Errorf("%s: ports %d (peer) and %d (client) do not rise above %d", m.Name(), peer, client, last)
		}
		last = client
		if m.Version() != v || m.ID() != 0 || m.Running() || m.PID() != 0 || m.generation() != 0 {
			t.Errorf("%s: new member is %v, id %d, running %v, gen %d", m.Name(), m.Version(), m.ID(), m.Running(), m.generation())
		}
		if exited, err := m.exitedWith(); exited || err != nil {
			t.Errorf("%s: a never started member reports an exit (%v)", m.Name(), err)
		}
		if got, want := m.String(), m.Name()+"@3.5.17(0)"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	// newMember does not add the member: Init, Join or Bootstrap do.
	if len(c.Members()) != 0 {
		t.Errorf("members after newMember: %v", c.Members())
	}
}

func urlPort(t *testing.T, u string) int {
	t.Helper()
	const prefix = "http://127.0.0.1:"
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("URL %q is not on loopback over http", u)
	}
	p, err := strconv.Atoi(strings.TrimPrefix(u, prefix))
	if err != nil {
		t.Fatalf("URL %q: %v", u, err)
	}
	return p
}

func TestNewMemberBinariesError(t *testing.T) {
	boom := errors.New("no such version")
	c := newTestCluster(t, WithBinaries(func(context.Context, etcdbin.Version) (etcdbin.Binaries, error) {
		return etcdbin.Binaries{}, boom
	}))
	if _, err := c.newMember(context.Background(), etcdbin.MustParseVersion("3.6.4")); !errors.Is(err, boom) {
		t.Fatalf("newMember: got %v, want %v", err, boom)
	}
	// A failed lookup uses no name: the next member is still cp1.
	c.cfg.binaries = fakeBinaries("etcd")
	m, err := c.newMember(context.Background(), etcdbin.MustParseVersion("3.6.4"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "etcd-cp1" {
		t.Errorf("name after a failed lookup: %q", m.Name())
	}
}

func TestFlags(t *testing.T) {
	c := newTestCluster(t, WithName("tok"), WithSnapshotCount(50), WithExtraFlags("--experimental-x=true"))
	m := &Member{name: "tok-cp2", dir: "/d/tok-cp2", peerURL: "http://127.0.0.1:2380", clientURL: "http://127.0.0.1:2379"}
	got := c.flags(m, "tok-cp1=http://127.0.0.1:2370,tok-cp2=http://127.0.0.1:2380", "existing")
	want := []string{
		"--name=tok-cp2",
		"--data-dir=/d/tok-cp2/data",
		"--listen-client-urls=http://127.0.0.1:2379",
		"--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=tok-cp1=http://127.0.0.1:2370,tok-cp2=http://127.0.0.1:2380",
		"--initial-cluster-state=existing",
		"--initial-cluster-token=tok",
		"--snapshot-count=50",
		"--logger=zap",
		"--log-outputs=stderr",
		"--experimental-x=true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flags:\n got %q\nwant %q", got, want)
	}
	// Rendering a member's flags does not touch the cluster's own extra flags.
	got[len(got)-1] = "--changed"
	if c.cfg.extraFlags[0] != "--experimental-x=true" {
		t.Errorf("flags aliases the extra flags: %q", c.cfg.extraFlags)
	}
}

// otherMember is a cluster.Member of another provider.
type otherMember struct{ cluster.Member }

func TestOwnRefusesForeignMembers(t *testing.T) {
	c := newTestCluster(t)
	if _, err := c.own(otherMember{}); err == nil {
		t.Error("own accepted another provider's member")
	}
	if _, err := c.own((*Member)(nil)); err == nil {
		t.Error("own accepted a nil member")
	}
	m := &Member{name: "x"}
	if got, err := c.own(m); err != nil || got != m {
		t.Errorf("own(m) = %v, %v", got, err)
	}
}

func TestOperationsWithoutMembers(t *testing.T) {
	c := newTestCluster(t)
	ctx := context.Background()
	if _, err := c.ClusterClient(ctx); err == nil || !strings.Contains(err.Error(), "no members") {
		t.Errorf("ClusterClient: %v", err)
	}
	if _, _, err := etcdops.AddLearner(ctx, c.peers(nil), "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "no running member") {
		t.Errorf("adding a learner to no members: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close of an empty cluster: %v", err)
	}
}

// The cluster reports a member that died on its own, in the words the
// checks record, and no other: a killed one is the harness's doing.
func TestExitedMembers(t *testing.T) {
	c := newTestCluster(t)
	crashed := testMember(t, fakeEtcd(t, "echo 'panic: boom' >&2; exit 2"), "3.6.5")
	killed := testMember(t, fakeEtcd(t, "exec sleep 60"), "3.5.21")
	killed.name = "etcd-cp2"
	c.members.Add(killed)
	for _, m := range []*Member{crashed, killed} {
		if err := m.start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Kill(context.Background(), killed); err != nil {
		t.Fatal(err)
	}
	if c.anyDied() || cluster.NotRunning(c, killed) != nil {
		t.Error("a member the harness killed counts as dead")
	}
	c.members.Add(crashed)
	waitExit(t, crashed)
	if !c.anyDied() {
		t.Error("a crashed member is not seen")
	}
	if err := cluster.NotRunning(c, crashed); err == nil || err.Error() != "not running (exited: exit status 2)" {
		t.Errorf("NotRunning(crashed) = %v", err)
	}
	if c.Exited(otherMember{}) != nil {
		t.Error("another provider's member reported")
	}

	// The leader's own refusal of an add, as etcd 3.5 logs it.
	refusal := `{"level":"warn","msg":"rejecting member add request; local member has not been connected to all peers, reconfigure breaks active quorum","requested-member-add":"{ID:c52530d3da663a9 RaftAttributes:{PeerURLs:[http://127.0.0.1:23519] IsLearner:true} Attributes:{Name: ClientURLs:[]}}","error":"etcdserver: unhealthy cluster"}`
	f, err := os.OpenFile(killed.LogPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(refusal + "\n" + strings.Replace(refusal, `"level"`, `"again":1,"level"`, 1) + "\n")
	f.Close()
	if who, line := c.addRefusal("http://127.0.0.1:23519"); who != "etcd-cp2" || line != refusal {
		t.Errorf("addRefusal = %q, %q; want etcd-cp2's first refusal", who, line)
	}
	if who, line := c.addRefusal("http://127.0.0.1:1"); who != "" || line != "" {
		t.Errorf("addRefusal of another peer = %q, %q", who, line)
	}
}

func TestInitAndBootstrapRefuseAClusterWithMembers(t *testing.T) {
	c := newTestCluster(t)
	c.members.Add(&Member{name: "etcd-cp1"})
	v := etcdbin.MustParseVersion("3.5.17")
	if _, err := c.Init(context.Background(), v); err == nil {
		t.Error("Init on a cluster with members succeeded")
	}
	if _, err := c.Bootstrap(context.Background(), v, 3); err == nil {
		t.Error("Bootstrap on a cluster with members succeeded")
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\nd\n", 3, "b\nc\nd"},
		{"a\nb\nc\nd", 2, "c\nd"},
		{"a\nb\n", 3, "a\nb"},
		{"", 3, ""},
	} {
		if got := logtail.Last(tc.in, tc.n); got != tc.want {
			t.Errorf("logtail.Last(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
