package kind

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"etcd-upgrade-e2e/framework/cluster"
)

// Finding the nodes of a cluster and its members: kind names nodes
// <cluster>-control-plane, <cluster>-control-plane2, ...

// memberNode returns the kind member and its node.
func (c *Cluster) memberNode(cm cluster.Member) (*Member, nodes.Node, error) {
	m, err := c.own(cm)
	if err != nil {
		return nil, nil, err
	}
	n, err := c.node(m.name)
	if err != nil {
		return nil, nil, err
	}
	return m, n, nil
}

// node finds a node of this cluster by name.
func (c *Cluster) node(name string) (nodes.Node, error) {
	all, err := c.provider.ListNodes(c.cfg.name)
	if err != nil {
		return nil, fmt.Errorf("listing nodes of %s: %w", c.cfg.name, err)
	}
	for _, n := range all {
		if n.String() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("kind cluster %s has no node %s", c.cfg.name, name)
}

// controlPlaneNodes lists the control-plane nodes in creation order
// (control-plane, control-plane2, ...).
func (c *Cluster) controlPlaneNodes() ([]nodes.Node, error) {
	all, err := c.provider.ListNodes(c.cfg.name)
	if err != nil {
		return nil, fmt.Errorf("listing nodes of %s: %w", c.cfg.name, err)
	}
	cps, err := nodeutils.ControlPlaneNodes(all)
	if err != nil {
		return nil, err
	}
	sort.Slice(cps, func(i, j int) bool { return nodeNumber(cps[i].String()) < nodeNumber(cps[j].String()) })
	return cps, nil
}

// nodeNumber is the number kind puts after "control-plane" (none is 1).
func nodeNumber(name string) int {
	i := strings.LastIndex(name, "control-plane")
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(name[i+len("control-plane"):])
	if err != nil {
		return 1
	}
	return n
}

// peerNode is the node of a current member other than skip, to run
// kubectl and copy files from.
func (c *Cluster) peerNode(skip *Member) (nodes.Node, error) {
	for _, m := range c.KindMembers() {
		if m == skip {
			continue
		}
		if n, err := c.node(m.name); err == nil {
			return n, nil
		}
	}
	return nil, errors.New("kind cluster: no other control-plane node")
}
