package upgrade_test

import (
	"context"
	"fmt"
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

// preparingCluster records what a replacement hop asks to prepare.
type preparingCluster struct {
	*fakecluster.Cluster
	asked []int
}

func (p *preparingCluster) PrepareJoins(_ context.Context, n int) { p.asked = append(p.asked, n) }

// TestReplaceHopPreparesItsJoins checks that a replacement hop asks a
// provider that can prepare joins for all of them at once (only as many as
// a halted hop makes), and that preparing changes nothing of the verdict.
func TestReplaceHopPreparesItsJoins(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		hops []upgrade.Hop
		want []int
	}{
		{[]upgrade.Hop{{To: etcdbin.MustParseVersion("3.6.5"), Strategy: upgrade.Replace}}, []int{3}},
		{[]upgrade.Hop{{To: etcdbin.MustParseVersion("3.6.5"), Strategy: upgrade.InPlace}}, nil},
		{[]upgrade.Hop{{To: etcdbin.MustParseVersion("3.5.24"), Strategy: upgrade.Replace}, {To: etcdbin.MustParseVersion("3.6.5"), Strategy: upgrade.Replace, Members: 1}}, []int{3, 1}},
	} {
		fc := fakecluster.New(fakecluster.WithDir(t.TempDir()))
		pc := &preparingCluster{Cluster: fc}
		res := upgrade.Run(ctx, upgrade.Input{
			Cluster:           pc,
			Path:              upgrade.Path{From: etcdbin.MustParseVersion("3.5.21"), Hops: tc.hops, Size: 3, Bootstrap: upgrade.LearnerJoins},
			ArtifactsDir:      t.TempDir(),
			CatchUpWrites:     20,
			StepWrites:        5,
			HeartbeatInterval: 10 * time.Millisecond,
		})
		fc.Close(ctx)
		if res.Verdict != upgrade.Consistent {
			t.Fatalf("%v: verdict %s, want %s:\n%s", tc.hops, res.Verdict, upgrade.Consistent, strings.Join(res.Evidence, "\n"))
		}
		if fmt.Sprint(pc.asked) != fmt.Sprint(tc.want) {
			t.Errorf("%v: PrepareJoins asked %v, want %v", tc.hops, pc.asked, tc.want)
		}
	}
}
