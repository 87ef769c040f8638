// Package nodeimage provides the images a kind cluster of the harness needs
// on a machine with no container registry: the kind node image for one
// Kubernetes release with kubeadm's control-plane, pause and etcd images
// preloaded in its containerd, and kind's HA load balancer image.
//
// Official images come first: a local kindest/node:<same minor> and local
// registry.k8s.io images are used as they are. Otherwise everything is built
// from the two sources this machine reaches: Debian's packages (a bookworm
// root file system by debootstrap) and the Go module proxy (Kubernetes and
// etcd programs). Every built image carries the digest of its inputs in the
// label LabelInputs, and its tag carries a short form of it; nothing is
// rebuilt while the inputs are unchanged.
//
// The node image is made in two layers so that etcd versions can be added
// cheaply: a base with Kubernetes (rootfs, programs, control-plane and pause
// images), and on top of it one layer that imports the etcd images. A new
// etcd version costs its own image and a new top layer, nothing else.
package nodeimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
	"etcd-upgrade-e2e/kindconfigs"
)

// DefaultKubernetesVersion is the release the kind provider runs.
const DefaultKubernetesVersion = "v1.33.13"

// DefaultMirror is the Debian mirror debootstrap uses.
const DefaultMirror = "http://deb.debian.org/debian"

// LoadBalancerImage is the image kind v0.30.0 runs as the HA load balancer
// (sigs.k8s.io/kind/pkg/cluster/internal/loadbalancer.Image, not importable).
const LoadBalancerImage = "docker.io/kindest/haproxy:v20230606-42a2262b"

// DefaultEtcdVersions are the etcd releases the scenarios start from or move
// to; the node image also always carries kubeadm's own pin (KubeSpec).
func DefaultEtcdVersions() []string { return []string{"3.5.17", "3.5.21", "3.6.5"} }

// KubeSpec is what kubeadm of one Kubernetes minor expects to find.
type KubeSpec struct {
	Version k8sbin.Version
	// PauseTag is kubeadm's constants.PauseVersion.
	PauseTag string
	// Etcd is kubeadm's constants.DefaultEtcdVersion without the "-0" suffix.
	Etcd string
}

// SpecFor returns kubeadm's expectations for a release. Only the minors the
// harness runs are known; their values were read from
// cmd/kubeadm/app/constants of the release.
func SpecFor(v k8sbin.Version) (KubeSpec, error) {
	switch {
	case v.Minor == 33 && v.Patch >= 13:
		return KubeSpec{Version: v, PauseTag: "3.10", Etcd: "3.5.24"}, nil
	case v.Minor == 34 && v.Patch >= 2:
		return KubeSpec{Version: v, PauseTag: "3.10.1", Etcd: "3.6.5"}, nil
	}
	return KubeSpec{}, fmt.Errorf("kubernetes %s: the node image builder knows v1.33.13+ and v1.34.2+ (pause tag and etcd pin of kubeadm)", v)
}

// ImageRef is the name kubeadm gives component's image for tag.
func ImageRef(component, tag string) string { return "registry.k8s.io/" + component + ":" + tag }

// EtcdImageRef is kubeadm's etcd image for an etcd version: etcd.local.imageTag
// "<version>-0" in a ClusterConfiguration selects it.
func EtcdImageRef(version string) string { return kindconfigs.EtcdImageRef(version) }

// EtcdImageTag is the tag of the etcd image for version.
func EtcdImageTag(version string) string { return kindconfigs.EtcdImageTag(version) }

// Builder finds or builds images. The zero value is not usable; use New.
type Builder struct {
	cacheDir    string
	log         io.Writer
	forceBuild  bool
	installDeps bool
	sourceDir   string
	goBin       string
	rootfs      RootFS
	docker      docker
	k8s         *k8sbin.Builder
	etcd        *etcdbin.Provisioner
	privileged  *bool // probed once per Builder
}

// Option configures a Builder.
type Option func(*Builder)

