package kind

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"etcd-upgrade-e2e/framework/internal/etcdops"
)

// deleteCluster deletes a kind cluster by name: kind's own delete (every
// container with the cluster label, and the cluster's kubeconfig entry),
// then a sweep for containers that still appear with the label, then the
// cluster's docker network.
func deleteCluster(ctx context.Context, p *kindcluster.Provider, name, kubeconfig string) error {
	var errs []error
	if err := p.Delete(name, kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("kind delete cluster %s: %w", name, err))
	}
	if err := sweepContainers(ctx, name); err != nil {
		errs = append(errs, err)
	}
	if err := removeNetwork(ctx, name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sweepContainers removes containers with the cluster's label until none
// shows up twice in a row. A Ctrl-C reaches kind's own `docker run`
// commands too (same process group): the CLI dies, but the daemon still
// creates and starts the container, after kind's delete listed them.
func sweepContainers(ctx context.Context, name string) error {
	var last error
	for clean, i := 0, 0; clean < 2 && i < 15; i++ {
		ids, err := docker(ctx, "ps", "--all", "--quiet", "--filter", "label="+clusterLabel+"="+name)
		if err != nil {
			last = err
		} else if f := strings.Fields(ids); len(f) > 0 {
			clean = 0
			if _, err := docker(ctx, append([]string{"rm", "--force", "--volumes"}, f...)...); err != nil {
				last = err
			}
		} else {
			clean++
			last = nil
		}
		if clean < 2 {
			if err := etcdops.Sleep(ctx, 2*time.Second); err != nil {
				return err
			}
		}
	}
	return last
}

func removeNetwork(ctx context.Context, name string) error {
	out, err := docker(ctx, "network", "ls", "--quiet", "--filter", "name=^"+name+"$")
	if err != nil || strings.TrimSpace(out) == "" {
		return err
	}
	// A container being removed may still hold an endpoint for a moment.
	for i := 0; ; i++ {
		_, err = docker(ctx, "network", "rm", name)
		if err == nil || i == 5 {
			return err
		}
		if err := etcdops.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// Leftovers is what CleanupLeftovers found and removed.
type Leftovers struct {
	Clusters   []string
	Containers []string
	Networks   []string
}

func (l Leftovers) String() string {
	if len(l.Clusters)+len(l.Containers)+len(l.Networks) == 0 {
		return "no leftovers"
	}
	return fmt.Sprintf("clusters %v, containers %v, networks %v", l.Clusters, l.Containers, l.Networks)
}

// CleanupLeftovers deletes every kind cluster, node container and docker
// network whose name starts with prefix (NamePrefix, or a longer prefix of
// it), e.g. after a run that was killed.
func CleanupLeftovers(ctx context.Context, prefix string) (Leftovers, error) {
	var l Leftovers
	if !strings.HasPrefix(prefix, NamePrefix) {
		return l, fmt.Errorf("prefix %q does not start with %q: refusing to delete what the harness did not make", prefix, NamePrefix)
	}
	p := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
	var errs []error
	clusters, err := p.List()
	if err != nil {
		errs = append(errs, fmt.Errorf("listing kind clusters: %w", err))
	}
	for _, name := range clusters {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if err := deleteCluster(ctx, p, name, ""); err != nil {
			errs = append(errs, err)
		}
		l.Clusters = append(l.Clusters, name)
	}
	// Containers of a cluster kind no longer lists, and build containers.
	out, err := docker(ctx, "ps", "--all", "--format", "{{.Names}}")
	if err != nil {
		errs = append(errs, err)
	}
	var names []string
	for _, n := range strings.Fields(out) {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		if _, err := docker(ctx, append([]string{"rm", "--force", "--volumes"}, names...)...); err != nil {
			errs = append(errs, err)
		}
		l.Containers = names
	}
	out, err = docker(ctx, "network", "ls", "--format", "{{.Name}}")
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range strings.Fields(out) {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		if _, err := docker(ctx, "network", "rm", n); err != nil {
			errs = append(errs, err)
			continue
		}
		l.Networks = append(l.Networks, n)
	}
	return l, errors.Join(errs...)
}
