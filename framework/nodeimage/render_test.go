package nodeimage

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
)

func nodeContext(t *testing.T) Context {
	t.Helper()
	c, err := NodeContext("etcd-upgrade-e2e/rootfs:bookworm-abc", "v1.33.13", "registry.k8s.io/pause:3.10")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func file(t *testing.T, c Context, path string) File {
	t.Helper()
	for _, f := range c.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("context has no %s", path)
	return File{}
}

func requireAll(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestContainerdConfig(t *testing.T) {
	got := ContainerdConfig("registry.k8s.io/pause:3.10")
	requireAll(t, "config.toml", got,
		"version = 2\n",
		`sandbox_image = "registry.k8s.io/pause:3.10"`,
		"restrict_oom_score_adj = true",
		`snapshotter = "overlayfs"`,
		"SystemdCgroup = true",
		`bin_dir = "/usr/lib/cni"`,
	)
	if strings.Contains(got, "restrict_oom_score_adj = false") {
		t.Error("config.toml still has restrict_oom_score_adj = false")
	}
}

func TestNodeContextFiles(t *testing.T) {
	c := nodeContext(t)
	if got := string(file(t, c, "files/kind/version").Content); got != "v1.33.13\n" {
		t.Errorf("/kind/version = %q", got)
	}
	requireAll(t, "containerd config", string(file(t, c, "files/etc/containerd/config.toml").Content),
		`sandbox_image = "registry.k8s.io/pause:3.10"`, "restrict_oom_score_adj = true")

	kubelet := string(file(t, c, "files/etc/systemd/system/kubelet.service").Content)
	requireAll(t, "kubelet.service", kubelet,
		"StartLimitIntervalSec=0", "Slice=kubelet.slice", "ConditionPathExists=/var/lib/kubelet/config.yaml", "Restart=always")
	// StartLimitIntervalSec belongs to [Unit]; in [Service] systemd ignores it.
	unit, _, _ := strings.Cut(kubelet, "[Service]")
	if !strings.Contains(unit, "StartLimitIntervalSec=0") {
		t.Error("StartLimitIntervalSec=0 is not in the [Unit] section of kubelet.service")
	}
	requireAll(t, "10-kubeadm.conf", string(file(t, c, "files/etc/systemd/system/kubelet.service.d/10-kubeadm.conf").Content),
		"EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env", "EnvironmentFile=-/etc/default/kubelet", "$KUBELET_EXTRA_ARGS")
	requireAll(t, "/etc/default/kubelet", string(file(t, c, "files/etc/default/kubelet").Content), "--fail-cgroupv1=false")
	requireAll(t, "system.conf.d", string(file(t, c, "files/etc/systemd/system.conf.d/10-node.conf").Content), "[Manager]", "ShowStatus=yes")
	requireAll(t, "containerd.service", string(file(t, c, "files/etc/systemd/system/containerd.service").Content),
		"ExecStart=/usr/bin/containerd", "Delegate=yes", "Type=notify")
	file(t, c, "files/etc/systemd/system/kubelet.slice")
	file(t, c, "files/kind/manifests/default-storage.yaml")
	file(t, c, "files/kind/manifests/default-cni.yaml")

	ep := file(t, c, "files/usr/local/bin/entrypoint")
	if ep.Mode.Perm() != 0o755 {
		t.Errorf("entrypoint mode = %v", ep.Mode)
	}
	if f := file(t, c, "files/kind/bin/kubelet-cgroups-v2"); f.Mode.Perm() != 0o755 {
		t.Errorf("kubelet-cgroups-v2 mode = %v", f.Mode)
	}
	requireAll(t, "11-cgroups.conf", string(file(t, c, "files/etc/systemd/system/kubelet.service.d/11-cgroups.conf").Content),
		"ExecStartPre=/kind/bin/kubelet-cgroups-v2")
	for _, f := range c.Files {
		if !strings.Contains(f.Path, "/bin/") && f.Mode.Perm() != 0o644 {
			t.Errorf("%s mode = %v, want 0644", f.Path, f.Mode)
		}
	}
}

func TestEntrypoint(t *testing.T) {
	ep := string(file(t, nodeContext(t), "files/usr/local/bin/entrypoint").Content)
	requireAll(t, "entrypoint", ep,
		"/proc/self/cgroup",
		"mount -t cgroup -o",
		"none,${controllers}", // name=systemd is a hierarchy without controllers
		"mount -t cgroup2",
		"kubelet.slice",
		"cpuset.cpus",
		"ln -s /dev/console /dev/kmsg",
		"mount --make-rshared /",
		"systemd-machine-id-setup",
		`exec "$@"`,
	)
	// kind's readiness regexp also accepts "detected cgroup v1", which would
	// let it exec into the node before systemd is up.
	if strings.Contains(ep, "detected cgroup v1") {
		t.Error("entrypoint prints kind's early readiness phrase")
	}
	if _, err := exec.LookPath("bash"); err == nil {
		p := filepath.Join(t.TempDir(), "entrypoint")
		os.WriteFile(p, []byte(ep), 0o755)
		if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("entrypoint is not valid bash: %v\n%s", err, out)
		}
	}
}

func TestNodeDockerfile(t *testing.T) {
	df := nodeContext(t).Dockerfile
	requireAll(t, "Dockerfile", df,
		"FROM etcd-upgrade-e2e/rootfs:bookworm-abc\n",
		"COPY files/ /\n",
		"COPY bin/kubeadm bin/kubelet bin/kubectl /usr/bin/\n",
		"systemctl enable containerd.service kubelet.service",
		"console-getty.service", "getty.target", "container-getty@.service",
		"ln -sfn /usr/lib/cni /opt/cni/bin",
		"/etc/kubernetes/manifests",
		"ENV container=docker\n",
		"STOPSIGNAL SIGRTMIN+3\n",
		`ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`,
	)
	mask := regexp.MustCompile(`systemctl mask [^;]*console-getty\.service`)
	if !mask.MatchString(df) {
		t.Error("console-getty.service is not masked")
	}
}

func TestScratchContext(t *testing.T) {
	c := ScratchContext([]string{"etcd", "etcdctl"}, "etcd")
	want := "FROM scratch\nCOPY etcd /usr/local/bin/etcd\nCOPY etcdctl /usr/local/bin/etcdctl\nENV PATH=/usr/local/bin:/usr/bin:/bin\nENTRYPOINT [\"/usr/local/bin/etcd\"]\n"
	if c.Dockerfile != want {
		t.Errorf("Dockerfile:\n%s\nwant:\n%s", c.Dockerfile, want)
	}
	if got := ScratchContext([]string{"kube-apiserver"}, "").Dockerfile; strings.Contains(got, "ENTRYPOINT") {
		t.Errorf("control-plane image has an entrypoint:\n%s", got)
	}
}

func TestLoadBalancerContext(t *testing.T) {
	c, err := LoadBalancerContext("rootfs:x")
	if err != nil {
		t.Fatal(err)
	}
	requireAll(t, "Dockerfile", c.Dockerfile, "FROM rootfs:x\n", `ENTRYPOINT ["/usr/local/bin/haproxy-supervisor"]`)
	if f := file(t, c, "files/usr/local/bin/haproxy-supervisor"); f.Mode.Perm() != 0o755 {
		t.Errorf("supervisor mode = %v", f.Mode)
	}
	requireAll(t, "haproxy.cfg", string(file(t, c, "files/usr/local/etc/haproxy/haproxy.cfg").Content), "bind 0.0.0.0:6443")
}

func TestLoadBalancerImageMatchesKind(t *testing.T) {
	// kind's constant lives in an internal package; read it from the module.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kind").Output()
	if err != nil {
		t.Skipf("kind's module is not available: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg/cluster/internal/loadbalancer/const.go"))
	if err != nil {
		t.Skipf("kind's source is not in the module cache: %v", err)
	}
	if !strings.Contains(string(raw), `"`+LoadBalancerImage+`"`) {
		t.Errorf("kind's load balancer image is not %s:\n%s", LoadBalancerImage, raw)
	}
}

// TestSupervisorCapsMaxconnAndReloads runs the load balancer's PID 1 with a
// fake haproxy: the rendered configuration must fit the fd limit, and SIGHUP
// must re-render it and reach haproxy as SIGUSR2 (a master-worker reload).
func TestSupervisorCapsMaxconnAndReloads(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	c, _ := LoadBalancerContext("x")
	dir := t.TempDir()
	script := filepath.Join(dir, "supervisor")
	os.WriteFile(script, file(t, c, "files/usr/local/bin/haproxy-supervisor").Content, 0o755)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	// fake haproxy: records each reload and exits on USR1, then says it
	// started (its arguments): the test signals only once both traps hold.
	os.WriteFile(filepath.Join(bin, "haproxy"), []byte(`#!/bin/sh
trap 'echo reload >> "$FAKE_DIR/reloads"' USR2
trap 'exit 0' USR1
echo "$@" > "$FAKE_DIR/args"
while :; do sleep 0.05; done
`), 0o755)
	src := filepath.Join(dir, "haproxy.cfg")
	rendered := filepath.Join(dir, "run.cfg")
	os.WriteFile(src, []byte("global\n  maxconn 100000\n"), 0o644)

	// A test run under nohup ignores SIGHUP, a child inherits an ignored
	// signal, and a shell cannot trap one ignored on entry: while this
	// process handles SIGHUP, the child starts with its default action.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cmd := exec.Command("sh", "-c", "ulimit -n 4000 && exec "+script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_DIR="+dir,
		"HAPROXY_CONFIG="+src, "HAPROXY_RUN_CONFIG="+rendered)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	waitFor("haproxy to start", func() bool { return read(filepath.Join(dir, "args")) != "" })
	if got := read(filepath.Join(dir, "args")); !strings.Contains(got, "-W -db -f "+rendered) {
		t.Errorf("haproxy args = %q", got)
	}
	if got := read(rendered); !strings.Contains(got, "maxconn 1500\n") {
		t.Errorf("rendered config does not cap maxconn to (4000-1000)/2:\n%s", got)
	}

	os.WriteFile(src, []byte("global\n  maxconn 100000\n# generated by kind\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("a reload", func() bool { return strings.Contains(read(filepath.Join(dir, "reloads")), "reload") })
	if got := read(rendered); !strings.Contains(got, "# generated by kind") {
		t.Errorf("config was not re-rendered on SIGHUP:\n%s", got)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("supervisor exited with %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("supervisor did not exit after SIGTERM")
	}
}

func TestDigests(t *testing.T) {
	a := nodeContext(t)
	if a.Digest("x") != nodeContext(t).Digest("x") {
		t.Error("digest is not stable")
	}
	if a.Digest("x") == a.Digest("y") {
		t.Error("extra inputs do not change the digest")
	}
	b, _ := NodeContext("etcd-upgrade-e2e/rootfs:bookworm-abc", "v1.33.13", "registry.k8s.io/pause:3.10.1")
	if a.Digest() == b.Digest() {
		t.Error("the sandbox image does not change the digest")
	}
	c := a
	c.Files = append([]File(nil), a.Files...)
	c.Files[0].Mode = 0o600
	if a.Digest() == c.Digest() {
		t.Error("a file mode does not change the digest")
	}
	if Digest("ab", "c") == Digest("a", "bc") {
		t.Error("Digest is ambiguous across part boundaries")
	}
	if got := ShortDigest(a.Digest()); len(got) != 12 {
		t.Errorf("ShortDigest = %q", got)
	}
}

func TestContextWrite(t *testing.T) {
	dir := t.TempDir()
	c := nodeContext(t)
	if err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "files/usr/local/bin/entrypoint"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("entrypoint written as %v, %v", st.Mode(), err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if string(raw) != c.Dockerfile {
		t.Error("Dockerfile not written")
	}
}

func TestRootFS(t *testing.T) {
	r := DefaultRootFS(DefaultMirror)
	args := strings.Join(r.DebootstrapArgs("/tmp/x"), " ")
	requireAll(t, "debootstrap args", args, "--variant=minbase", "bookworm /tmp/x "+DefaultMirror)
	for _, p := range []string{"systemd", "dbus", "containerd", "runc", "iptables", "nftables", "conntrack", "socat",
		"ethtool", "ebtables", "kmod", "mount", "util-linux", "procps", "iproute2", "ca-certificates",
		"containernetworking-plugins", "haproxy"} {
		if !regexp.MustCompile(`[=,]` + regexp.QuoteMeta(p) + `(,| )`).MatchString(args) {
			t.Errorf("debootstrap does not include %s", p)
		}
	}
	shuffled := r
	shuffled.Packages = append([]string{r.Packages[len(r.Packages)-1]}, r.Packages[:len(r.Packages)-1]...)
	if r.Digest() != shuffled.Digest() {
		t.Error("package order changes the rootfs digest")
	}
	if r.Digest() == DefaultRootFS("http://mirror.example/debian").Digest() {
		t.Error("the mirror does not change the rootfs digest")
	}
	if !strings.HasPrefix(r.Image(), "etcd-upgrade-e2e/rootfs:bookworm-") {
		t.Errorf("rootfs image = %s", r.Image())
	}
}

func TestSpecFor(t *testing.T) {
	for _, tc := range []struct{ v, pause, etcd string }{
		{"v1.33.13", "3.10", "3.5.24"},
		{"v1.34.2", "3.10.1", "3.6.5"},
	} {
		v, _ := k8sbin.ParseVersion(tc.v)
		s, err := SpecFor(v)
		if err != nil || s.PauseTag != tc.pause || s.Etcd != tc.etcd {
			t.Errorf("SpecFor(%s) = %+v, %v", tc.v, s, err)
		}
	}
	v, _ := k8sbin.ParseVersion("v1.32.0")
	if _, err := SpecFor(v); err == nil {
		t.Error("SpecFor(v1.32.0) did not fail")
	}
}

func TestImageRefs(t *testing.T) {
	if got := EtcdImageRef("3.5.17"); got != "registry.k8s.io/etcd:3.5.17-0" {
		t.Errorf("EtcdImageRef = %s", got)
	}
	if got := EtcdImageTag("v3.6.5"); got != "3.6.5-0" {
		t.Errorf("EtcdImageTag = %s", got)
	}
	if got := ImageRef("kube-apiserver", "v1.33.13"); got != "registry.k8s.io/kube-apiserver:v1.33.13" {
		t.Errorf("ImageRef = %s", got)
	}
}

func TestNormaliseEtcd(t *testing.T) {
	got, err := normaliseEtcd([]string{"3.6.5", "v3.5.17", "3.5.17", " 3.5.21"})
	if err != nil || strings.Join(got, ",") != "3.5.17,3.5.21,3.6.5" {
		t.Errorf("normaliseEtcd = %v, %v", got, err)
	}
	if _, err := normaliseEtcd([]string{"3.4.1"}); err == nil {
		t.Error("etcd 3.4 was accepted")
	}
}

func TestPickOfficialNode(t *testing.T) {
	v, _ := k8sbin.ParseVersion("v1.33.13")
	for _, tc := range []struct {
		refs []string
		want string
	}{
		{nil, ""},
		{[]string{"kindest/node:v1.32.2", "kindest/node:latest"}, ""},
		{[]string{"kindest/node:v1.33.1", "kindest/node:v1.33.4"}, "kindest/node:v1.33.4"},
		{[]string{"kindest/node:v1.33.4", "kindest/node:v1.33.13"}, "kindest/node:v1.33.13"},
	} {
		if got := pickOfficialNode(tc.refs, v); got != tc.want {
			t.Errorf("pickOfficialNode(%v) = %q, want %q", tc.refs, got, tc.want)
		}
	}
}

func TestMissingImages(t *testing.T) {
	listed := "registry.k8s.io/etcd:3.5.17-0\ndocker.io/kindest/haproxy:v1\nsha256:abc\n"
	got := missingImages([]string{"registry.k8s.io/etcd:3.5.17-0", "kindest/haproxy:v1", "registry.k8s.io/pause:3.10"}, listed)
	if strings.Join(got, ",") != "registry.k8s.io/pause:3.10" {
		t.Errorf("missingImages = %v", got)
	}
}

func TestReuseImage(t *testing.T) {
	built := imageInfo{ID: "sha256:1", Labels: map[string]string{LabelInputs: "d1"}}
	official := imageInfo{ID: "sha256:2"}
	for _, tc := range []struct {
		name  string
		info  imageInfo
		force bool
		want  bool
	}{
		{"same inputs", built, false, true},
		{"same inputs, forced", built, true, true},
		{"other inputs", imageInfo{Labels: map[string]string{LabelInputs: "d0"}}, false, false},
		{"official", official, false, true},
		{"official, forced", official, true, false},
	} {
		if got, why := reuseImage(tc.info, "d1", tc.force); got != tc.want {
			t.Errorf("%s: reuse = %v (%s), want %v", tc.name, got, why, tc.want)
		}
	}
}
