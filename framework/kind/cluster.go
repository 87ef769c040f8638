package kind

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/kindconfigs"
)

// Cluster is a kind cluster whose control-plane etcd members are under
// test; it implements cluster.Cluster.
type Cluster struct {
	cfg        config
	provider   *kindcluster.Provider
	kubeconfig string

	// created is closed when kind's create has returned (it cannot be
	// cancelled, so Close waits for it before deleting).
	created   chan struct{}
	createErr error

	members etcdops.Set[*Member]
	timings timings

	mu       sync.Mutex // guards the fields below
	tls      *tls.Config
	pending  []*Member       // control planes kind created that no Join claimed yet
	prepared []*preparedNode // containers started ahead of their joins (PrepareJoins)
	next     int             // number of the next control-plane container
	closed   bool

	background sync.WaitGroup // containers being prepared
}

var _ cluster.Cluster = (*Cluster)(nil)

// New prepares a cluster; Init creates it.
func New(opts ...Option) (*Cluster, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	var errs []error
	if !strings.HasPrefix(cfg.name, NamePrefix) {
		errs = append(errs, fmt.Errorf("cluster name %q must start with %q, which cleanup looks for", cfg.name, NamePrefix))
	}
	if cfg.dir == "" {
		errs = append(errs, errors.New("no artifacts directory (WithDir)"))
	}
	if cfg.nodeImage == "" {
		errs = append(errs, errors.New("no node image (WithNodeImage)"))
	}
	if cfg.controlPlanes < 2 {
		// kind only runs its load balancer for two or more control planes,
		// and replacing the only API server endpoint would break the cluster.
		errs = append(errs, fmt.Errorf("%d control planes: the kind provider needs at least 2", cfg.controlPlanes))
	}
	if cfg.snapshotCount < 1 {
		errs = append(errs, fmt.Errorf("snapshot count %d must be positive", cfg.snapshotCount))
	}
	if cfg.upgradeKit != nil {
		if err := cfg.upgradeKit.validate(); err != nil {
			errs = append(errs, fmt.Errorf("upgrade kit: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kind cluster: %w", err)
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return nil, fmt.Errorf("kind cluster: artifacts dir: %w", err)
	}
	c := &Cluster{
		cfg:        cfg,
		kubeconfig: filepath.Join(cfg.dir, "kubeconfig"),
		next:       cfg.controlPlanes + 1,
	}
	lg := newLogger(cfg.log, cfg.verbose)
	lg.clock = &statusClock{record: func(t cluster.Timing) { c.timings.add(t) }}
	c.provider = kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(lg))
	return c, nil
}

// Provider names this provider.
func (c *Cluster) Provider() string { return "kind" }

// Name is the kind cluster name.
func (c *Cluster) Name() string { return c.cfg.name }

// ArtifactsDir holds the kind config, kubeconfig, exported logs and the
// output of every kubeadm join and reset.
func (c *Cluster) ArtifactsDir() string { return c.cfg.dir }

// Kubeconfig is the cluster's kubeconfig (API server on a loopback port).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// Members returns the current members in join order.
func (c *Cluster) Members() []cluster.Member {
	return cluster.AsMembers(c.members.Current())
}

// KindMembers returns the current members with their kind details.
func (c *Cluster) KindMembers() []*Member {
	return c.members.Current()
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.cfg.log, format+"\n", args...)
}

// createMu serialises kind creates in this process: the docker network is
// chosen through the process environment (KIND_EXPERIMENTAL_DOCKER_NETWORK).
var createMu sync.Mutex

