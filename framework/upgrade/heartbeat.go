package upgrade

import (
	"context"
	"sync"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
)

// heartbeatKey is renewed in the background the way kube-controller-manager
// and kube-scheduler renew their leader-election leases. A real control plane
// never leaves etcd idle, and that matters: etcd 3.6 sets the applied index it
// checks proposals against only when it applies log entries, not when it
// applies a raft snapshot, so a member that just installed a snapshot answers
// "etcdserver: too many requests" to its own publish request until the cluster
// commits one more entry. Without this write a new member could idle forever
// in a way no Kubernetes cluster would.
const heartbeatKey = "/upgrade-e2e-heartbeat/lease"

// heartbeat writes heartbeatKey every interval until stop is called.
func heartbeat(ctx context.Context, cl cluster.Cluster, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// Members come and go during a replacement: a client over the
			// current members each time.
			cli, err := cl.ClusterClient(ctx)
			if err != nil {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, interval)
			_, _ = cli.Put(pctx, heartbeatKey, time.Now().UTC().Format(time.RFC3339Nano))
			pcancel()
			cli.Close()
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