// WithCacheDir sets the harness cache directory (default
// etcdbin.DefaultCacheDir()); binaries go to k8s/ and work files to
// nodeimage/ below it.
func WithCacheDir(dir string) Option { return func(b *Builder) { b.cacheDir = dir } }

// WithLog sets where progress lines go.
func WithLog(w io.Writer) Option { return func(b *Builder) { b.log = w } }

// WithForceBuild ignores official images and builds every image here.
func WithForceBuild(on bool) Option { return func(b *Builder) { b.forceBuild = on } }

// WithInstallDeps lets the builder install missing host tools (debootstrap)
// with apt-get when running as root.
func WithInstallDeps(on bool) Option { return func(b *Builder) { b.installDeps = on } }

// WithMirror sets the Debian mirror for debootstrap.
func WithMirror(url string) Option { return func(b *Builder) { b.rootfs.Mirror = url } }

// WithSourceDir sets the root of the etcd-upgrade-e2e module, whose
// cmd/pause is built into the pause image (default: found from the working
// directory upwards).
func WithSourceDir(dir string) Option { return func(b *Builder) { b.sourceDir = dir } }

// WithEtcdProvisioner sets where etcd binaries come from.
func WithEtcdProvisioner(p *etcdbin.Provisioner) Option { return func(b *Builder) { b.etcd = p } }

// WithGo sets the go command.
func WithGo(goBin string) Option { return func(b *Builder) { b.goBin = goBin } }

// New returns a Builder. FORCE_NODE_IMAGE_BUILD=1 in the environment has the
// effect of WithForceBuild(true).
func New(opts ...Option) *Builder {
	b := &Builder{
		cacheDir:   etcdbin.DefaultCacheDir(),
		log:        io.Discard,
		goBin:      "go",
		rootfs:     DefaultRootFS(DefaultMirror),
		forceBuild: os.Getenv("FORCE_NODE_IMAGE_BUILD") == "1",
	}
	for _, o := range opts {
		o(b)
	}
	b.k8s = k8sbin.New(filepath.Join(b.cacheDir, "k8s"), k8sbin.WithLog(b.log), k8sbin.WithGo(b.goBin))
	if b.etcd == nil {
		b.etcd = etcdbin.NewProvisioner(etcdbin.WithLog(b.log), etcdbin.WithGo(b.goBin),
			etcdbin.WithCacheDir(filepath.Join(b.cacheDir, "etcd")))
	}
	return b
}

// workDir holds the builder's own files (pause binaries, locks, temporary
// root file systems).
func (b *Builder) workDir() string { return filepath.Join(b.cacheDir, "nodeimage") }

func (b *Builder) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "node-image: "+format+"\n", args...)
}

// NodeImage is a node image ready for kind.
type NodeImage struct {
	// Ref is the image to give kind (CreateWithNodeImage or nodes[].image).
	Ref string
	// Base is the node image without etcd images: official kindest/node or
	// the built base.
	Base string
	// Source is "official" when Base is a kindest/node image found locally,
	// "built" otherwise.
	Source            string
	KubernetesVersion string
	// EtcdImages maps each etcd version to its image (registry.k8s.io/etcd:V-0).
	EtcdImages map[string]string
	// Etcd is kubeadm's default etcd version for this release, always
	// preloaded.
	Etcd string
}

// Source values.
const (
	SourceOfficial = "official"
	SourceBuilt    = "built"
)