// Init creates the kind cluster with all its initial control planes at
// etcd v (kubeadm init on the first, kubeadm join --control-plane with
// learner promotion on the others) and returns the first member.
func (c *Cluster) Init(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	c.mu.Lock()
	if c.created != nil || c.closed {
		c.mu.Unlock()
		return nil, errors.New("kind cluster: Init called twice or after Close")
	}
	c.created = make(chan struct{})
	c.mu.Unlock()

	kc := kindconfigs.Default(v.String())
	kc.Name = c.cfg.name
	kc.ControlPlanes = c.cfg.controlPlanes
	kc.SnapshotCount = c.cfg.snapshotCount
	kc.FileCheckFrequency, kc.SyncFrequency = c.cfg.fileCheck, c.cfg.syncFrequency
	kc.KubeletLocalAPIServer = c.cfg.kubeletLocal
	raw, err := kindconfigs.Render(kc)
	if err != nil {
		close(c.created)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.cfg.dir, "kind-config.yaml"), raw, 0o644); err != nil {
		close(c.created)
		return nil, fmt.Errorf("writing the kind config: %w", err)
	}

	start := time.Now()
	c.logf("creating kind cluster %s: %d control planes, etcd %s, node image %s", c.cfg.name, c.cfg.controlPlanes, v, c.cfg.nodeImage)
	go func() {
		defer close(c.created)
		createMu.Lock()
		defer createMu.Unlock()
		restore := setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", c.cfg.name)
		defer restore()
		err := c.provider.Create(c.cfg.name,
			kindcluster.CreateWithRawConfig(raw),
			kindcluster.CreateWithNodeImage(c.cfg.nodeImage),
			// Close deletes the cluster, after exporting its logs, also
			// when the create failed.
			kindcluster.CreateWithRetain(true),
			// Nodes stay NotReady without a CNI; etcd does not care.
			kindcluster.CreateWithWaitForReady(0),
			kindcluster.CreateWithKubeconfigPath(c.kubeconfig),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		)
		c.createErr = runErrorOutput(err)
	}()
	select {
	case <-c.created:
	case <-ctx.Done():
		return nil, fmt.Errorf("creating kind cluster %s: %w", c.cfg.name, ctx.Err())
	}
	if c.createErr != nil {
		return nil, &cluster.MemberError{Member: c.cfg.name + "-control-plane", Op: "init", LogLine: c.bootstrapEvidence(ctx), Err: fmt.Errorf("kind create cluster: %w", c.createErr)}
	}
	c.logf("kind cluster %s created in %s", c.cfg.name, time.Since(start).Round(100*time.Millisecond))

	cps, err := c.controlPlaneNodes()
	if err != nil {
		return nil, err
	}
	if len(cps) != c.cfg.controlPlanes {
		return nil, fmt.Errorf("kind created %d control planes, want %d", len(cps), c.cfg.controlPlanes)
	}
	certs, err := readClientCerts(ctx, cps[0])
	if err != nil {
		return nil, err
	}
	tc, err := certs.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client certificates of %s: %w", cps[0].String(), err)
	}
	var ms []*Member
	for _, n := range cps {
		ep, err := publishedEndpoint(ctx, n.String())
		if err != nil {
			return nil, err
		}
		ms = append(ms, &Member{name: n.String(), endpoint: ep, version: v})
	}
	c.mu.Lock()
	c.tls = tc
	c.pending = ms[1:]
	c.mu.Unlock()
	c.members.Add(ms[0])
	if !c.cfg.kubeletLocal {
		// The kubelets use the load balancer: give it the harness's config,
		// for the connections they hold already too.
		if err := c.timings.timed("load balancer for the kubelets", func() error {
			if err := c.updateLoadBalancer(ctx); err != nil {
				return err
			}
			return c.restartLoadBalancer(ctx)
		}); err != nil {
			return nil, err
		}
	}
	if err := c.timings.timed("first member serves", func() error {
		return c.waitServing(ctx, cps[0], ms[0], "init", start, nil)
	}); err != nil {
		return nil, err
	}
	c.logf("%s: initialised cluster at etcd %s (%s)", ms[0].name, v, ms[0].endpoint)
	return ms[0], nil
}

// Join adds a control-plane member at etcd v. While control planes that
// kind created are unclaimed, Join returns the next of them (kind joined
// it with kubeadm, as a learner then promoted); afterwards it adds a node.
func (c *Cluster) Join(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("kind cluster: Join after Close")
	}
	if len(c.pending) > 0 {
		m := c.pending[0]
		if m.Version() != v {
			c.mu.Unlock()
			return nil, fmt.Errorf("kind created %s at etcd %s; a join at %s needs the initial control planes claimed first", m.name, m.Version(), v)
		}
		c.pending = c.pending[1:]
		c.mu.Unlock()
		c.members.Add(m)
		n, err := c.node(m.name)
		if err != nil {
			return m, err
		}
		if err := c.waitServing(ctx, n, m, "join", time.Time{}, nil); err != nil {
			return m, err
		}
		c.logf("%s: joined by kind (kubeadm join --control-plane: learner, then promoted) at etcd %s", m.name, v)
		return m, nil
	}
	c.mu.Unlock()
	return c.addControlPlane(ctx, v)
}

// Remove takes m out as Cluster API does with a machine: out of the load
// balancer, `kubeadm reset` on the node (which removes its etcd member),
// its Node object deleted, its container removed.
func (c *Cluster) Remove(ctx context.Context, cm cluster.Member) error {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	peer, err := c.peerNode(m)
	if err != nil {
		return err
	}
	if err := c.updateLoadBalancer(ctx, m.name); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "remove", Err: err}
	}
	c.saveNodeLogs(ctx, n, "before-reset")

	out, resetErr := c.nodeRunLogged(ctx, n, m.name, "kubeadm-reset.log", "kubeadm", "reset", "--force", "--v=5")
	if resetErr != nil {
		c.logf("%s: kubeadm reset failed (%v); removing the member through etcd", m.name, etcdops.ShortErr(resetErr))
	}
	if err := c.ensureMemberGone(ctx, m); err != nil {
		me := &cluster.MemberError{Member: m.name, Op: "remove", Err: err}
		if line := kubeadmEtcdError(out); line != "" {
			me.LogSource, me.LogLine = "kubeadm reset on "+m.name, line
		} else if kl := kubeadmErrorLine(out); kl != "" {
			me.Err = fmt.Errorf("%w; %s", err, kl)
		}
		return me
	}
	if _, err := kubectl(ctx, peer, "delete", "node", m.name, "--ignore-not-found", "--wait=false"); err != nil {
		c.logf("%s: deleting the Node object: %v", m.name, etcdops.ShortErr(err))
	}
	if _, err := docker(ctx, "rm", "--force", "--volumes", m.name); err != nil {
		return fmt.Errorf("removing node container %s: %w", m.name, err)
	}
	c.members.Remove(m)
	c.logf("%s: removed (kubeadm reset, node deleted, container removed)", m.name)
	return nil
}

