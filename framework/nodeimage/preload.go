package nodeimage

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/fscache"
	"etcd-upgrade-e2e/framework/nodeimage/dockerenv"
)

// preload makes tag from image `from` with images imported into its
// containerd (namespace k8s.io), where the kubelet finds them with no pull.
// containerd runs as the only process of a build container; the images are
// imported without unpacking (the node's CRI unpacks on first use, on the
// node's /var volume) and the container is committed with from's entrypoint.
func (b *Builder) preload(ctx context.Context, from, tag, digest string, images []string) error {
	unlock, err := fscache.Lock(ctx, filepath.Join(b.workDir(), ".locks", "image-"+lockName(tag)+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok, err := b.docker.inspect(ctx, tag); err != nil || ok {
		return err
	}
	start := time.Now()
	dir, err := os.MkdirTemp(b.workDir(), ".tmp-preload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "images.tar")
	if _, err := b.docker.run(ctx, nil, append([]string{"save", "--output", archive}, images...)...); err != nil {
		return err
	}
	b.logf("preload %s:   saved %d images (%s)", tag, len(images), since(start))

	entrypoint, cmd, err := b.entrypoint(ctx, from)
	if err != nil {
		return err
	}
	privileged, err := b.daemonPrivileged(ctx)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("etcdup-preload-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	defer b.docker.removeContainer(ctx, name)
	args := []string{"run", "--detach", "--name", name, "--network", "none",
		"--tmpfs", "/run", "--tmpfs", "/tmp",
		"--volume", dir + ":/tmp/preload:ro",
		"--entrypoint", "containerd"}
	args = append(args, dockerenv.RunFlags(privileged)...)
	if _, err := b.docker.run(ctx, nil, append(args, from)...); err != nil {
		return fmt.Errorf("starting containerd in %s: %w", from, err)
	}
	if err := b.waitContainerd(ctx, name); err != nil {
		return err
	}
	if _, err := b.docker.run(ctx, nil, "exec", name, "ctr", "--namespace=k8s.io", "images", "import",
		"--no-unpack", "/tmp/preload/images.tar"); err != nil {
		return fmt.Errorf("importing images into %s: %w", from, err)
	}
	out, err := b.docker.run(ctx, nil, "exec", name, "ctr", "--namespace=k8s.io", "images", "list", "--quiet")
	if err != nil {
		return err
	}
	if missing := missingImages(images, out); len(missing) > 0 {
		return fmt.Errorf("containerd of %s lacks %v after the import", from, missing)
	}
	b.logf("preload %s:   imported into containerd (%s)", tag, since(start))

	// containerd handles SIGTERM and closes its database cleanly; the image's
	// own stop signal is meant for systemd.
	_, _ = b.docker.run(ctx, nil, "exec", name, "kill", "-TERM", "1")
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = b.docker.run(waitCtx, nil, "wait", name)
	cancel()
	if err != nil {
		if _, err := b.docker.run(ctx, nil, "stop", name); err != nil {
			return err
		}
	}
	// The label lists everything the image carries, for `docker inspect`.
	carried := images
	if info, ok, err := b.docker.inspect(ctx, from); err == nil && ok && info.Labels[LabelImages] != "" {
		carried = append(strings.Split(info.Labels[LabelImages], ","), images...)
	}
	commit := []string{"commit",
		"--change", "ENTRYPOINT " + entrypoint,
		"--change", fmt.Sprintf("LABEL %s=%s %s=%s", LabelInputs, digest, LabelImages, strings.Join(carried, ","))}
	if cmd != "null" {
		commit = append(commit, "--change", "CMD "+cmd)
	}
	if _, err := b.docker.run(ctx, nil, append(commit, name, tag)...); err != nil {
		return err
	}
	b.logf("preload %s: committed in %s", tag, since(start))
	return nil
}

// entrypoint returns the JSON of the image's entrypoint and cmd, which the
// build container overrides and the commit must restore.
func (b *Builder) entrypoint(ctx context.Context, image string) (string, string, error) {
	out, err := b.docker.run(ctx, nil, "image", "inspect", "--format", "{{json .Config.Entrypoint}}\n{{json .Config.Cmd}}", image)
	if err != nil {
		return "", "", err
	}
	ep, cmd, _ := strings.Cut(strings.TrimSpace(out), "\n")
	var probe []string
	if err := json.Unmarshal([]byte(ep), &probe); err != nil || len(probe) == 0 {
		return "", "", fmt.Errorf("image %s has no entrypoint to restore (%s)", image, ep)
	}
	return ep, strings.TrimSpace(cmd), nil
}

func (b *Builder) waitContainerd(ctx context.Context, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := b.docker.run(ctx, nil, "exec", name, "ctr", "version")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			logs, _ := b.docker.run(ctx, nil, "logs", "--tail", "20", name)
			return fmt.Errorf("containerd did not start in the build container: %w\n%s", err, logs)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// daemonPrivileged probes once per Builder whether the daemon accepts
// --privileged.
func (b *Builder) daemonPrivileged(ctx context.Context) (bool, error) {
	if b.privileged != nil {
		return *b.privileged, nil
	}
	probe, err := b.ProbeImage(ctx)
	if err != nil {
		return false, err
	}
	ok, refusal, err := dockerenv.ProbePrivileged(ctx, probe, ProbeArgs()...)
	if err != nil {
		return false, err
	}
	if !ok {
		b.logf("the Docker daemon refuses --privileged (%s); build containers run with %s",
			refusal, strings.Join(dockerenv.UnprivilegedRunFlags(), " "))
	}
	b.privileged = &ok
	return ok, nil
}

// missingImages lists the wanted references that `ctr images list -q` does
// not show. docker save names images with docker.io/ for Docker Hub ones.
func missingImages(want []string, listed string) []string {
	have := map[string]bool{}
	for _, l := range strings.Fields(listed) {
		have[l] = true
	}
	var missing []string
	for _, w := range want {
		if !have[w] && !have["docker.io/"+w] && !have["docker.io/library/"+w] {
			missing = append(missing, w)
		}
	}
	return missing
}

// PrepareDocker checks the daemon and, where it refuses --privileged,
// returns the environment that routes kind through the docker wrapper (see
// package dockerenv). Call Env.Apply before using kind's Go library.
func (b *Builder) PrepareDocker(ctx context.Context) (dockerenv.Env, error) {
	st := dockerenv.Check(ctx)
	if !st.Usable() {
		return dockerenv.Env{Status: st}, fmt.Errorf("docker: %s", st.Problem)
	}
	probe, err := b.ProbeImage(ctx)
	if err != nil {
		return dockerenv.Env{Status: st}, &ProbeBuildError{Err: err}
	}
	return dockerenv.Prepare(ctx, b.cacheDir, probe, ProbeArgs(), b.log)
}

// ProbeBuildError says the harness could not build its own probe image: a
// fault of the harness, not a host that cannot run kind.
type ProbeBuildError struct{ Err error }

func (e *ProbeBuildError) Error() string { return "building the probe image: " + e.Err.Error() }
func (e *ProbeBuildError) Unwrap() error { return e.Err }
