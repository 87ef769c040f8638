package kind

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/internal/etcdops"
)

// preparedNode is a control-plane container started ahead of its join.
type preparedNode struct {
	name  string
	start time.Time
	done  chan struct{} // closed when the container runs, or could not
	node  nodes.Node
	err   error
}

var _ cluster.JoinPreparer = (*Cluster)(nil)

// PrepareJoins starts the node containers of the next n joins at once, in
// the background: a replacement hop's joins then no longer wait 13–24 s
// each for a container and its systemd (measured on 2 cores), only the
// first does, and less. The containers take the names, in order, that the
// joins would have given them. Nothing of etcd changes until a join runs
// kubeadm on one; one that fails to start is started again by its join.
func (c *Cluster) PrepareJoins(ctx context.Context, n int) {
	peer, err := c.peerNode(nil)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	started := n - len(c.prepared)
	if started <= 0 {
		return
	}
	for range started {
		p := &preparedNode{name: c.nextNodeName(), start: time.Now(), done: make(chan struct{})}
		c.prepared = append(c.prepared, p)
		c.background.Add(1)
		go func() {
			defer c.background.Done()
			defer close(p.done)
			p.node, p.err = c.runNode(context.WithoutCancel(ctx), p.name, peer.String())
		}()
	}
	c.logf("starting %d node containers ahead of their joins", started)
}

// takePrepared waits for the oldest prepared container, if any; ok is false
// when none was prepared.
func (c *Cluster) takePrepared(ctx context.Context) (p *preparedNode, ok bool, err error) {
	c.mu.Lock()
	if len(c.prepared) == 0 {
		c.mu.Unlock()
		return nil, false, nil
	}
	p = c.prepared[0]
	c.prepared = c.prepared[1:]
	c.mu.Unlock()
	select {
	case <-p.done:
		return p, true, nil
	case <-ctx.Done():
		return p, true, ctx.Err()
	}
}

// waitBackground lets the containers being prepared finish starting, so
// that the cluster's deletion, which finds nodes by label, sees them all.
func (c *Cluster) waitBackground(ctx context.Context) {
	done := make(chan struct{})
	go func() { c.background.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(2 * time.Minute):
		c.logf("node containers still starting after 2m at close; deleting anyway")
	}
}

// joinNode returns the running container of the next join: the oldest
// prepared one, or one started now.
func (c *Cluster) joinNode(ctx context.Context, peer nodes.Node) (name string, n nodes.Node, start time.Time, err error) {
	start = time.Now()
	p, ok, err := c.takePrepared(ctx)
	if ok {
		if err != nil {
			return p.name, nil, start, err
		}
		if p.err == nil {
			c.logf("%s: node container prepared ahead, running (%s since it was started, waited %s)", p.name, time.Since(p.start).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
			return p.name, p.node, start, nil
		}
		c.logf("%s: the node container prepared ahead did not start (%v); starting it again", p.name, etcdops.ShortErr(p.err))
		if _, rmErr := docker(ctx, "rm", "--force", "--volumes", p.name); rmErr != nil {
			return p.name, nil, start, fmt.Errorf("removing node container %s: %w", p.name, rmErr)
		}
		n, err = c.runNode(ctx, p.name, peer.String())
		return p.name, n, start, err
	}
	c.mu.Lock()
	name = c.nextNodeName()
	c.mu.Unlock()
	n, err = c.runNode(ctx, name, peer.String())
	if err == nil {
		c.logf("%s: node container running (%s)", name, time.Since(start).Round(100*time.Millisecond))
	}
	return name, n, start, err
}

// nextNodeName names the next control-plane container; c.mu is held.
func (c *Cluster) nextNodeName() string {
	name := fmt.Sprintf("%s-control-plane%d", c.cfg.name, c.next)
	c.next++
	return name
}
