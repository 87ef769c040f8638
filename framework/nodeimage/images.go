package nodeimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/fscache"
	"etcd-upgrade-e2e/framework/internal/logtail"
	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
)

// imageRecipe is bumped when the way images are assembled changes.
const imageRecipe = "images/1"

// program is a binary copied into an image, with its sha256.
type program struct {
	Name, Path, Sum string
}

// scratchImage makes sure ref is an image with the given programs and
// nothing else. An image under ref that was not built here is official and
// is used as it is, unless the builder is forced to build.
func (b *Builder) scratchImage(ctx context.Context, ref string, progs []program, entrypoint string) error {
	names := make([]string, len(progs))
	extra := []string{imageRecipe}
	for i, p := range progs {
		names[i] = p.Name
		extra = append(extra, p.Name+"="+p.Sum)
	}
	c := ScratchContext(names, entrypoint)
	digest := c.Digest(extra...)
	return b.ensureImage(ctx, ref, digest, func(dir string) error {
		if err := c.Write(dir); err != nil {
			return err
		}
		for _, p := range progs {
			if err := copyFile(p.Path, filepath.Join(dir, p.Name), 0o755); err != nil {
				return err
			}
		}
		return nil
	})
}

// ensureImage builds ref from the context that fill writes, unless ref
// already carries digest (or is official and official images are allowed).
func (b *Builder) ensureImage(ctx context.Context, ref, digest string, fill func(dir string) error) error {
	var stale string // an image built here from older inputs
	check := func(verbose bool) (bool, error) {
		info, ok, err := b.docker.inspect(ctx, ref)
		if err != nil || !ok {
			return false, err
		}
		if info.Labels[LabelInputs] != "" {
			stale = info.ID
		}
		reuse, why := reuseImage(info, digest, b.forceBuild)
		if why != "" && (verbose || reuse) {
			b.logf("%s: %s", ref, why)
		}
		return reuse, nil
	}
	if ok, err := check(false); err != nil || ok {
		return err
	}
	unlock, err := fscache.Lock(ctx, filepath.Join(b.workDir(), ".locks", "image-"+lockName(ref)+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	// under the lock: another process may have built it meanwhile
	if ok, err := check(true); err != nil || ok {
		return err
	}
	start := time.Now()
	dir, err := os.MkdirTemp(b.workDir(), ".tmp-context-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := fill(dir); err != nil {
		return fmt.Errorf("preparing the build context of %s: %w", ref, err)
	}
	if err := b.docker.build(ctx, dir, ref, map[string]string{LabelInputs: digest}); err != nil {
		return err
	}
	b.logf("built %s (%s)", ref, since(start))
	if stale != "" {
		// The old build lost its name; drop it unless something still uses it.
		_, _ = b.docker.run(ctx, nil, "image", "rm", stale)
	}
	return nil
}

// officialImage reports whether ref is present locally without the inputs
// label, i.e. was not built here, and official images are wanted.
func (b *Builder) officialImage(ctx context.Context, ref string) (bool, error) {
	if b.forceBuild {
		return false, nil
	}
	info, ok, err := b.docker.inspect(ctx, ref)
	if err != nil || !ok || info.Labels[LabelInputs] != "" {
		return false, err
	}
	b.logf("using the official image %s found locally", ref)
	return true, nil
}

// reuseImage decides whether a local image can stand for one built from
// digest: one built here from the same inputs can; an official one (no
// label) can unless building is forced; one built from other inputs cannot.
// why is "" for an image that is simply up to date.
func reuseImage(info imageInfo, digest string, force bool) (bool, string) {
	got := info.Labels[LabelInputs]
	switch {
	case got == digest:
		return true, ""
	case got == "" && !force:
		return true, "using the official image found locally"
	case got == "":
		return false, "official image present; building over it as asked"
	default:
		return false, fmt.Sprintf("built from other inputs (%s, want %s); rebuilding", ShortDigest(got), ShortDigest(digest))
	}
}

// EtcdImage returns registry.k8s.io/etcd:<version>-0, building it FROM
// scratch from the provisioned etcd and etcdctl when it is absent.
func (b *Builder) EtcdImage(ctx context.Context, version string) (string, error) {
	ref := EtcdImageRef(version)
	// An official image needs no inputs: do not make them for nothing.
	if ok, err := b.officialImage(ctx, ref); err != nil || ok {
		return ref, err
	}
	bins, err := b.etcd.GetString(ctx, version)
	if err != nil {
		return "", err
	}
	progs := []program{{Name: "etcd", Path: bins.Etcd}, {Name: "etcdctl", Path: bins.Etcdctl}}
	for i := range progs {
		if progs[i].Sum, err = fscache.FileSHA256(progs[i].Path); err != nil {
			return "", err
		}
	}
	if err := b.scratchImage(ctx, ref, progs, "etcd"); err != nil {
		return "", fmt.Errorf("etcd image %s: %w", ref, err)
	}
	return ref, nil
}

// ControlPlaneImages returns kubeadm's kube-apiserver, kube-controller-manager,
// kube-scheduler and pause images for the release, building what is missing.
func (b *Builder) ControlPlaneImages(ctx context.Context, spec KubeSpec, set k8sbin.Set) ([]string, error) {
	var refs []string
	for _, name := range k8sbin.ServerPrograms() {
		ref := ImageRef(name, spec.Version.String())
		p := program{Name: name, Path: set.Path(name), Sum: set.Sums[name]}
		if err := b.scratchImage(ctx, ref, []program{p}, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		refs = append(refs, ref)
	}
	pause, err := b.PauseImage(ctx, spec.PauseTag)
	if err != nil {
		return nil, err
	}
	return append(refs, pause), nil
}

// PauseImage returns registry.k8s.io/pause:<tag> with the project's own pause
// program (cmd/pause).
func (b *Builder) PauseImage(ctx context.Context, tag string) (string, error) {
	ref := ImageRef("pause", tag)
	// An official image needs no inputs: do not make them for nothing.
	if ok, err := b.officialImage(ctx, ref); err != nil || ok {
		return ref, err
	}
	p, err := b.pauseProgram(ctx)
	if err != nil {
		return "", err
	}
	if err := b.scratchImage(ctx, ref, []program{p}, "pause"); err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	return ref, nil
}

// ProbeImage is a FROM-scratch image whose entrypoint (the pause program)
// exits 0 when run with ProbeArgs; dockerenv uses it to see whether the
// daemon accepts --privileged.
func (b *Builder) ProbeImage(ctx context.Context) (string, error) {
	p, err := b.pauseProgram(ctx)
	if err != nil {
		return "", err
	}
	ref := "etcd-upgrade-e2e/probe:" + ShortDigest(p.Sum)
	if err := b.scratchImage(ctx, ref, []program{p}, "pause"); err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	return ref, nil
}

// ProbeArgs make the probe image exit at once.
func ProbeArgs() []string { return []string{"-v"} }

// pauseProgram builds cmd/pause statically, cached by the digest of its
// source.
func (b *Builder) pauseProgram(ctx context.Context) (program, error) {
	src, err := b.moduleRoot()
	if err != nil {
		return program{}, err
	}
	srcDigest, err := dirDigest(filepath.Join(src, "cmd", "pause"))
	if err != nil {
		return program{}, fmt.Errorf("reading cmd/pause: %w", err)
	}
	dir := filepath.Join(b.workDir(), "pause", ShortDigest(srcDigest))
	bin := filepath.Join(dir, "pause")
	if _, err := os.Stat(bin); err != nil {
		unlock, err := fscache.Lock(ctx, filepath.Join(b.workDir(), ".locks", "pause.lock"))
		if err != nil {
			return program{}, err
		}
		defer unlock()
		start := time.Now()
		err = fscache.Install(dir, func(tmp string) error {
			cmd := exec.CommandContext(ctx, b.goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, "pause"), "./cmd/pause")
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build ./cmd/pause: %w\n%s", err, logtail.Last(string(out), 10))
			}
			return nil
		})
		if err != nil {
			return program{}, err
		}
		b.logf("built the pause program (%s)", since(start))
	}
	sum, err := fscache.FileSHA256(bin)
	if err != nil {
		return program{}, err
	}
	return program{Name: "pause", Path: bin, Sum: sum}, nil
}

// moduleRoot finds the etcd-upgrade-e2e module, whose cmd/pause is built.
func (b *Builder) moduleRoot() (string, error) {
	if b.sourceDir != "" {
		return b.sourceDir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(strings.TrimSpace(string(raw)), "module etcd-upgrade-e2e\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("the etcd-upgrade-e2e module (for cmd/pause) is not above the working directory; run from the repository or use WithSourceDir")
		}
		dir = parent
	}
}

// LoadBalancerImage returns kind's HA load balancer image, building it from
// the rootfs image (Debian's haproxy) when absent.
func (b *Builder) LoadBalancerImage(ctx context.Context) (string, error) {
	ref := strings.TrimPrefix(LoadBalancerImage, "docker.io/")
	// An official image needs no inputs: do not make them for nothing.
	if ok, err := b.officialImage(ctx, ref); err != nil || ok {
		return LoadBalancerImage, err
	}
	rootfs, err := b.ensureRootFS(ctx)
	if err != nil {
		return "", err
	}
	c, err := LoadBalancerContext(rootfs)
	if err != nil {
		return "", err
	}
	if err := b.ensureImage(ctx, ref, c.Digest(imageRecipe), c.Write); err != nil {
		return "", fmt.Errorf("load balancer image: %w", err)
	}
	return LoadBalancerImage, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	// A hard link is instant and the build context only reads the file.
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return fscache.CopyFile(src, dst, mode)
}

// dirDigest hashes the regular files of one directory (not recursive).
func dirDigest(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		parts = append(parts, e.Name()+"="+hashBytes(raw))
	}
	return Digest(parts...), nil
}

// lockName turns an image reference into a file name.
func lockName(ref string) string {
	return strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(ref)
}
