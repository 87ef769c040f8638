package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/nodeimage"
	"etcd-upgrade-e2e/framework/nodeimage/dockerenv"
)

// The offline node image: built (or found) once, then a single-node and a
// three-control-plane cluster created through kind's own Go library, with
// kubeadm selecting etcd 3.5.17 from the preloaded images.
var _ = Describe("kind node image without a registry", Label(nodeImageLabels...), Ordered, func() {
	const (
		kubeVersion = nodeimage.DefaultKubernetesVersion
		etcdVersion = "3.5.17"
	)
	var (
		builder  *nodeimage.Builder
		image    nodeimage.NodeImage
		etcdctl  string // an etcdctl that can ask for a serializable member list
		provider *cluster.Provider
	)

	// They belong to kind runs of the matrix, not to one path run alone.
	if !slices.Contains(config.Providers(), "kind") || config.Path != "" || config.Scenario != "" {
		return
	}

	BeforeAll(func(ctx SpecContext) {
		if st := dockerenv.Check(ctx); !st.Usable() {
			skipKind(config, st.Problem)
		}
		// CI starts from a fresh machine: let the builder install debootstrap
		// (as root) when it is missing.
		builder = nodeimage.New(nodeimage.WithLog(GinkgoWriter), nodeimage.WithInstallDeps(true))
		env, err := builder.PrepareDocker(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Apply()).To(Succeed())
		if !env.Privileged {
			AddReportEntry("docker", fmt.Sprintf("daemon refuses --privileged (%s); kind runs through %s", env.Refusal, env.Wrapper))
		}

		start := time.Now()
		if config.NodeImage != "" {
			// -node-image names an image that already carries etcd 3.5.17.
			image = nodeimage.NodeImage{Ref: config.NodeImage, Source: "-node-image"}
		} else {
			image, err = builder.NodeImage(ctx, kubeVersion, []string{etcdVersion})
			Expect(err).NotTo(HaveOccurred())
			Expect(image.EtcdImages).To(HaveKeyWithValue(etcdVersion, "registry.k8s.io/etcd:3.5.17-0"))
		}
		_, err = builder.LoadBalancerImage(ctx)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("node image", fmt.Sprintf("%s (%s) ready in %s", image.Ref, image.Source, time.Since(start).Round(100*time.Millisecond)))

		// etcdctl 3.5 always asks for a linearizable member list; 3.6 can
		// ask each member for its own view (--consistency=s).
		bins, err := etcdbin.NewProvisioner(etcdbin.WithLog(GinkgoWriter)).GetString(ctx, "3.6.5")
		Expect(err).NotTo(HaveOccurred())
		etcdctl = bins.Etcdctl

		provider = cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(ginkgoLogger{}))
	}, NodeTimeout(nodeImageTimeout))

	It("creates a single-node cluster whose etcd runs exactly 3.5.17", func(ctx SpecContext) {
		name := clusterName("single")
		elapsed := createCluster(provider, name, image.Ref, kindConfig(1, nodeimage.EtcdImageTag(etcdVersion)))
		AddReportEntry("single-node cluster creation", elapsed.Round(100*time.Millisecond).String())

		nodes := controlPlanes(provider, name)
		Expect(nodes).To(HaveLen(1))
		expectKubeadmInitDone(nodes[0])
		expectEtcdManifestImage(nodes[0], nodeimage.EtcdImageRef(etcdVersion))
		installEtcdctl(nodes, etcdctl)
		Eventually(func() (string, error) { return etcdServerVersion(nodes[0]) }).
			WithContext(ctx).WithTimeout(kindServeTimeout).WithPolling(2 * time.Second).
			Should(Equal(etcdVersion))

		By("loading an etcd version the node image does not carry into the running node")
		Expect(builder.LoadEtcdImages(ctx, nodes, "3.5.21")).To(Succeed())
		out, err := nodeOutput(nodes[0], "ctr", "--namespace=k8s.io", "images", "list", "--quiet")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Fields(out)).To(ContainElement(nodeimage.EtcdImageRef("3.5.21")))
	}, NodeTimeout(kindClusterSpecTimeout))

	It("creates an HA cluster whose three etcd members agree on membership", func(ctx SpecContext) {
		name := clusterName("ha")
		elapsed := createCluster(provider, name, image.Ref, kindConfig(3, nodeimage.EtcdImageTag(etcdVersion)))
		AddReportEntry("HA (3 control planes) cluster creation", elapsed.Round(100*time.Millisecond).String())

		nodes := controlPlanes(provider, name)
		Expect(nodes).To(HaveLen(3))
		installEtcdctl(nodes, etcdctl)
		var views []string
		for _, n := range nodes {
			expectEtcdManifestImage(n, nodeimage.EtcdImageRef(etcdVersion))
			Eventually(func() (string, error) { return etcdServerVersion(n) }).
				WithContext(ctx).WithTimeout(kindServeTimeout).WithPolling(2*time.Second).
				Should(Equal(etcdVersion), "etcd version on %s", n.String())
			members, err := etcdMembers(n)
			Expect(err).NotTo(HaveOccurred(), "member list on %s", n.String())
			GinkgoWriter.Printf("%s sees %v\n", n.String(), members)
			Expect(members).To(HaveLen(3), "members seen by %s", n.String())
			views = append(views, strings.Join(members, ","))
		}
		for i, v := range views {
			Expect(v).To(Equal(views[0]), "member list of %s differs from %s's", nodes[i].String(), nodes[0].String())
			Expect(v).NotTo(ContainSubstring("learner=true"), "a member is still a learner")
		}
	}, NodeTimeout(kindClusterSpecTimeout))
})