// ensureMemberGone checks that m left the membership; kubeadm reset only
// warns when it cannot remove the member, so the harness finishes the job
// through the leader, as an operator would.
func (c *Cluster) ensureMemberGone(ctx context.Context, m *Member) error {
	others := etcdops.Only(c, func(cm cluster.Member) bool { return cm != cluster.Member(m) })
	id := m.ID()
	members, err := etcdops.List(ctx, others)
	if err != nil {
		return fmt.Errorf("member list after kubeadm reset: %w", err)
	}
	for _, pm := range members {
		if pm.ID == id || (id == 0 && pm.Name == m.name) {
			c.logf("%s: still a member after kubeadm reset; removing it through etcd", m.name)
			if err := etcdops.Remove(ctx, others, pm.ID); err != nil {
				return fmt.Errorf("member remove: %w", err)
			}
		}
	}
	return nil
}

// Upgrade points the node's etcd static pod manifest at etcd v, as kubeadm
// upgrade does; the kubelet restarts the pod on the same data dir.
//
// kubeadm moves the old manifest out and the new one in at once. The new
// pod (another UID: the manifest's hash) then waits until the old one has
// terminated, and a pod that had to wait is retried after its pod worker's
// back-off: measured 11–15 s between the old etcd's exit and the new one's
// start on every restart. Here the old pod is
// stopped first (its manifest moved aside, as Stop does) and the new
// manifest is moved in once the kubelet has cleaned the old pod away; etcd
// sees the same thing, stopped and started again on its data dir at v.
func (c *Cluster) Upgrade(ctx context.Context, cm cluster.Member, v etcdbin.Version) error {
	begin := time.Now()
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	if err := c.ensureEtcdImage(ctx, n, v); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	manifest, err := nodeOutput(ctx, n, "cat", etcdManifest)
	if err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	updated, err := setManifestImage(manifest, kindconfigs.EtcdImageTag(v.String()))
	if err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	updated = setManifestFlags(updated, v)
	from := m.Version()
	// Write beside the manifest directory and rename into it, as kubeadm
	// does: the kubelet must never read half a manifest.
	next := "/etc/kubernetes/etcd.yaml.next"
	if err := nodeutils.WriteFile(n, next, updated); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	start := time.Now()
	c.timings.add(cluster.Timing{Name: "etcd image and manifest ready", Start: begin, End: start})
	if err := moveAside(ctx, n); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	exited, err := c.waitStopped(ctx, n, m)
	if err != nil {
		return err
	}
	if err := c.timings.timed("etcd static pod: the kubelet cleans the old pod away", func() error { return waitPodGone(ctx, n) }); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	// The old manifest goes too: a later Start must not bring it back.
	if _, err := nodeRun(ctx, n, nil, "sh", "-c", fmt.Sprintf("mv %s %s && rm -f %s", next, etcdManifest, stoppedManifest)); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "upgrade", Err: err}
	}
	m.setVersion(v)
	t, err := c.waitServingTimed(ctx, n, m, "upgrade", start, &v)
	// The old container is gone from containerd's list by the time the
	// timer first looks: its exit is the one waitStopped read.
	t.exitedAt(exited)
	c.timings.add(t.timings("etcd static pod: ")...)
	if err != nil {
		return err
	}
	c.logf("%s: upgraded in place %s -> %s", m.name, from, v)
	return nil
}

// Logs returns what the member's latest etcd container wrote (an exited
// one too: a member that would not start says why there).
func (c *Cluster) Logs(ctx context.Context, cm cluster.Member) (string, error) {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return "", err
	}
	cs, err := etcdContainers(ctx, n)
	if err == nil && len(cs) > 0 {
		log, lerr := containerLog(ctx, n, cs[len(cs)-1])
		if lerr == nil {
			return log, nil
		}
		err = lerr
	}
	// A stopped member's pod and its log folder are gone; what it wrote
	// until it exited was kept by Stop or Kill.
	if kept := m.stoppedLog(); kept != "" {
		return kept, nil
	}
	return "", err
}

func (c *Cluster) own(cm cluster.Member) (*Member, error) {
	return etcdops.Own[*Member](cm, "kind")
}

// setenv sets an environment variable and returns what restores it.
func setenv(key, value string) func() {
	old, had := os.LookupEnv(key)
	os.Setenv(key, value)
	return func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	}
}
