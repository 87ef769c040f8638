package kind

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/kindconfigs"
)

// UpgradeKit is what a real `kubeadm upgrade` of the nodes to the next
// Kubernetes release needs; nodeimage.Builder.UpgradeKit provides it.
type UpgradeKit struct {
	// Version is the Kubernetes release ("v1.34.2").
	Version string
	// Kubeadm, Kubelet and Kubectl are the release's programs on this host.
	Kubeadm, Kubelet, Kubectl string
	// Images are the release's control-plane, pause and etcd images, in the
	// local Docker engine.
	Images []string
	// EtcdPin is the etcd version kubeadm of the release pins ("3.6.5").
	EtcdPin string
	// Load copies images into nodes (nodeimage.Builder.LoadImages fits).
	Load func(ctx context.Context, targets []nodes.Node, images ...string) error
}

func (k UpgradeKit) validate() error {
	var errs []error
	if k.Version == "" {
		errs = append(errs, errors.New("no Kubernetes release"))
	}
	if k.Kubeadm == "" || k.Kubelet == "" || k.Kubectl == "" {
		errs = append(errs, errors.New("kubeadm, kubelet and kubectl are all needed"))
	}
	if k.Load == nil && len(k.Images) > 0 {
		errs = append(errs, errors.New("images but no way to load them"))
	}
	if k.EtcdPin == "" {
		errs = append(errs, errors.New("no etcd pin"))
	}
	return errors.Join(errs...)
}

// WithUpgradeKit makes the cluster able to run upgrade.KubeadmUpgrade.
func WithUpgradeKit(k UpgradeKit) Option { return func(c *config) { c.upgradeKit = &k } }

// WithKubeadmUpgradeTimeout bounds one `kubeadm upgrade apply` or `kubeadm
// upgrade node`.
func WithKubeadmUpgradeTimeout(d time.Duration) Option {
	return func(c *config) { c.upgradeTimeout = d }
}

var _ cluster.KubeadmUpgrader = (*Cluster)(nil)

// KubeadmUpgradeTarget names the release KubeadmUpgrade moves to.
func (c *Cluster) KubeadmUpgradeTarget() (string, error) {
	if c.cfg.upgradeKit == nil {
		return "", errors.New("kind cluster: no upgrade kit (WithUpgradeKit): kubeadm upgrade needs the next release's kubeadm, kubelet and images")
	}
	return c.cfg.upgradeKit.Version, nil
}

