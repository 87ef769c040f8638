package upgrade_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/cluster/fakecluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

// TestRunOnFakeCluster runs a whole in-place path on the in-memory provider:
// a cluster that does nothing wrong must come out consistent, with every
// member upgraded and every client the run opened closed again.
func TestRunOnFakeCluster(t *testing.T) {
	ctx := context.Background()
	fc := fakecluster.New(fakecluster.WithDir(t.TempDir()))
	defer fc.Close(ctx)
	to := etcdbin.MustParseVersion("3.6.5")
	res := upgrade.Run(ctx, upgrade.Input{
		Cluster: fc,
		Path: upgrade.Path{
			From:      etcdbin.MustParseVersion("3.5.21"),
			Hops:      []upgrade.Hop{{To: to, Strategy: upgrade.InPlace}},
			Size:      3,
			Bootstrap: upgrade.LearnerJoins,
		},
		ArtifactsDir:      t.TempDir(),
		CatchUpWrites:     20,
		StepWrites:        5,
		HeartbeatInterval: 10 * time.Millisecond,
	})
	if res.Verdict != upgrade.Consistent {
		t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, upgrade.Consistent, strings.Join(res.Evidence, "\n"))
	}
	for _, m := range fc.Members() {
		if m.Version() != to {
			t.Errorf("%s runs %s after the path", m.Name(), m.Version())
		}
	}
	if want := 20 + 3*5; res.KeysWritten != want {
		t.Errorf("%d keys written, want %d", res.KeysWritten, want)
	}
	if n := fc.OpenClients(); n != 0 {
		t.Errorf("the run left %d clients open", n)
	}
}
