package kind

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"etcd-upgrade-e2e/framework/cluster"
)

// Clients of the members: through the ports Docker publishes on loopback,
// with the client certificates kubeadm wrote on the nodes.

// Client returns a client bound to m's published endpoint alone.
func (c *Cluster) Client(_ context.Context, cm cluster.Member) (*clientv3.Client, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	return newClient(tc, []string{cm.Endpoint()})
}

// ClusterClient returns a client over every current member's endpoint.
func (c *Cluster) ClusterClient(context.Context) (*clientv3.Client, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	var eps []string
	for _, m := range c.KindMembers() {
		eps = append(eps, m.endpoint)
	}
	if len(eps) == 0 {
		return nil, errors.New("kind cluster: no members")
	}
	return newClient(tc, eps)
}

func (c *Cluster) tlsConfig() (*tls.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls == nil {
		return nil, errors.New("kind cluster: not initialised")
	}
	return c.tls, nil
}

// readClientCerts copies the etcd CA and the healthcheck client
// certificate out of a control-plane node.
func readClientCerts(ctx context.Context, n nodes.Node) (clientCerts, error) {
	var cc clientCerts
	for _, f := range []struct {
		path string
		dst  *[]byte
	}{
		{"/etc/kubernetes/pki/etcd/ca.crt", &cc.ca},
		{"/etc/kubernetes/pki/etcd/healthcheck-client.crt", &cc.cert},
		{"/etc/kubernetes/pki/etcd/healthcheck-client.key", &cc.key},
	} {
		out, err := nodeOutput(ctx, n, "cat", f.path)
		if err != nil {
			return cc, fmt.Errorf("reading %s from %s: %w", f.path, n.String(), err)
		}
		*f.dst = []byte(out)
	}
	return cc, nil
}

// publishedEndpoint is the loopback address Docker published the node's
// etcd client port on.
func publishedEndpoint(ctx context.Context, container string) (string, error) {
	out, err := docker(ctx, "port", container, "2379/tcp")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "127.0.0.1:") {
			return "https://" + l, nil
		}
	}
	return "", fmt.Errorf("%s publishes etcd's port 2379 on no loopback address: %q", container, out)
}
