package kindconfigs

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite example-ha.yaml from Example()")

// parse reads a rendered config the way kind would, rejecting unknown
// fields.
func parse(t *testing.T, raw []byte) v1alpha4.Cluster {
	t.Helper()
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("rendered config is not a kind v1alpha4 Cluster: %v\n%s", err, raw)
	}
	return c
}

// patch finds the kubeadm patch of a kind and decodes it.
func patch(t *testing.T, c v1alpha4.Cluster, kind string) map[string]any {
	t.Helper()
	for _, p := range c.KubeadmConfigPatches {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(p), &m); err != nil {
			t.Fatalf("patch is not YAML: %v\n%s", err, p)
		}
		if m["kind"] == kind {
			return m
		}
	}
	t.Fatalf("no %s patch in %v", kind, c.KubeadmConfigPatches)
	return nil
}

func dig(t *testing.T, m map[string]any, path ...string) any {
	t.Helper()
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a map at %q", strings.Join(path, "."), p)
		}
		cur = mm[p]
	}
	return cur
}

func TestRender(t *testing.T) {
	c := Default("3.5.21")
	c.Name = "etcdup-test"
	c.SnapshotCount = 50
	c.FileCheckFrequency = 2 * time.Second
	raw, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	kc := parse(t, raw)
	if kc.Kind != "Cluster" || kc.APIVersion != "kind.x-k8s.io/v1alpha4" || kc.Name != "etcdup-test" {
		t.Errorf("type/name: %+v", kc.TypeMeta)
	}
	if !kc.Networking.DisableDefaultCNI || kc.Networking.KubeProxyMode != "none" || kc.Networking.APIServerAddress != "127.0.0.1" {
		t.Errorf("networking: %+v", kc.Networking)
	}
	if len(kc.Nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(kc.Nodes))
	}
	for i, n := range kc.Nodes {
		if n.Role != v1alpha4.ControlPlaneRole {
			t.Errorf("node %d role %s", i, n.Role)
		}
		if len(n.ExtraPortMappings) != 1 {
			t.Fatalf("node %d: %d port mappings", i, len(n.ExtraPortMappings))
		}
		pm := n.ExtraPortMappings[0]
		// -1: Docker picks the port, so there is no race for it; loopback only.
		if pm.ContainerPort != 2379 || pm.HostPort != -1 || pm.ListenAddress != "127.0.0.1" {
			t.Errorf("node %d port mapping %+v", i, pm)
		}
	}

	cc := patch(t, kc, "ClusterConfiguration")
	if got := dig(t, cc, "etcd", "local", "imageRepository"); got != "registry.k8s.io" {
		t.Errorf("imageRepository %v", got)
	}
	if got := dig(t, cc, "etcd", "local", "imageTag"); got != "3.5.21-0" {
		t.Errorf("imageTag %v", got)
	}
	// kind v0.30.0 renders kubeadm v1beta3 for 1.33: extraArgs is a map of
	// strings (a list would not merge into it).
	args, ok := dig(t, cc, "etcd", "local", "extraArgs").(map[string]any)
	if !ok {
		t.Fatalf("extraArgs is not a map: %#v", dig(t, cc, "etcd", "local", "extraArgs"))
	}
	if args["snapshot-count"] != "50" {
		t.Errorf("snapshot-count %#v, want the string \"50\"", args["snapshot-count"])
	}
	if _, ok := cc["featureGates"]; ok {
		t.Error("kubeadm's feature gates changed by default")
	}
	if _, ok := cc["apiVersion"]; ok {
		t.Error("the ClusterConfiguration patch names an apiVersion; it must match whichever kind renders")
	}

	kl := patch(t, kc, "KubeletConfiguration")
	if kl["failCgroupV1"] != false {
		t.Errorf("failCgroupV1 %#v", kl["failCgroupV1"])
	}
	if kl["fileCheckFrequency"] != "2s" || kl["syncFrequency"] != "1m0s" {
		t.Errorf("kubelet periods %v %v", kl["fileCheckFrequency"], kl["syncFrequency"])
	}
}

func TestRenderKubeletThroughLoadBalancer(t *testing.T) {
	c := Default("3.5.17")
	c.KubeletLocalAPIServer = false
	raw, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	cc := patch(t, parse(t, raw), "ClusterConfiguration")
	if got := dig(t, cc, "featureGates", "ControlPlaneKubeletLocalMode"); got != false {
		t.Errorf("ControlPlaneKubeletLocalMode = %#v, want false", got)
	}
	if got := dig(t, cc, "etcd", "local", "imageTag"); got != "3.5.17-0" {
		t.Errorf("imageTag %v", got)
	}
}

func TestRenderSizes(t *testing.T) {
	for _, n := range []int{1, 5} {
		c := Default("3.6.5")
		c.ControlPlanes = n
		raw, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		kc := parse(t, raw)
		if len(kc.Nodes) != n || kc.Name != "" {
			t.Errorf("%d control planes: got %d nodes, name %q", n, len(kc.Nodes), kc.Name)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"upper-case name":   func(c *Config) { c.Name = "Etcdup" },
		"no control planes": func(c *Config) { c.ControlPlanes = 0 },
		"bad tag":           func(c *Config) { c.EtcdImageTag = "3.5.17:0" },
		"no repository":     func(c *Config) { c.EtcdImageRepository = "" },
		"snapshot count":    func(c *Config) { c.SnapshotCount = 0 },
		"kubelet period":    func(c *Config) { c.FileCheckFrequency = 0 },
	} {
		c := Default("3.5.17")
		mutate(&c)
		if _, err := Render(c); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}

func TestEtcdImageTag(t *testing.T) {
	for in, want := range map[string]string{"3.5.17": "3.5.17-0", "v3.6.5": "3.6.5-0"} {
		if got := EtcdImageTag(in); got != want {
			t.Errorf("EtcdImageTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// The plain example users run with the kind CLI is this package's own
// rendering; go test ./kindconfigs -update rewrites it.
func TestExampleIsCurrent(t *testing.T) {
	raw, err := Render(Example())
	if err != nil {
		t.Fatal(err)
	}
	const path = "example-ha.yaml"
	want := append([]byte(exampleHeader), raw...)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is out of date: run go test ./kindconfigs -update", path)
	}
	parse(t, got)
}

const exampleHeader = `# Example, rendered by kindconfigs.Example() (go test ./kindconfigs -update).
# With a node image that carries registry.k8s.io/etcd:3.5.17-0 (see
# cmd/node-image):
#   kind create cluster --config kindconfigs/example-ha.yaml --image <node image> --wait 0
#   kind delete cluster --name etcdup-example
`
