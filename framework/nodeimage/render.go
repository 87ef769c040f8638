package nodeimage

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// files holds the static files of the node and load balancer images, laid
// out as they appear in the image.
//
//go:embed all:files
var files embed.FS

// File is one file of a docker build context.
type File struct {
	Path    string // slash-separated, relative to the context
	Content []byte
	Mode    os.FileMode
}

// Context is a docker build context: a Dockerfile plus files.
type Context struct {
	Dockerfile string
	Files      []File
}

// Digest identifies the context's content: the Dockerfile and every file's
// path, mode and bytes, plus extra inputs that the files do not show (e.g.
// the sha256 of a binary copied in separately).
func (c Context) Digest(extra ...string) string {
	parts := []string{"Dockerfile\x00" + hashBytes([]byte(c.Dockerfile))}
	for _, f := range c.Files {
		parts = append(parts, fmt.Sprintf("%s\x00%o\x00%s", f.Path, f.Mode.Perm(), hashBytes(f.Content)))
	}
	return Digest(append(parts, extra...)...)
}

// Write materialises the context in dir.
func (c Context) Write(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(c.Dockerfile), 0o644); err != nil {
		return err
	}
	for _, f := range c.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content, f.Mode); err != nil {
			return err
		}
		// WriteFile applies the umask; the image must get the mode itself.
		if err := os.Chmod(p, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// Digest hashes its parts in order; the parts are sorted by the caller when
// order does not matter.
func Digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ShortDigest is the part of a digest that goes into image tags.
func ShortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// embeddedTree returns the embedded files under root (e.g. "files/node"),
// with paths relative to root, prefixed by prefix in the context. Scripts
// under bin directories are executable.
func embeddedTree(root, prefix string) ([]File, error) {
	var out []File
	err := fs.WalkDir(files, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		mode := os.FileMode(0o644)
		if path.Base(path.Dir(rel)) == "bin" {
			mode = 0o755
		}
		out = append(out, File{Path: path.Join(prefix, rel), Content: b, Mode: mode})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// ContainerdConfig renders /etc/containerd/config.toml of the node (config
// version 2, containerd 1.6 from Debian).
func ContainerdConfig(sandboxImage string) string {
	return fmt.Sprintf(`# containerd configuration of the etcd-upgrade-e2e kind node image.
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  # kubeadm's pause image, preloaded in the image: nothing is pulled.
  sandbox_image = %q
  tolerate_missing_hugepages_controller = true
  # Without CAP_SYS_RESOURCE (a daemon that refuses --privileged) runc cannot
  # lower oom_score_adj for pod sandboxes and fails with "can't get final
  # child's PID from pipe: EOF"; this keeps containers at the node's value.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  # save disk space: layers are kept only as snapshots once unpacked
  discard_unpacked_layers = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  # kind configures the kubelet with the systemd cgroup driver
  SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
  # Debian's containernetworking-plugins
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/cni/net.d"
`, sandboxImage)
}

// nodeDockerfile turns the debootstrapped root file system into a kind node.
// It removes the units a container must not start (udev, gettys that would
// take the tty kind reads, ...), enables containerd and the kubelet, and
// sets the entrypoint that prepares cgroups before systemd starts.
func nodeDockerfile(rootfsImage string) string {
	return fmt.Sprintf(`FROM %s
COPY files/ /
COPY bin/kubeadm bin/kubelet bin/kubectl /usr/bin/
RUN set -eux; \
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete; \
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*; \
    echo "ReadKMsg=no" >> /etc/systemd/journald.conf; \
    systemctl enable containerd.service kubelet.service; \
    systemctl mask systemd-binfmt.service getty.target console-getty.service getty@.service \
      serial-getty@.service container-getty@.service systemd-udevd.service systemd-modules-load.service; \
    mkdir -p /etc/kubernetes/manifests /opt/cni /etc/cni/net.d; \
    ln -sfn /usr/lib/cni /opt/cni/bin; \
    ln -sf /lib/systemd/systemd /sbin/init; \
    kubeadm version -o short; kubelet --version; containerd --version; runc --version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
`, rootfsImage)
}

// NodeContext is the build context of the node image without preloaded
// images: the rootfs image plus the node's files and the three programs
// that run on the node itself.
func NodeContext(rootfsImage, kubeVersion, sandboxImage string) (Context, error) {
	tree, err := embeddedTree("files/node", "files")
	if err != nil {
		return Context{}, err
	}
	tree = append(tree,
		File{Path: "files/etc/containerd/config.toml", Content: []byte(ContainerdConfig(sandboxImage)), Mode: 0o644},
		File{Path: "files/kind/version", Content: []byte(kubeVersion + "\n"), Mode: 0o644},
	)
	sort.Slice(tree, func(i, j int) bool { return tree[i].Path < tree[j].Path })
	return Context{Dockerfile: nodeDockerfile(rootfsImage), Files: tree}, nil
}

// ScratchContext is an image with one static program and nothing else, as
// kubeadm's control-plane, etcd and pause images need. The program is copied
// in by the caller (it is large and already hashed).
func ScratchContext(programs []string, entrypoint string) Context {
	var sb strings.Builder
	sb.WriteString("FROM scratch\n")
	for _, p := range programs {
		fmt.Fprintf(&sb, "COPY %s /usr/local/bin/%s\n", p, p)
	}
	sb.WriteString("ENV PATH=/usr/local/bin:/usr/bin:/bin\n")
	if entrypoint != "" {
		fmt.Fprintf(&sb, "ENTRYPOINT [%q]\n", "/usr/local/bin/"+entrypoint)
	}
	return Context{Dockerfile: sb.String()}
}

// LoadBalancerContext is the build context of the image kind runs as its HA
// load balancer: Debian's haproxy under a small supervisor that reloads on
// SIGHUP.
func LoadBalancerContext(rootfsImage string) (Context, error) {
	tree, err := embeddedTree("files/haproxy", "files")
	if err != nil {
		return Context{}, err
	}
	df := fmt.Sprintf(`FROM %s
COPY files/ /
RUN haproxy -v
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/haproxy-supervisor"]
`, rootfsImage)
	return Context{Dockerfile: df, Files: tree}, nil
}
