package kind

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/internal/etcdops"
)

// Stopping, killing and starting a member, as an operator does to a static
// pod: its manifest moved out of the kubelet's folder and back.

// Stop moves the static pod manifest aside; the kubelet stops the pod
// (SIGTERM, then its grace period).
func (c *Cluster) Stop(ctx context.Context, cm cluster.Member) error {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	kept := c.followStop(ctx, n, m)
	if err := moveAside(ctx, n); err != nil {
		return err
	}
	_, err = c.waitStopped(ctx, n, m)
	kept()
	return err
}

// Kill sends SIGKILL to the member's etcd process and moves the manifest
// aside at once, so that the kubelet does not start it again.
func (c *Cluster) Kill(ctx context.Context, cm cluster.Member) error {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	kept := c.followStop(ctx, n, m)
	defer kept()
	cs, err := etcdContainers(ctx, n)
	if err != nil {
		return err
	}
	for _, ct := range cs {
		if !ct.running() {
			continue
		}
		if ct.Pid <= 0 {
			return fmt.Errorf("no pid for the etcd container %s on %s", ct.ID, m.name)
		}
		if _, err := nodeRun(ctx, n, nil, "kill", "-KILL", strconv.Itoa(ct.Pid)); err != nil {
			return fmt.Errorf("killing etcd on %s: %w", m.name, err)
		}
	}
	if err := moveAside(ctx, n); err != nil {
		return err
	}
	_, err = c.waitStopped(ctx, n, m)
	return err
}

// Start puts the manifest back and waits until the member serves.
func (c *Cluster) Start(ctx context.Context, cm cluster.Member) error {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := nodeRun(ctx, n, nil, "sh", "-c", fmt.Sprintf("if [ -f %[1]s ]; then mv %[1]s %[2]s; fi", stoppedManifest, etcdManifest)); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "start", Err: err}
	}
	return c.waitServing(ctx, n, m, "start", start, nil)
}

func moveAside(ctx context.Context, n nodes.Node) error {
	_, err := nodeRun(ctx, n, nil, "sh", "-c", fmt.Sprintf("if [ -f %[1]s ]; then mv %[1]s %[2]s; fi", etcdManifest, stoppedManifest))
	if err != nil {
		return fmt.Errorf("moving the etcd manifest aside on %s: %w", n.String(), err)
	}
	return nil
}

// waitStopped waits until no etcd container runs on the node and returns
// when the last one exited, as containerd recorded it (when it saw none
// exit, when it found none running).
func (c *Cluster) waitStopped(ctx context.Context, n nodes.Node, m *Member) (time.Time, error) {
	deadline := time.Now().Add(c.cfg.startTimeout)
	for {
		cs, err := etcdContainers(ctx, n)
		if err != nil {
			return time.Time{}, err
		}
		running := false
		var exited time.Time
		for _, ct := range cs {
			running = running || ct.running()
			if ct.exited() && ct.Finished.After(exited) {
				exited = ct.Finished
			}
		}
		if !running {
			if exited.IsZero() {
				exited = time.Now()
			}
			return exited, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, &cluster.MemberError{Member: m.name, Op: "stop", Err: fmt.Errorf("etcd still running %s after its manifest was moved aside", c.cfg.startTimeout)}
		}
		if err := etcdops.Sleep(ctx, 500*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// podGoneTimeout bounds the wait for the kubelet to clean a stopped etcd
// pod away (measured about 3 s after its container exits); past it the new
// manifest goes in anyway, and the kubelet's back-off decides.
const podGoneTimeout = 20 * time.Second

// etcdPodDirs lists the kubelet's folders of the node's etcd pods.
const etcdPodDirs = "ls -d /var/lib/kubelet/pods/*/containers/etcd 2>/dev/null || true"

// waitPodGone waits until the kubelet holds no etcd pod on the node: it
// removes a pod's folder once the pod is terminated and cleaned up, and a
// new etcd pod then starts without waiting on the old one.
func waitPodGone(ctx context.Context, n nodes.Node) error {
	deadline := time.Now().Add(podGoneTimeout)
	for {
		out, err := nodeOutput(ctx, n, "sh", "-c", etcdPodDirs)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" || time.Now().After(deadline) {
			return nil
		}
		if err := etcdops.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}
