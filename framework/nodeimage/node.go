package nodeimage

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
)

// baseImage returns the built node image without etcd images: the rootfs,
// the node's files and programs, and the control-plane and pause images
// preloaded.
func (b *Builder) baseImage(ctx context.Context, spec KubeSpec) (string, error) {
	// debootstrap mostly waits for the network and the disk while the
	// Kubernetes build keeps both cores busy: run them side by side.
	type rootfsResult struct {
		image string
		err   error
	}
	rootfsCtx, cancelRootfs := context.WithCancel(ctx)
	defer cancelRootfs()
	rootfsDone := make(chan rootfsResult, 1)
	go func() {
		image, err := b.ensureRootFS(rootfsCtx)
		rootfsDone <- rootfsResult{image, err}
	}()
	set, err := b.k8s.Get(ctx, spec.Version)
	if err != nil {
		cancelRootfs()
		<-rootfsDone
		return "", err
	}
	r := <-rootfsDone
	if r.err != nil {
		return "", r.err
	}
	rootfs := r.image
	images, err := b.ControlPlaneImages(ctx, spec, set)
	if err != nil {
		return "", err
	}
	c, err := NodeContext(rootfs, spec.Version.String(), ImageRef("pause", spec.PauseTag))
	if err != nil {
		return "", err
	}
	extra := []string{imageRecipe}
	for _, p := range []string{"kubeadm", "kubelet", "kubectl"} {
		extra = append(extra, p+"="+set.Sums[p])
	}
	ids, err := b.imageIDs(ctx, images)
	if err != nil {
		return "", err
	}
	extra = append(extra, ids...)
	digest := c.Digest(extra...)
	tag := fmt.Sprintf("etcd-upgrade-e2e/node-base:%s-%s", spec.Version, ShortDigest(digest))
	if _, ok, err := b.docker.inspect(ctx, tag); err != nil || ok {
		return tag, err
	}

	stage := fmt.Sprintf("etcd-upgrade-e2e/node-stage:%s-%s", spec.Version, ShortDigest(digest))
	err = b.ensureImage(ctx, stage, digest, func(dir string) error {
		if err := c.Write(dir); err != nil {
			return err
		}
		for _, p := range []string{"kubeadm", "kubelet", "kubectl"} {
			if err := copyFile(set.Path(p), filepath.Join(dir, "bin", p), 0o755); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("node image: %w", err)
	}
	if err := b.preload(ctx, stage, tag, digest, images); err != nil {
		return "", err
	}
	// The stage's layers live on in the base; only its name goes.
	_, _ = b.docker.run(ctx, nil, "image", "rm", stage)
	return tag, nil
}

// etcdLayer returns base with the etcd images imported, named after the
// digest of base and the etcd images.
func (b *Builder) etcdLayer(ctx context.Context, base string, v k8sbin.Version, etcdImages map[string]string) (string, error) {
	var refs []string
	for _, ref := range etcdImages {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	baseIDs, err := b.imageIDs(ctx, []string{base})
	if err != nil {
		return "", err
	}
	ids, err := b.imageIDs(ctx, refs)
	if err != nil {
		return "", err
	}
	digest := Digest(append(append([]string{imageRecipe, "etcd-layer"}, baseIDs...), ids...)...)
	tag := fmt.Sprintf("etcd-upgrade-e2e/node:%s-%s", v, ShortDigest(digest))
	if _, ok, err := b.docker.inspect(ctx, tag); err != nil || ok {
		return tag, err
	}
	if err := b.preload(ctx, base, tag, digest, refs); err != nil {
		return "", err
	}
	return tag, nil
}

// imageIDs returns "ref=id" for each image, so that digests follow content.
func (b *Builder) imageIDs(ctx context.Context, refs []string) ([]string, error) {
	var out []string
	for _, r := range refs {
		info, ok, err := b.docker.inspect(ctx, r)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("image %s is missing", r)
		}
		out = append(out, r+"="+info.ID)
	}
	return out, nil
}

// UpgradeKit is what a node of an older release needs for a real
// `kubeadm upgrade apply` to release Version: the new kubeadm, kubelet and
// kubectl (copied into the node), and kubeadm's images for that release
// (loaded with LoadImages), etcd at kubeadm's pin included.
type UpgradeKit struct {
	Version  string
	Binaries k8sbin.Set
	// Images are the control-plane, pause and etcd images of the release.
	Images []string
	// Etcd is the etcd version kubeadm of this release pins.
	Etcd string
}

// UpgradeKit builds (or finds) the programs and images of kubeVersion.
func (b *Builder) UpgradeKit(ctx context.Context, kubeVersion string) (UpgradeKit, error) {
	v, err := k8sbin.ParseVersion(kubeVersion)
	if err != nil {
		return UpgradeKit{}, err
	}
	spec, err := SpecFor(v)
	if err != nil {
		return UpgradeKit{}, err
	}
	set, err := b.k8s.Get(ctx, v)
	if err != nil {
		return UpgradeKit{}, err
	}
	images, err := b.ControlPlaneImages(ctx, spec, set)
	if err != nil {
		return UpgradeKit{}, err
	}
	etcd, err := b.EtcdImage(ctx, spec.Etcd)
	if err != nil {
		return UpgradeKit{}, err
	}
	return UpgradeKit{Version: v.String(), Binaries: set, Images: append(images, etcd), Etcd: spec.Etcd}, nil
}

// KubernetesBinaries returns kubeadm, kubelet, kubectl and the control-plane
// programs of one release, built once and cached.
func (b *Builder) KubernetesBinaries(ctx context.Context, kubeVersion string) (k8sbin.Set, error) {
	return b.k8s.GetString(ctx, kubeVersion)
}
