package nodeimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/fscache"
	"etcd-upgrade-e2e/framework/internal/dockercli"
	"etcd-upgrade-e2e/framework/internal/logtail"
)

// rootfsRecipe is bumped when the way the root file system is made changes.
const rootfsRecipe = "rootfs/1"

// RootFS describes the Debian root file system shared by the node and load
// balancer images.
type RootFS struct {
	Suite    string
	Mirror   string
	Packages []string
}

// DefaultRootFS is Debian bookworm with what a kind node runs: systemd,
// containerd and runc, the network tools the kubelet and kubeadm call, the
// CNI plugins, and haproxy for the load balancer image.
func DefaultRootFS(mirror string) RootFS {
	return RootFS{
		Suite:  "bookworm",
		Mirror: mirror,
		Packages: []string{
			"systemd", "systemd-sysv", "dbus",
			"containerd", "runc", "containernetworking-plugins",
			"iptables", "nftables", "conntrack", "socat", "ethtool", "ebtables",
			"kmod", "mount", "util-linux", "procps", "iproute2", "ca-certificates",
			"libseccomp2", "haproxy",
		},
	}
}

// Digest identifies the recipe (not the bytes: a mirror moves on, the recipe
// is what the tag pins).
func (r RootFS) Digest() string {
	pkgs := append([]string(nil), r.Packages...)
	sort.Strings(pkgs)
	return Digest(rootfsRecipe, r.Suite, r.Mirror, strings.Join(pkgs, ","))
}

// Image is the local tag of the rootfs image.
func (r RootFS) Image() string {
	return fmt.Sprintf("etcd-upgrade-e2e/rootfs:%s-%s", r.Suite, ShortDigest(r.Digest()))
}

// DebootstrapArgs are the arguments of the debootstrap run.
func (r RootFS) DebootstrapArgs(dir string) []string {
	return []string{
		"--variant=minbase",
		"--components=main",
		"--include=" + strings.Join(r.Packages, ","),
		r.Suite, dir, r.Mirror,
	}
}

// InstallHint is what to tell a user whose machine lacks debootstrap.
const InstallHint = "apt-get update && apt-get install -y debootstrap (or run cmd/node-image with -install-deps as root)"

// EnsureDebootstrap finds debootstrap; with install, as root, it installs it
// with apt-get (CI starts from a fresh machine).
func EnsureDebootstrap(ctx context.Context, install bool, log io.Writer) (string, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return p, nil
	}
	if !install {
		return "", fmt.Errorf("debootstrap is not installed; install it with: %s", InstallHint)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("debootstrap is not installed and installing it needs root; run: sudo %s", InstallHint)
	}
	start := time.Now()
	fmt.Fprintln(log, "debootstrap: installing with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "debootstrap"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %s: %w\n%s", args[0], err, logtail.Last(string(out), 15))
		}
	}
	fmt.Fprintf(log, "debootstrap: installed in %s\n", since(start))
	return exec.LookPath("debootstrap")
}

// ensureRootFS returns the rootfs image, making it with debootstrap and
// `docker import` when absent.
func (b *Builder) ensureRootFS(ctx context.Context) (string, error) {
	r := b.rootfs
	tag := r.Image()
	if _, ok, err := b.docker.inspect(ctx, tag); err != nil || ok {
		return tag, err
	}
	unlock, err := fscache.Lock(ctx, filepath.Join(b.workDir(), ".locks", "rootfs.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, ok, err := b.docker.inspect(ctx, tag); err != nil || ok {
		return tag, err
	}
	debootstrap, err := EnsureDebootstrap(ctx, b.installDeps, b.log)
	if err != nil {
		return "", err
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("building the root file system needs root (debootstrap chroots and creates device nodes)")
	}
	fscache.RemoveStaleTemps(b.workDir(), "rootfs")
	tmp, err := os.MkdirTemp(b.workDir(), ".tmp-rootfs-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	b.logf("rootfs: debootstrap %s from %s with %d packages (about 1-2 min)", r.Suite, r.Mirror, len(r.Packages))
	cmd := exec.CommandContext(ctx, debootstrap, r.DebootstrapArgs(tmp)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("debootstrap: %w\n%s", contextErr(ctx, err), logtail.Last(string(out), 20))
	}
	b.logf("rootfs: debootstrap done (%s)", since(start))

	// Package caches and lists are of no use in the image.
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "var/log/*.log"} {
		matches, _ := filepath.Glob(filepath.Join(tmp, glob))
		for _, m := range matches {
			_ = os.RemoveAll(m)
		}
	}

	start = time.Now()
	if err := b.importDir(ctx, tmp, tag, r.Digest()); err != nil {
		return "", err
	}
	b.logf("rootfs: imported as %s (%s)", tag, since(start))
	return tag, nil
}

// importDir turns a directory into an image with `tar | docker import`.
func (b *Builder) importDir(ctx context.Context, dir, tag, digest string) error {
	tar := exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "-C", dir, "-c", ".")
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	var tarErr strings.Builder
	tar.Stderr = &tarErr
	if err := tar.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	_, impErr := dockercli.RunWith(ctx, dockercli.Options{Stdin: pipe, ErrorLines: 10}, "import",
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", fmt.Sprintf("LABEL %s=%s", LabelInputs, digest),
		"-", tag)
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("tar of %s: %w\n%s", dir, contextErr(ctx, err), logtail.Last(tarErr.String(), 10))
	}
	if impErr != nil {
		return impErr
	}
	return nil
}
