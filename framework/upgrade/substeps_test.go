package upgrade_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/cluster/fakecluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/upgrade"
)

// timedCluster times its in-place upgrades in two parts, as the kind
// provider times a static pod restart.
type timedCluster struct {
	*fakecluster.Cluster
	mu sync.Mutex
	ts []cluster.Timing
}

func (c *timedCluster) Upgrade(ctx context.Context, m cluster.Member, v etcdbin.Version) error {
	start := time.Now()
	err := c.Cluster.Upgrade(ctx, m, v)
	mid := start.Add(time.Since(start) / 2)
	c.mu.Lock()
	c.ts = append(c.ts, cluster.Timing{Name: "old etcd exits", Start: start, End: mid}, cluster.Timing{Name: "member serves", Start: mid, End: time.Now()})
	// A part timed long before the step is not the step's.
	c.ts = append(c.ts, cluster.Timing{Name: "stale", Start: start.Add(-time.Hour), End: start.Add(-time.Minute)})
	c.mu.Unlock()
	return err
}

func (c *timedCluster) TakeTimings() []cluster.Timing {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ts
	c.ts = nil
	return out
}

// What a provider times during a step becomes that step's sub-steps in
// the result, and no other step's.
func TestSubsteps(t *testing.T) {
	ctx := context.Background()
	fc := &timedCluster{Cluster: fakecluster.New(fakecluster.WithDir(t.TempDir()))}
	defer fc.Close(ctx)
	res := upgrade.Run(ctx, upgrade.Input{
		Cluster: fc,
		Path: upgrade.Path{
			From:      etcdbin.MustParseVersion("3.5.21"),
			Hops:      []upgrade.Hop{{To: etcdbin.MustParseVersion("3.6.5"), Strategy: upgrade.InPlace}},
			Size:      3,
			Bootstrap: upgrade.LearnerJoins,
		},
		ArtifactsDir:      t.TempDir(),
		CatchUpWrites:     20,
		StepWrites:        5,
		HeartbeatInterval: 10 * time.Millisecond,
	})
	if res.Verdict != upgrade.Consistent {
		t.Fatalf("verdict %s: %s", res.Verdict, strings.Join(res.Evidence, "\n"))
	}
	upgraded := 0
	for _, s := range res.Steps {
		if !strings.Contains(s.Name, "in place") {
			if len(s.Substeps) != 0 {
				t.Errorf("step %q has sub-steps %+v", s.Name, s.Substeps)
			}
			continue
		}
		upgraded++
		if len(s.Substeps) != 2 || s.Substeps[0].Name != "old etcd exits" || s.Substeps[1].Name != "member serves" {
			t.Fatalf("step %q: sub-steps %+v", s.Name, s.Substeps)
		}
		for _, ss := range s.Substeps {
			if ss.At < 0 || ss.Seconds < 0 || ss.At+ss.Seconds > s.Seconds+0.01 {
				t.Errorf("step %q (%.3fs): sub-step %+v outside it", s.Name, s.Seconds, ss)
			}
		}
	}
	if upgraded != 3 {
		t.Errorf("%d in-place steps, want 3", upgraded)
	}
}