// KubeadmUpgrade upgrades m's node as the Kubernetes documentation says:
// the new kubeadm, `kubeadm upgrade apply` on the first control plane and
// `kubeadm upgrade node` on the others, then the new kubelet and kubectl
// and a kubelet restart. Before the first node, the release's images are
// loaded into every node and the cluster's etcd.local.imageTag is set to v,
// or removed when v is the release's own pin: kubeadm keeps a custom tag
// across upgrades, so without this etcd would stay where it is.
func (c *Cluster) KubeadmUpgrade(ctx context.Context, cm cluster.Member, first bool, v etcdbin.Version) error {
	kit := c.cfg.upgradeKit
	if kit == nil {
		_, err := c.KubeadmUpgradeTarget()
		return err
	}
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	op := "kubeadm upgrade node"
	args := []string{"upgrade", "node"}
	if first {
		op = "kubeadm upgrade apply"
		// Nodes stay NotReady without a CNI, which fails preflight checks
		// that have no bearing on etcd.
		args = []string{"upgrade", "apply", kit.Version, "--yes"}
		if err := c.timings.timed("images of "+kit.Version+" loaded, etcd tag set", func() error { return c.prepareKubeadmUpgrade(ctx, n, v) }); err != nil {
			return &cluster.MemberError{Member: m.name, Op: op, Err: err}
		}
	}
	args = append(args, "--ignore-preflight-errors=all", "--v=5")
	if err := c.ensureEtcdImage(ctx, n, v); err != nil {
		return &cluster.MemberError{Member: m.name, Op: op, Err: err}
	}
	if err := installProgram(ctx, n, kit.Kubeadm, "/usr/bin/kubeadm"); err != nil {
		return &cluster.MemberError{Member: m.name, Op: op, Err: err}
	}

	start := time.Now()
	uctx, cancel := context.WithTimeoutCause(ctx, c.cfg.upgradeTimeout, fmt.Errorf("%s did not finish within %s", op, c.cfg.upgradeTimeout))
	defer cancel()
	logFile := "kubeadm-upgrade.log"
	out, runErr := c.nodeRunLogged(uctx, n, m.name, logFile, "kubeadm", args...)
	took := time.Since(start).Round(100 * time.Millisecond)
	c.timePhases(op, m.name, logFile, start)
	if runErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := fmt.Errorf("%s %s failed after %s (output in %s)", op, kit.Version, took, filepath.Join(c.cfg.dir, "nodes", m.name, logFile))
		if cause := context.Cause(uctx); cause != nil {
			err = cause
		}
		// The member's own line, else the etcd answer kubeadm quotes; the
		// rest of kubeadm's error chain is the harness's, not the cluster's.
		me := &cluster.MemberError{Member: m.name, Op: op, LogLine: c.fatalLine(context.WithoutCancel(ctx), n), Err: err}
		if me.LogLine == "" {
			if line := kubeadmEtcdError(out); line != "" {
				me.LogSource, me.LogLine = "kubeadm "+op+" on "+m.name, line
			}
		}
		if kl := kubeadmErrorLine(out); kl != "" {
			me.Err = fmt.Errorf("%w; %s", err, kl)
		}
		return me
	}
	c.logf("%s: %s %s in %s (etcd %s -> %s)", m.name, op, kit.Version, took, m.Version(), v)
	// kubeadm succeeding is not enough: it keeps a custom etcd tag and skips
	// an etcd it judges newer, so the node must show what was asked for.
	if err := c.checkUpgradedManifests(ctx, n, kit.Version, v); err != nil {
		return &cluster.MemberError{Member: m.name, Op: op, Err: err}
	}
	from := m.Version()
	m.setVersion(v)

	kstart := time.Now()
	if err := c.timings.timed("kubelet "+kit.Version+" installed and restarted", func() error { return c.upgradeKubelet(ctx, n, kit) }); err != nil {
		return &cluster.MemberError{Member: m.name, Op: op, Err: err}
	}
	if err := c.timings.timed("member serves", func() error { return c.waitServing(ctx, n, m, "kubeadm upgrade", start, &v) }); err != nil {
		return err
	}
	c.logf("%s: kubelet %s restarted, etcd serving at %s (%s after the kubelet step; %s → %s in all %s)",
		m.name, kit.Version, v, time.Since(kstart).Round(100*time.Millisecond), from, v, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// prepareKubeadmUpgrade loads the release's images into every node and
// sets the etcd kubeadm will write.
func (c *Cluster) prepareKubeadmUpgrade(ctx context.Context, n nodes.Node, v etcdbin.Version) error {
	kit := c.cfg.upgradeKit
	var targets []nodes.Node
	for _, m := range c.KindMembers() {
		t, err := c.node(m.name)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	if len(kit.Images) > 0 {
		start := time.Now()
		if err := kit.Load(ctx, targets, kit.Images...); err != nil {
			return fmt.Errorf("loading the images of Kubernetes %s: %w", kit.Version, err)
		}
		c.logf("loaded the %d images of Kubernetes %s into %d nodes (%s)", len(kit.Images), kit.Version, len(targets), time.Since(start).Round(100*time.Millisecond))
	}
	tag := kindconfigs.EtcdImageTag(v.String())
	if v.String() == strings.TrimPrefix(kit.EtcdPin, "v") {
		// The release's own etcd, chosen by kubeadm as for a cluster that
		// never set a tag.
		tag = ""
	}
	old, err := setClusterEtcdTag(ctx, n, tag)
	if err != nil {
		return err
	}
	if tag == "" {
		c.logf("kubeadm-config: etcd.local.imageTag %s removed: kubeadm %s picks its own etcd (%s)", old, kit.Version, kit.EtcdPin)
	} else if old != tag {
		c.logf("kubeadm-config: etcd.local.imageTag %s -> %s, for kubeadm upgrade", old, tag)
	}
	return nil
}

// upgradeKubelet installs the release's kubelet and kubectl and restarts
// the kubelet; the static pods keep running through the restart.
func (c *Cluster) upgradeKubelet(ctx context.Context, n nodes.Node, kit *UpgradeKit) error {
	if err := installProgram(ctx, n, kit.Kubectl, "/usr/bin/kubectl"); err != nil {
		return err
	}
	if err := installProgram(ctx, n, kit.Kubelet, "/usr/bin/kubelet"); err != nil {
		return err
	}
	if _, err := nodeRun(ctx, n, nil, "systemctl", "restart", "kubelet"); err != nil {
		return fmt.Errorf("restarting the kubelet on %s: %w", n.String(), err)
	}
	return nil
}

// installProgram copies a host program into the node beside dst and
// renames it over dst, so that a running program (the kubelet) is replaced
// whole.
func installProgram(ctx context.Context, n nodes.Node, src, dst string) error {
	next := dst + ".next"
	if _, err := docker(ctx, "cp", src, n.String()+":"+next); err != nil {
		return fmt.Errorf("copying %s into %s: %w", src, n.String(), err)
	}
	if _, err := nodeRun(ctx, n, nil, "sh", "-c", fmt.Sprintf("chmod 0755 %[1]s && mv %[1]s %[2]s", next, dst)); err != nil {
		return fmt.Errorf("installing %s on %s: %w", dst, n.String(), err)
	}
	return nil
}

// checkUpgradedManifests reads the node's static pod manifests after
// kubeadm upgrade.
func (c *Cluster) checkUpgradedManifests(ctx context.Context, n nodes.Node, kubeVersion string, v etcdbin.Version) error {
	etcd, err := nodeOutput(ctx, n, "cat", etcdManifest)
	if err != nil {
		return err
	}
	apiserver, err := nodeOutput(ctx, n, "cat", apiserverManifest)
	if err != nil {
		return err
	}
	return upgradedManifests(etcd, apiserver, kubeVersion, kindconfigs.EtcdImageTag(v.String()))
}

const apiserverManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"

// upgradedManifests checks that the etcd manifest runs etcdTag and the
// kube-apiserver manifest runs kubeVersion.
func upgradedManifests(etcd, apiserver, kubeVersion, etcdTag string) error {
	var errs []error
	img, err := manifestImage(etcd)
	if err != nil {
		errs = append(errs, err)
	} else if !strings.HasSuffix(img, ":"+etcdTag) {
		errs = append(errs, fmt.Errorf("after kubeadm upgrade the etcd static pod runs %s, not etcd %s", img, etcdTag))
	}
	if !strings.Contains(apiserver, "/kube-apiserver:"+kubeVersion+"\n") {
		errs = append(errs, fmt.Errorf("after kubeadm upgrade the kube-apiserver static pod does not run %s", kubeVersion))
	}
	return errors.Join(errs...)
}
