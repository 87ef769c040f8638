package kind

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// deleteTimeout bounds the deletion of one cluster, which happens even when
// the caller's context has ended (an interrupted run must not leave
// containers behind).
const deleteTimeout = 2 * time.Minute

// Close exports the logs of every node with kind's CollectLogs (kubelet,
// containerd, pod and etcd logs, docker inspect) into ArtifactsDir/logs and
// deletes the cluster: its containers, their volumes and its network. With
// keep the cluster stays; KeepHints says how to reach it.
func (c *Cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	created := c.created
	c.mu.Unlock()
	if created == nil {
		return nil // Init never ran: nothing was made
	}
	select {
	case <-created:
	case <-ctx.Done():
		c.logf("kind create of %s still running at close; deleting anyway", c.cfg.name)
	}
	c.waitBackground(ctx)
	var errs []error
	if ns, err := c.provider.ListNodes(c.cfg.name); err == nil && len(ns) > 0 {
		if err := c.collectLogs(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.cfg.keep {
		c.logf("kind cluster %s kept", c.cfg.name)
		return errors.Join(errs...)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	start := time.Now()
	if err := deleteCluster(dctx, c.provider, c.cfg.name, c.kubeconfig); err != nil {
		errs = append(errs, err)
	} else {
		c.logf("kind cluster %s deleted in %s", c.cfg.name, time.Since(start).Round(100*time.Millisecond))
	}
	return errors.Join(errs...)
}

// collectLogs runs kind's log export, which takes no context: on
// cancellation Close goes on to delete the cluster.
func (c *Cluster) collectLogs(ctx context.Context) error {
	dir := filepath.Join(c.cfg.dir, "logs")
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.provider.CollectLogs(c.cfg.name, dir) }()
	select {
	case err := <-done:
		if err != nil && !onlyMissingCrictl(err) {
			return fmt.Errorf("exporting logs of %s: %w", c.cfg.name, err)
		}
		c.logf("kind logs of %s in %s (%s)", c.cfg.name, dir, time.Since(start).Round(100*time.Millisecond))
		return nil
	case <-ctx.Done():
		return fmt.Errorf("exporting logs of %s: %w", c.cfg.name, ctx.Err())
	}
}

// onlyMissingCrictl reports whether every failure of kind's log export was
// a crictl command: the harness's node images have no crictl (kind's own
// do); the etcd and kubelet logs are exported all the same.
func onlyMissingCrictl(err error) bool {
	for _, e := range leafErrors(err) {
		if !strings.Contains(e.Error(), "crictl") {
			return false
		}
	}
	return true
}

// leafErrors flattens kind's aggregate errors.
func leafErrors(err error) []error {
	agg, ok := err.(interface{ Errors() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range agg.Errors() {
		out = append(out, leafErrors(e)...)
	}
	return out
}

// KeepHints says how to reach a kept cluster.
func (c *Cluster) KeepHints() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kept kind cluster %s (delete it with: kind delete cluster --name %s, or go run ./cmd/kind-cleanup)\n", c.cfg.name, c.cfg.name)
	fmt.Fprintf(&b, "  kubeconfig: %s\n", c.kubeconfig)
	fmt.Fprintf(&b, "  artifacts:  %s\n", c.cfg.dir)
	for _, m := range c.KindMembers() {
		fmt.Fprintf(&b, "  %s (etcd %s, client %s): docker exec -it %s bash\n", m.name, m.Version(), m.endpoint, m.name)
	}
	return b.String()
}

// bootstrapEvidence is the first control plane's etcd error line after a
// failed create (kind keeps the nodes: the harness always asks it to).
func (c *Cluster) bootstrapEvidence(ctx context.Context) string {
	all, err := c.provider.ListNodes(c.cfg.name)
	if err != nil {
		return ""
	}
	n, err := nodeutils.BootstrapControlPlaneNode(all)
	if err != nil {
		return ""
	}
	line, _ := c.evidence(ctx, n, nil)
	return line
}
