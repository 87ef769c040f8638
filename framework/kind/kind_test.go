package kind

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestLBConfig(t *testing.T) {
	cfg, err := lbConfig([]string{"etcdup-x-control-plane4", "etcdup-x-control-plane2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bind *:6443",
		"server etcdup-x-control-plane2 etcdup-x-control-plane2:6443 check check-ssl verify none resolvers docker resolve-prefer ipv4",
		"server etcdup-x-control-plane4 etcdup-x-control-plane4:6443 check",
	}
	for _, w := range want {
		if !strings.Contains(cfg, w) {
			t.Errorf("load balancer config lacks %q:\n%s", w, cfg)
		}
	}
	if strings.Index(cfg, "control-plane2") > strings.Index(cfg, "control-plane4") {
		t.Error("backends are not sorted")
	}
}

func TestJoinConfig(t *testing.T) {
	raw, err := renderJoinConfig(joinData{Cluster: "etcdup-x", Node: "etcdup-x-control-plane4", NodeIP: "172.18.0.7", Endpoint: "etcdup-x-external-load-balancer:6443"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		APIVersion   string `json:"apiVersion"`
		Kind         string `json:"kind"`
		ControlPlane struct {
			LocalAPIEndpoint struct {
				AdvertiseAddress string `json:"advertiseAddress"`
				BindPort         int    `json:"bindPort"`
			} `json:"localAPIEndpoint"`
		} `json:"controlPlane"`
		NodeRegistration struct {
			Name             string `json:"name"`
			CRISocket        string `json:"criSocket"`
			KubeletExtraArgs []struct {
				Name, Value string
			} `json:"kubeletExtraArgs"`
		} `json:"nodeRegistration"`
		Discovery struct {
			BootstrapToken struct {
				APIServerEndpoint        string `json:"apiServerEndpoint"`
				Token                    string `json:"token"`
				UnsafeSkipCAVerification bool   `json:"unsafeSkipCAVerification"`
			} `json:"bootstrapToken"`
		} `json:"discovery"`
		SkipPhases []string `json:"skipPhases"`
	}
	if err := yaml.UnmarshalStrict([]byte(raw), &doc); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if doc.APIVersion != "kubeadm.k8s.io/v1beta4" || doc.Kind != "JoinConfiguration" {
		t.Errorf("type %s %s", doc.APIVersion, doc.Kind)
	}
	if doc.ControlPlane.LocalAPIEndpoint.AdvertiseAddress != "172.18.0.7" || doc.ControlPlane.LocalAPIEndpoint.BindPort != 6443 {
		t.Errorf("control plane %+v", doc.ControlPlane)
	}
	args := map[string]string{}
	for _, a := range doc.NodeRegistration.KubeletExtraArgs {
		args[a.Name] = a.Value
	}
	if args["node-ip"] != "172.18.0.7" || args["provider-id"] != "kind://docker/etcdup-x/etcdup-x-control-plane4" || doc.NodeRegistration.Name != "etcdup-x-control-plane4" {
		t.Errorf("node registration %+v", doc.NodeRegistration)
	}
	if d := doc.Discovery.BootstrapToken; d.APIServerEndpoint != "etcdup-x-external-load-balancer:6443" || d.Token != bootstrapToken || !d.UnsafeSkipCAVerification {
		t.Errorf("discovery %+v", d)
	}
	if len(doc.SkipPhases) != 1 || doc.SkipPhases[0] != "preflight" {
		t.Errorf("skipPhases %v", doc.SkipPhases)
	}
	if strings.Contains(raw, "patches") {
		t.Errorf("patches without a patch:\n%s", raw)
	}
	patched, err := renderJoinConfig(joinData{Cluster: "etcdup-x", Node: "etcdup-x-control-plane4", NodeIP: "172.18.0.7", Endpoint: "etcdup-x-external-load-balancer:6443", Patches: patchesDir})
	if err != nil {
		t.Fatal(err)
	}
	var withPatches struct {
		Patches struct {
			Directory string `json:"directory"`
		} `json:"patches"`
	}
	if err := yaml.Unmarshal([]byte(patched), &withPatches); err != nil || withPatches.Patches.Directory != patchesDir {
		t.Errorf("patches %+v (%v):\n%s", withPatches, err, patched)
	}
}

const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
spec:
  containers:
  - command:
    - etcd
    - --snapshot-count=100
    image: registry.k8s.io/etcd:3.5.17-0
    imagePullPolicy: IfNotPresent
    name: etcd
`

func TestSetManifestImage(t *testing.T) {
	got, err := setManifestImage(manifest, "3.6.5-0")
	if err != nil {
		t.Fatal(err)
	}
	if got != strings.Replace(manifest, "3.5.17-0", "3.6.5-0", 1) {
		t.Errorf("rewritten manifest:\n%s", got)
	}
	if img, err := manifestImage(got); err != nil || img != "registry.k8s.io/etcd:3.6.5-0" {
		t.Errorf("manifestImage = %q, %v", img, err)
	}
	if _, err := setManifestImage("kind: Pod\n", "3.6.5-0"); err == nil {
		t.Error("a manifest without an etcd image was accepted")
	}
}

func TestParseContainers(t *testing.T) {
	md := func(attempt int) string {
		inner := fmt.Sprintf(`{"Version":"v1","Metadata":{"ID":"x","LogPath":"/var/log/pods/p/etcd/%d.log","Config":{"metadata":{"name":"etcd","attempt":%d}}}}`, attempt, attempt)
		return fmt.Sprintf(`{    "ID": "x",    "CreatedAt": "2026-11-27T05:56:22.177187253Z",    "Extensions": {        "io.cri-containerd.container.metadata": {            "type_url": "github.com/containerd/cri/pkg/store/container/Metadata",            "value": %q        }    }}`, base64.StdEncoding.EncodeToString([]byte(inner)))
	}
	out := strings.Join([]string{
		"b", `{"Version":"v1","Pid":0,"CreatedAt":1700000002000000000,"StartedAt":1700000002100000000,"FinishedAt":1700000003000000000,"ExitCode":1}`, md(1),
		"a", `{"Version":"v1","Pid":0,"CreatedAt":1700000001000000000,"StartedAt":1700000001100000000,"FinishedAt":1700000001500000000,"ExitCode":1}`, md(0),
		"c", `{"Version":"v1","Pid":1180,"CreatedAt":1700000004000000000,"StartedAt":1700000004100000000,"FinishedAt":0,"ExitCode":0}`, md(2),
		"d", `{}`, md(3),
	}, "\n") + "\n"
	cs, err := parseContainers(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 4 || cs[0].ID != "a" || cs[2].ID != "c" {
		t.Fatalf("containers %+v", cs)
	}
	if !cs[2].running() || cs[2].Pid != 1180 || cs[2].Attempt != 2 || cs[2].LogPath != "/var/log/pods/p/etcd/2.log" {
		t.Errorf("running container %+v", cs[2])
	}
	if !cs[0].exited() || cs[0].ExitCode != 1 || cs[0].running() {
		t.Errorf("exited container %+v", cs[0])
	}
	// No CRI status yet: created, neither running nor exited, dated by containerd.
	if cs[3].running() || cs[3].exited() || cs[3].Created.IsZero() {
		t.Errorf("created container %+v", cs[3])
	}
	if ex := exitedSince(cs, time.Unix(1700000001, 500)); len(ex) != 1 || ex[0].ID != "b" {
		t.Errorf("exited since: %+v", ex)
	}
	if cs, err := parseContainers(""); err != nil || len(cs) != 0 {
		t.Errorf("no containers: %v %v", cs, err)
	}
	if _, err := parseContainers("a\nnot json\n{}\n"); err == nil {
		t.Error("garbage parsed")
	}
}

func TestCRILog(t *testing.T) {
	raw := "2026-11-27T05:56:22.3Z stderr F {\"level\":\"info\"}\n2026-11-27T05:56:22.4Z stderr P {\"level\":\n2026-11-27T05:56:22.4Z stderr F \"fatal\"}\n"
	if got, want := criLog(raw), "{\"level\":\"info\"}\n{\"level\":\"fatal\"}\n"; got != want {
		t.Errorf("criLog = %q, want %q", got, want)
	}
}

func TestWithEtcdTag(t *testing.T) {
	// kubeadm 1.33 stores ClusterConfiguration as v1beta4: extraArgs is a
	// list, which must survive the edit.
	in := `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
    - name: snapshot-count
      value: "100"
    imageRepository: registry.k8s.io
    imageTag: 3.5.17-0
kubernetesVersion: v1.33.13
`
	out, old, err := withEtcdTag(in, "3.6.5-0")
	if err != nil {
		t.Fatal(err)
	}
	if old != "3.5.17-0" {
		t.Errorf("old tag %q", old)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	local := doc["etcd"].(map[string]any)["local"].(map[string]any)
	if local["imageTag"] != "3.6.5-0" || local["dataDir"] != "/var/lib/etcd" {
		t.Errorf("local etcd %v", local)
	}
	if args, ok := local["extraArgs"].([]any); !ok || len(args) != 1 {
		t.Errorf("extraArgs changed: %#v", local["extraArgs"])
	}
	// An empty tag removes it: kubeadm upgrade then runs its own pin.
	out, old, err = withEtcdTag(out, "")
	if err != nil || old != "3.6.5-0" {
		t.Fatalf("removing the tag: old %q, %v", old, err)
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	local = doc["etcd"].(map[string]any)["local"].(map[string]any)
	if _, ok := local["imageTag"]; ok || local["imageRepository"] != "registry.k8s.io" {
		t.Errorf("local etcd after removing the tag: %v", local)
	}
	if _, _, err := withEtcdTag("kind: InitConfiguration\n", "x"); err == nil {
		t.Error("accepted a document that is not a ClusterConfiguration")
	}
	if _, _, err := withEtcdTag("kind: ClusterConfiguration\netcd:\n  external: {}\n", "x"); err == nil {
		t.Error("accepted external etcd")
	}
}

func TestNodeNumber(t *testing.T) {
	for name, want := range map[string]int{
		"etcdup-a-control-plane":          1,
		"etcdup-a-control-plane2":         2,
		"etcdup-a-control-plane12":        12,
		"etcdup-a-external-load-balancer": 0,
	} {
		if got := nodeNumber(name); got != want {
			t.Errorf("nodeNumber(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestRunArgs(t *testing.T) {
	args := strings.Join(runArgs("etcdup-a", "etcdup-a-control-plane4", "etcdup-a", "node:1"), " ")
	for _, w := range []string{
		"--name etcdup-a-control-plane4", "--hostname etcdup-a-control-plane4",
		"--label io.x-k8s.kind.cluster=etcdup-a", "--label io.x-k8s.kind.role=control-plane",
		"--net etcdup-a", "--cgroupns=private", "--privileged",
		"--publish=127.0.0.1:0:2379/tcp", "--publish=127.0.0.1:0:6443/tcp",
	} {
		if !strings.Contains(args, w) {
			t.Errorf("docker run args lack %q: %s", w, args)
		}
	}
	if !strings.HasSuffix(args, " node:1") {
		t.Errorf("image is not last: %s", args)
	}
	if strings.Contains(args, "0.0.0.0") {
		t.Errorf("a port is published beyond loopback: %s", args)
	}
}

func TestUntar(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{"member/wal/0.wal": "w", "member/snap/1.snap": "s"} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(body))
	}
	tw.Close()
	dir := t.TempDir()
	if err := untar(&buf, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "member", "wal", "0.wal")); err != nil || string(b) != "w" {
		t.Errorf("wal: %q %v", b, err)
	}

	buf.Reset()
	tw = tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "../evil", Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("x"))
	tw.Close()
	if err := untar(&buf, dir); err == nil {
		t.Error("an entry outside the destination was written")
	}
}

func TestKubeadmErrorLine(t *testing.T) {
	chain := "I1127 05:50:43.018544     293 etcd.go:490] The peer URL exists\n[etcd] Creating static Pod manifest for \"etcd\"\nno member id found for peer URL\nerror creating local etcd static pod manifest file\nerror execution phase etcd-join\n"
	if got, want := kubeadmErrorLine(chain), "kubeadm: error execution phase etcd-join: error creating local etcd static pod manifest file: no member id found for peer URL"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	quoted := "{\"level\":\"warn\",\"msg\":\"retrying\",\"error\":\"rpc error: desc = etcdserver: too many learner members in cluster\"}\nI1127 05:50:42.527913     293 etcd.go:518] Failed to add etcd member: etcdserver: too many learner members in cluster\n" + chain
	if got, want := kubeadmErrorLine(quoted), "kubeadm: Failed to add etcd member: etcdserver: too many learner members in cluster"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(WithName("kind-x"), WithDir(t.TempDir()), WithNodeImage("i")); err == nil || !strings.Contains(err.Error(), NamePrefix) {
		t.Errorf("a name without the prefix: %v", err)
	}
	if _, err := New(WithName("etcdup-x"), WithDir(t.TempDir()), WithNodeImage("i"), WithControlPlanes(1)); err == nil {
		t.Error("one control plane accepted")
	}
	c, err := New(WithName("etcdup-x"), WithDir(t.TempDir()), WithNodeImage("i"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Provider() != "kind" || len(c.Members()) != 0 {
		t.Errorf("new cluster: %s %v", c.Provider(), c.Members())
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("closing a cluster that was never created: %v", err)
	}
}

func TestRestartTimer(t *testing.T) {
	since := time.Now().Add(-5 * time.Second)
	tm := newRestartTimer(since)
	tm.observe([]etcdContainer{{Created: since.Add(-time.Hour), Started: since.Add(-time.Hour), Finished: since.Add(time.Second)}, {Created: since.Add(3 * time.Second), Started: since.Add(3 * time.Second)}})
	tm.serving()
	s := tm.String()
	if !strings.Contains(s, "old etcd gone at 1.0s") || !strings.Contains(s, "new etcd started at 3.0s") || !strings.Contains(s, "serving at") {
		t.Errorf("timer: %s", s)
	}
}

type aggregate []error

func (a aggregate) Error() string   { return fmt.Sprint([]error(a)) }
func (a aggregate) Errors() []error { return a }

func TestOnlyMissingCrictl(t *testing.T) {
	crictl := fmt.Errorf(`command "docker exec n crictl images" failed`)
	other := fmt.Errorf(`command "docker exec n journalctl" failed`)
	if !onlyMissingCrictl(aggregate{aggregate{crictl, crictl}, crictl}) {
		t.Error("crictl-only failures were not recognised")
	}
	if onlyMissingCrictl(aggregate{aggregate{crictl, other}}) {
		t.Error("another failure was hidden")
	}
}

func TestSystemdFailed(t *testing.T) {
	console := "Welcome to \x1b[1mDebian\x1b[0m!\n\x1b[0;1;31mFailed to create control group inotify object: Too many open files\x1b[0m\n"
	m := systemdFailed.FindString(console)
	if got := stripANSI(m); got != "Failed to create control group inotify object: Too many open files" {
		t.Errorf("got %q", got)
	}
	if systemdReady.MatchString(console) || systemdFailed.MatchString("Reached target multi-user.target - Multi-User System.") {
		t.Error("ready and failed consoles confused")
	}
}

func TestLogSince(t *testing.T) {
	log := `{"level":"error","ts":"2026-11-27T06:30:00Z","msg":"old"}
{"level":"error","ts":"2026-11-27T06:34:47.887318Z","msg":"Validation on configuration change failed","error":"membership: too many learner members in cluster"}
not json`
	since, _ := time.Parse(time.RFC3339, "2026-11-27T06:33:00Z")
	got := logSince(log, since)
	if strings.Contains(got, "old") || !strings.Contains(got, "too many learner members") {
		t.Errorf("logSince = %q", got)
	}
}

func TestFatalLevel(t *testing.T) {
	for line, want := range map[string]bool{
		`{"level":"panic","msg":"failed to update; member unknown"}`: true,
		`{"level":"fatal","msg":"discovery failed"}`:                 true,
		"panic: membership: too many learner members in cluster":     true,
		`{"level":"warn","msg":"failed to get version"}`:             false,
	} {
		if got := fatalLevel(line); got != want {
			t.Errorf("fatalLevel(%s) = %t", line, got)
		}
	}
}

func TestStampedPhases(t *testing.T) {
	var b strings.Builder
	w := &stampWriter{w: &b, start: time.Now()}
	fmt.Fprint(w, "[upgrade/etcd] Upgrading to TLS for etcd\nI1127 05:50:42.527913     293 etcd.go:518] a klog ")
	fmt.Fprint(w, "line\n[upgrade/staticpods] Component \"etcd\" upgraded successfully!\n")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("stamped %q", b.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "[+   0.0s] ") {
			t.Errorf("line not stamped: %q", l)
		}
	}
	got := stampedPhases(b.String())
	if strings.Count(got, "\n") != 2 || strings.Contains(got, "klog") || !strings.Contains(got, `Component "etcd" upgraded`) {
		t.Errorf("phases %q", got)
	}
}

func TestUpgradeKitValidate(t *testing.T) {
	if err := (UpgradeKit{}).validate(); err == nil || !strings.Contains(err.Error(), "no Kubernetes release") {
		t.Errorf("empty kit: %v", err)
	}
	k := UpgradeKit{Version: "v1.34.2", Kubeadm: "a", Kubelet: "b", Kubectl: "c", EtcdPin: "3.6.5", Images: []string{"x"}}
	if err := k.validate(); err == nil || !strings.Contains(err.Error(), "no way to load") {
		t.Errorf("kit without loader: %v", err)
	}
	k.Images = nil
	if err := k.validate(); err != nil {
		t.Errorf("complete kit: %v", err)
	}
}

func TestUpgradedManifests(t *testing.T) {
	etcd := "spec:\n  containers:\n  - command:\n    - etcd\n    image: registry.k8s.io/etcd:3.6.5-0\n"
	api := "spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:v1.34.2\n    name: kube-apiserver\n"
	if err := upgradedManifests(etcd, api, "v1.34.2", "3.6.5-0"); err != nil {
		t.Errorf("upgraded node refused: %v", err)
	}
	err := upgradedManifests(strings.Replace(etcd, "3.6.5-0", "3.5.21-0", 1), strings.Replace(api, "v1.34.2", "v1.33.13", 1), "v1.34.2", "3.6.5-0")
	if err == nil || !strings.Contains(err.Error(), "runs registry.k8s.io/etcd:3.5.21-0, not etcd 3.6.5-0") || !strings.Contains(err.Error(), "does not run v1.34.2") {
		t.Errorf("node left behind accepted: %v", err)
	}
}
