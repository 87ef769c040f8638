package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/fscache"
	"etcd-upgrade-e2e/framework/kind"
	"etcd-upgrade-e2e/framework/nodeimage"
	"etcd-upgrade-e2e/framework/nodeimage/dockerenv"
	"etcd-upgrade-e2e/framework/upgrade"
)

// kindSetup is what every kind spec of this process shares: Docker checked
// and made usable for kind, and one node image carrying the etcd images of
// every selected scenario.
type kindSetup struct {
	skip    string // why kind specs cannot run here; "" when they can
	err     error  // a failure to provide the images
	builder *nodeimage.Builder
	image   nodeimage.NodeImage
}

var (
	kindOnce   sync.Once
	kindShared kindSetup

	kitOnce sync.Once
	kit     *kind.UpgradeKit
	kitErr  error
)

// upgradeKit provides, once per process and only for specs that need it,
// what a real `kubeadm upgrade` to KubeadmUpgradeTarget needs: building
// that release's programs and images costs minutes on a cold machine.
func upgradeKit(ctx context.Context, b *nodeimage.Builder) (*kind.UpgradeKit, error) {
	kitOnce.Do(func() {
		k, err := b.UpgradeKit(ctx, KubeadmUpgradeTarget)
		if err != nil {
			kitErr = fmt.Errorf("the upgrade kit of Kubernetes %s: %w", KubeadmUpgradeTarget, err)
			return
		}
		kit = &kind.UpgradeKit{
			Version: k.Version,
			Kubeadm: k.Binaries.Path("kubeadm"), Kubelet: k.Binaries.Path("kubelet"), Kubectl: k.Binaries.Path("kubectl"),
			Images:  k.Images,
			EtcdPin: k.Etcd,
			Load:    b.LoadImages,
		}
	})
	return kit, kitErr
}

// KubeadmUpgradeTarget is the Kubernetes release the kubeadm-upgrade
// strategy moves a 1.33 kind cluster to: 1.34.2, whose kubeadm pins etcd
// 3.6.5.
const KubeadmUpgradeTarget = "v1.34.2"

// usesKubeadmUpgrade says whether a path has a kubeadm-upgrade hop.
func usesKubeadmUpgrade(p upgrade.Path) bool {
	for _, h := range p.Hops {
		if h.Strategy == upgrade.KubeadmUpgrade {
			return true
		}
	}
	return false
}

// prepareKind runs the pre-flight once per process. A host that cannot run
// kind (no or old Docker, host limits) makes every kind spec skip with the
// reason, or fail with -require-kind; a fault of the harness (its probe or
// node image failing to build) fails them.
func prepareKind(ctx context.Context, cfg Config, bins *etcdbin.Provisioner) kindSetup {
	kindOnce.Do(func() {
		s := &kindShared
		if st := dockerenv.Check(ctx); !st.Usable() {
			s.skip = st.Problem
			return
		}
		changed, problem := kind.EnsureHostLimits(os.Geteuid() == 0)
		if len(changed) > 0 {
			GinkgoWriter.Printf("raised host limits for kind: %s\n", strings.Join(changed, ", "))
		}
		if problem != "" {
			s.skip = problem
			return
		}
		s.builder = nodeimage.New(nodeimage.WithLog(GinkgoWriter), nodeimage.WithEtcdProvisioner(bins),
			// A fresh CI machine lacks debootstrap; as root it is installed.
			nodeimage.WithInstallDeps(os.Geteuid() == 0))
		env, err := s.builder.PrepareDocker(ctx)
		var probeErr *nodeimage.ProbeBuildError
		switch {
		case errors.As(err, &probeErr):
			s.err = err
			return
		case err != nil:
			s.skip = "Docker cannot run kind nodes here: " + err.Error()
			return
		}
		if s.err = env.Apply(); s.err != nil {
			return
		}
		if cfg.NodeImage != "" {
			if ok, err := nodeimage.ImagePresent(ctx, cfg.NodeImage); !ok || err != nil {
				s.err = fmt.Errorf("-node-image %s: not present on the Docker daemon (%v)", cfg.NodeImage, err)
				return
			}
			s.image = nodeimage.NodeImage{Ref: cfg.NodeImage}
		} else if s.image, s.err = s.builder.NodeImage(ctx, nodeimage.DefaultKubernetesVersion, neededVersions("kind")); s.err != nil {
			return
		}
		_, s.err = s.builder.LoadBalancerImage(ctx)
	})
	return kindShared
}

// skipKind skips a kind spec that cannot run on this host, or fails it
// where kind is required (CI, the Prow kind jobs).
func skipKind(cfg Config, why string) {
	if cfg.RequireKind {
		Fail("kind is required here (-require-kind or $" + RequireKindEnv + "), but cannot run: " + why)
	}
	Skip("kind: " + why)
}

// newKindCluster builds the scenario's kind cluster. Kind specs hold one of
// -kind-parallel slot locks for their whole run, so that no more clusters
// than that run at once on the host, whatever the Ginkgo processes or
// terminals: by default one.
func newKindCluster(ctx context.Context, in UpgradePathSpecInput) cluster.Cluster {
	setup := prepareKind(ctx, in.Config, in.Binaries)
	if setup.skip != "" {
		skipKind(in.Config, setup.skip)
	}
	Expect(setup.err).NotTo(HaveOccurred(), "kind node image")

	slots := make([]string, in.Config.KindParallel)
	for i := range slots {
		slots[i] = filepath.Join(in.Binaries.CacheDir(), fmt.Sprintf("kind-spec-%d.lock", i))
	}
	unlock, slot, err := fscache.LockAny(ctx, slots)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(unlock)
	if len(slots) > 1 {
		GinkgoWriter.Printf("kind slot %d of %d\n", slot+1, len(slots))
	}

	opts := []kind.Option{
		kind.WithName(kindClusterName(in.Scenario.Name)),
		kind.WithDir(in.ArtifactsDir),
		kind.WithNodeImage(setup.image.Ref),
		kind.WithControlPlanes(in.Scenario.Path.Size),
		kind.WithSnapshotCount(in.Config.SnapshotCount),
		kind.WithKeep(in.Keep),
		kind.WithLog(GinkgoWriter),
		kind.WithStartTimeout(DefaultKindMemberTimeout),
		// Control-plane kubelets reach the API through kind's load balancer
		// (kubeadm before 1.31): with kubeadm 1.33's local mode a kubelet
		// waits ~34 s for its own API server, whose only etcd is the one
		// restarting, before it starts the new etcd (framework/kind docs).
		kind.WithKubeletLocalMode(false),
	}
	if setup.builder != nil {
		opts = append(opts, kind.WithImageLoader(setup.builder.LoadEtcdImages))
		if usesKubeadmUpgrade(in.Scenario.Path) {
			By("providing what kubeadm upgrade to Kubernetes " + KubeadmUpgradeTarget + " needs (built once, then cached)")
			k, err := upgradeKit(ctx, setup.builder)
			Expect(err).NotTo(HaveOccurred())
			opts = append(opts, kind.WithUpgradeKit(*k))
		}
	}
	cl, err := kind.New(opts...)
	Expect(err).NotTo(HaveOccurred())
	return cl
}

// kindClusterName is unique per spec and starts with kind.NamePrefix.
func kindClusterName(scenario string) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	s := shortName(scenario)
	if len(s) > 22 {
		s = s[:22]
	}
	return kind.NamePrefix + strings.Trim(s, "-.") + "-" + hex.EncodeToString(b)
}
