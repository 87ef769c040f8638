package kind

import (
	"context"
	"io"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"etcd-upgrade-e2e/kindconfigs"
)

// NamePrefix starts the name of every cluster, container and network the
// harness makes, so that leftovers can be found and removed.
const NamePrefix = "etcdup-"

// ImageLoader loads the etcd images of versions into running nodes, for a
// version the node image lacks (nodeimage.Builder.LoadEtcdImages fits).
type ImageLoader func(ctx context.Context, targets []nodes.Node, versions ...string) error

type config struct {
	name           string
	dir            string
	nodeImage      string
	controlPlanes  int
	snapshotCount  int
	keep           bool
	log            io.Writer
	startTimeout   time.Duration
	joinTimeout    time.Duration
	fileCheck      time.Duration
	syncFrequency  time.Duration
	loadImages     ImageLoader
	verbose        bool
	kubeletLocal   bool
	upgradeKit     *UpgradeKit
	upgradeTimeout time.Duration
}

func defaultConfig() config {
	return config{
		controlPlanes: kindconfigs.DefaultControlPlanes,
		snapshotCount: 10000, // etcd's own default
		log:           io.Discard,
		startTimeout:  2 * time.Minute,
		joinTimeout:   3 * time.Minute,
		fileCheck:     kindconfigs.DefaultFileCheckFrequency,
		syncFrequency: kindconfigs.DefaultSyncFrequency,
		kubeletLocal:  true,
		// kubeadm waits up to 5 min for each static pod it changes.
		upgradeTimeout: 15 * time.Minute,
	}
}

// Option configures a Cluster.
type Option func(*config)

// WithName sets the kind cluster name; it must start with NamePrefix.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithDir sets the artifacts directory: kind config, logs, kubeconfig.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithNodeImage sets the kind node image; it must carry (or be given with
// WithImageLoader) the etcd images the cluster runs.
func WithNodeImage(ref string) Option { return func(c *config) { c.nodeImage = ref } }

// WithControlPlanes sets how many control planes Init creates at once with
// kind (default 3). The runner's Join calls during the build claim them in
// order; later Join calls add nodes.
func WithControlPlanes(n int) Option { return func(c *config) { c.controlPlanes = n } }

// WithSnapshotCount sets etcd's --snapshot-count (kubeadm extraArgs).
func WithSnapshotCount(n int) Option { return func(c *config) { c.snapshotCount = n } }

// WithKeep leaves the cluster running on Close (logs are still exported).
func WithKeep(keep bool) Option { return func(c *config) { c.keep = keep } }

// WithLog sets where progress lines go.
func WithLog(w io.Writer) Option { return func(c *config) { c.log = w } }

// WithVerbose also sends kind's detailed output (kubeadm's) to the log.
func WithVerbose(on bool) Option { return func(c *config) { c.verbose = on } }

// WithStartTimeout bounds how long a member may take to serve after its
// static pod changed (upgrade, start).
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// WithJoinTimeout bounds one `kubeadm join --control-plane`.
func WithJoinTimeout(d time.Duration) Option { return func(c *config) { c.joinTimeout = d } }

// WithKubeletPeriods sets the kubelet's fileCheckFrequency and
// syncFrequency.
func WithKubeletPeriods(fileCheck, sync time.Duration) Option {
	return func(c *config) { c.fileCheck, c.syncFrequency = fileCheck, sync }
}

// WithImageLoader sets how etcd images missing from a node are loaded.
func WithImageLoader(f ImageLoader) Option { return func(c *config) { c.loadImages = f } }

// WithKubeletLocalMode keeps (true, kubeadm 1.33's default) or turns off
// kubeadm's ControlPlaneKubeletLocalMode. Off, each control-plane kubelet
// reaches the API through kind's load balancer, and an etcd static pod
// restart is no longer held up by the node's own API server waiting for
// that very etcd (see kindconfigs).
func WithKubeletLocalMode(on bool) Option { return func(c *config) { c.kubeletLocal = on } }