// clusterName is unique per run and starts with etcdup-, which the harness
// uses to find (and clean) its clusters.
func clusterName(kind string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "etcdup-img-" + kind + "-" + hex.EncodeToString(b)
}

// kindConfig has no CNI and no kube-proxy (neither can be built offline;
// kubeadm and etcd do not need them) and selects the etcd image by tag.
func kindConfig(controlPlanes int, etcdTag string) []byte {
	var sb strings.Builder
	sb.WriteString("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  disableDefaultCNI: true\n  kubeProxyMode: none\n  apiServerAddress: 127.0.0.1\nnodes:\n")
	for i := 0; i < controlPlanes; i++ {
		sb.WriteString("- role: control-plane\n")
	}
	fmt.Fprintf(&sb, "kubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  etcd:\n    local:\n      imageTag: %s\n", etcdTag)
	return []byte(sb.String())
}

// createCluster creates the cluster and registers its deletion first, so
// that a failed create is cleaned up too.
func createCluster(provider *cluster.Provider, name, image string, raw []byte) time.Duration {
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	// A network of its own (kind creates it), so that nothing is left in
	// kind's shared network and other clusters are not touched.
	GinkgoT().Setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", name)
	DeferCleanup(func(ctx SpecContext) {
		_, err := dockerenv.RemoveNetworkIfUnused(ctx, name)
		Expect(err).NotTo(HaveOccurred())
	})
	DeferCleanup(func() {
		Expect(provider.Delete(name, kubeconfig)).To(Succeed())
	})
	start := time.Now()
	err := provider.Create(name,
		cluster.CreateWithRawConfig(raw),
		cluster.CreateWithNodeImage(image),
		cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
	elapsed := time.Since(start)
	if err != nil {
		dir := filepath.Join(config.ArtifactsDir(), "kind-logs", name)
		if lerr := provider.CollectLogs(name, dir); lerr == nil {
			GinkgoWriter.Printf("kind logs of %s in %s\n", name, dir)
		}
	}
	Expect(err).NotTo(HaveOccurred(), "kind create cluster %s", name)
	GinkgoWriter.Printf("cluster %s created in %s\n", name, elapsed.Round(100*time.Millisecond))
	return elapsed
}

func controlPlanes(provider *cluster.Provider, name string) []nodes.Node {
	all, err := provider.ListNodes(name)
	Expect(err).NotTo(HaveOccurred())
	cps, err := nodeutils.ControlPlaneNodes(all)
	Expect(err).NotTo(HaveOccurred())
	sort.Slice(cps, func(i, j int) bool { return cps[i].String() < cps[j].String() })
	return cps
}

func nodeOutput(n nodes.Node, command string, args ...string) (string, error) {
	var out strings.Builder
	err := n.Command(command, args...).SetStdout(&out).SetStderr(&out).Run()
	return out.String(), err
}

func expectKubeadmInitDone(n nodes.Node) {
	out, err := nodeOutput(n, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "--raw=/readyz")
	Expect(err).NotTo(HaveOccurred(), "API server readyz: %s", out)
	Expect(strings.TrimSpace(out)).To(Equal("ok"))
}

func expectEtcdManifestImage(n nodes.Node, want string) {
	out, err := nodeOutput(n, "grep", "image:", "/etc/kubernetes/manifests/etcd.yaml")
	Expect(err).NotTo(HaveOccurred(), out)
	Expect(strings.TrimSpace(out)).To(Equal("image: "+want), "etcd image on %s", n.String())
}

// installEtcdctl copies a static etcdctl into each node; it then talks to
// the node's own etcd member on the node's loopback.
func installEtcdctl(ns []nodes.Node, etcdctl string) {
	for _, n := range ns {
		f, err := os.Open(etcdctl)
		Expect(err).NotTo(HaveOccurred())
		err = n.Command("sh", "-c", "cat > /usr/local/bin/etcdctl && chmod 755 /usr/local/bin/etcdctl").SetStdin(f).Run()
		f.Close()
		Expect(err).NotTo(HaveOccurred(), "copying etcdctl to %s", n.String())
	}
}

func etcdctlOn(n nodes.Node, args ...string) (string, error) {
	base := []string{
		"--endpoints=https://127.0.0.1:2379",
		"--cacert=/etc/kubernetes/pki/etcd/ca.crt",
		"--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		"--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
		"--command-timeout=10s",
		"-w", "json",
	}
	var out, errOut strings.Builder
	err := n.Command("etcdctl", append(base, args...)...).SetStdout(&out).SetStderr(&errOut).Run()
	if err != nil {
		return "", fmt.Errorf("etcdctl %v on %s: %w: %s", args, n.String(), err, errOut.String())
	}
	return out.String(), nil
}

// etcdServerVersion is the version the member on n reports about itself.
func etcdServerVersion(n nodes.Node) (string, error) {
	out, err := etcdctlOn(n, "endpoint", "status")
	if err != nil {
		return "", err
	}
	var st []struct {
		Status struct {
			Version string `json:"version"`
		} `json:"Status"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		return "", fmt.Errorf("endpoint status on %s: %v: %s", n.String(), err, out)
	}
	return st[0].Status.Version, nil
}

// etcdMembers is n's own member list (serializable: answered from n's local
// membership, not forwarded to the leader), as sorted "name/id learner=bool".
func etcdMembers(n nodes.Node) ([]string, error) {
	out, err := etcdctlOn(n, "member", "list", "--consistency=s")
	if err != nil {
		return nil, err
	}
	var resp struct {
		Members []struct {
			ID        uint64 `json:"ID"`
			Name      string `json:"name"`
			IsLearner bool   `json:"isLearner"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("member list on %s: %w: %s", n.String(), err, out)
	}
	var members []string
	for _, m := range resp.Members {
		members = append(members, fmt.Sprintf("%s/%x learner=%t", m.Name, m.ID, m.IsLearner))
	}
	sort.Strings(members)
	return members, nil
}

// ginkgoLogger sends kind's status lines, with the time, to the spec's
// output.
type ginkgoLogger struct{}

var _ kindlog.Logger = ginkgoLogger{}

func (ginkgoLogger) printf(level, format string, args ...any) {
	GinkgoWriter.Printf("%s kind%s: %s\n", time.Now().Format("15:04:05.000"), level, fmt.Sprintf(format, args...))
}

func (l ginkgoLogger) Warn(m string)                      { l.printf(" WARN", "%s", m) }
func (l ginkgoLogger) Warnf(f string, a ...any)           { l.printf(" WARN", f, a...) }
func (l ginkgoLogger) Error(m string)                     { l.printf(" ERROR", "%s", m) }
func (l ginkgoLogger) Errorf(f string, a ...any)          { l.printf(" ERROR", f, a...) }
func (l ginkgoLogger) V(kindlog.Level) kindlog.InfoLogger { return l }
func (l ginkgoLogger) Info(m string)                      { l.printf("", "%s", m) }
func (l ginkgoLogger) Infof(f string, a ...any)           { l.printf("", f, a...) }
func (ginkgoLogger) Enabled() bool                        { return true }
