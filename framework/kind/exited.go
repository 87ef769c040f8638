package kind

import (
	"context"
	"fmt"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
)

// exitedTimeout bounds the look at a node that Exited takes: a check asks
// it for every member, and a node that does not answer in that time is
// left to the check's own timeout.
const exitedTimeout = 10 * time.Second

var _ cluster.ExitReporter = (*Cluster)(nil)

// Exited returns how the member's etcd ended when it died on its own: its
// static pod manifest is in the kubelet's folder (the harness did not stop
// it) and the newest etcd container of the node exited with a non-zero
// code. The kubelet starts such a container again with a growing back-off;
// a member that panics or fails at start-up exits again each time, so the
// checks record it as not running rather than wait out a timeout on it.
// nil while etcd runs, after a clean exit (an upgrade's restart), when the
// harness stopped it, or when the node cannot be read.
func (c *Cluster) Exited(cm cluster.Member) error {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), exitedTimeout)
	defer cancel()
	out, err := nodeOutput(ctx, n, "sh", "-c", fmt.Sprintf("if [ -f %s ]; then echo in-place; else echo moved-aside; fi", etcdManifest))
	if err != nil {
		return nil
	}
	cs, err := etcdContainers(ctx, n)
	if err != nil {
		return nil
	}
	ct, died := diedOnItsOwn(cs, out == "in-place\n")
	if !died {
		return nil
	}
	msg := fmt.Sprintf("the etcd container of %s exited with code %d at %s (run %d; the kubelet restarts it with back-off)",
		m.name, ct.ExitCode, ct.Finished.UTC().Format("15:04:05.000"), ct.Attempt)
	if line, _ := c.evidence(ctx, n, &ct); line != "" {
		msg += ": " + line
	}
	return fmt.Errorf("%s", msg)
}

// diedOnItsOwn returns the newest container when it exited with a non-zero
// code while the manifest was in place. cs is oldest first.
func diedOnItsOwn(cs []etcdContainer, manifestInPlace bool) (etcdContainer, bool) {
	if !manifestInPlace || len(cs) == 0 {
		return etcdContainer{}, false
	}
	newest := cs[len(cs)-1]
	if !newest.exited() || newest.ExitCode == 0 {
		return etcdContainer{}, false
	}
	return newest, true
}