// NodeImage returns a node image for kubeVersion with the etcd images of
// etcdVersions (and kubeadm's own etcd pin) preloaded, building what is
// missing.
func (b *Builder) NodeImage(ctx context.Context, kubeVersion string, etcdVersions []string) (NodeImage, error) {
	start := time.Now()
	v, err := k8sbin.ParseVersion(kubeVersion)
	if err != nil {
		return NodeImage{}, err
	}
	spec, err := SpecFor(v)
	if err != nil {
		return NodeImage{}, err
	}
	versions, err := normaliseEtcd(append(append([]string(nil), etcdVersions...), spec.Etcd))
	if err != nil {
		return NodeImage{}, err
	}
	if err := os.MkdirAll(b.workDir(), 0o755); err != nil {
		return NodeImage{}, err
	}

	img := NodeImage{KubernetesVersion: v.String(), Etcd: spec.Etcd}
	// etcd images are independent of the base: make them alongside it, so
	// that etcd builds fill the gaps (links, waits on the network) of the
	// Kubernetes build.
	etcdCtx, cancelEtcd := context.WithCancel(ctx)
	defer cancelEtcd()
	etcdDone := make(chan error, 1)
	etcdImages := map[string]string{}
	go func() {
		for _, ev := range versions {
			ref, err := b.EtcdImage(etcdCtx, ev)
			if err != nil {
				etcdDone <- err
				return
			}
			etcdImages[ev] = ref
		}
		etcdDone <- nil
	}()

	official, err := b.officialNode(ctx, v)
	if err == nil && official != "" {
		b.logf("using the official node image %s found locally (-force-build to build one instead)", official)
		img.Base, img.Source = official, SourceOfficial
	} else if err == nil {
		img.Base, err = b.baseImage(ctx, spec)
		img.Source = SourceBuilt
	}
	if err != nil {
		cancelEtcd()
		<-etcdDone
		return NodeImage{}, err
	}
	if err := <-etcdDone; err != nil {
		return NodeImage{}, err
	}
	img.EtcdImages = etcdImages
	if img.Ref, err = b.etcdLayer(ctx, img.Base, v, img.EtcdImages); err != nil {
		return NodeImage{}, err
	}
	b.logf("node image %s ready (%s, etcd %s) in %s", img.Ref, img.Source, strings.Join(versions, ", "), since(start))
	return img, nil
}

// normaliseEtcd parses, deduplicates and sorts etcd versions.
func normaliseEtcd(in []string) ([]string, error) {
	seen := map[string]bool{}
	var vs []etcdbin.Version
	for _, s := range in {
		v, err := etcdbin.ParseVersion(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		if !seen[v.String()] {
			seen[v.String()] = true
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Less(vs[j]) })
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out, nil
}

// officialNode finds a local kindest/node image of the same release, else of
// the same minor; "" when there is none or official images are not wanted.
func (b *Builder) officialNode(ctx context.Context, v k8sbin.Version) (string, error) {
	if b.forceBuild {
		return "", nil
	}
	refs, err := b.docker.images(ctx, "kindest/node")
	if err != nil {
		return "", err
	}
	ref := pickOfficialNode(refs, v)
	if ref == "" {
		return "", nil
	}
	// kind's own entrypoint needs a writable cgroup mount, which only
	// --privileged gives on a cgroup v1 host.
	privileged, err := b.daemonPrivileged(ctx)
	if err != nil {
		return "", err
	}
	if !privileged {
		b.logf("not using the official %s: it needs --privileged, which this Docker daemon refuses; building one", ref)
		return "", nil
	}
	return ref, nil
}

// pickOfficialNode prefers kindest/node:<v>, then the newest tag of v's minor.
func pickOfficialNode(refs []string, v k8sbin.Version) string {
	var sameMinor []k8sbin.Version
	for _, r := range refs {
		_, tag, ok := strings.Cut(r, ":")
		if !ok {
			continue
		}
		tag, _, _ = strings.Cut(tag, "@")
		tv, err := k8sbin.ParseVersion(tag)
		if err != nil || tv.Minor != v.Minor {
			continue
		}
		if tv == v {
			return "kindest/node:" + v.String()
		}
		sameMinor = append(sameMinor, tv)
	}
	if len(sameMinor) == 0 {
		return ""
	}
	sort.Slice(sameMinor, func(i, j int) bool { return sameMinor[i].Patch > sameMinor[j].Patch })
	return "kindest/node:" + sameMinor[0].String()
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
