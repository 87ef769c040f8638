package nodeimage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"etcd-upgrade-e2e/framework/internal/dockercli"
)

// LabelInputs is the image label that carries the digest of everything an
// image was built from. An image whose label matches the current inputs is
// reused; one without the label was not built here (an official image).
const LabelInputs = "io.etcd-upgrade-e2e.inputs"

// LabelImages lists the images preloaded into a node image's containerd.
const LabelImages = "io.etcd-upgrade-e2e.preloaded"

// docker runs the docker CLI. Output goes to a buffer that is returned, and
// quoted in errors.
type docker struct{}

func (d docker) run(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	return dockercli.RunWith(ctx, dockercli.Options{Stdin: stdin}, args...)
}

// imageInfo is what the builder needs to know about a local image.
type imageInfo struct {
	ID     string
	Labels map[string]string
}

// inspect returns the image, or ok=false when it is not present.
func (d docker) inspect(ctx context.Context, ref string) (imageInfo, bool, error) {
	out, err := d.run(ctx, nil, "image", "inspect", "--format", "{{json .Id}} {{json .Config.Labels}}", ref)
	if err != nil {
		if dockercli.IsNotFound(err) {
			return imageInfo{}, false, nil
		}
		return imageInfo{}, false, err
	}
	var info imageInfo
	id, labels, _ := strings.Cut(strings.TrimSpace(out), " ")
	if err := json.Unmarshal([]byte(id), &info.ID); err != nil {
		return imageInfo{}, false, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	if err := json.Unmarshal([]byte(labels), &info.Labels); err != nil {
		return imageInfo{}, false, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	return info, true, nil
}

// ImagePresent says whether the local daemon has the image ref.
func ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, ok, err := docker{}.inspect(ctx, ref)
	return ok, err
}

// images lists local tags of repository (e.g. kindest/node).
func (d docker) images(ctx context.Context, repository string) ([]string, error) {
	out, err := d.run(ctx, nil, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasSuffix(l, ":<none>") {
			refs = append(refs, l)
		}
	}
	return refs, nil
}

// build runs the classic builder on dir; BuildKit is not assumed (Docker
// 20.10 clients may lack buildx).
func (d docker) build(ctx context.Context, dir, tag string, labels map[string]string) error {
	args := []string{"build", "--quiet", "--tag", tag}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	// BuildKit off: Docker 20.10 clients may lack buildx.
	_, err := dockercli.RunWith(ctx, dockercli.Options{Env: []string{"DOCKER_BUILDKIT=0"}, ErrorLines: 25}, append(args, dir)...)
	return err
}

// remove deletes containers by name, ignoring ones that do not exist.
func (d docker) removeContainer(ctx context.Context, name string) {
	_, _ = d.run(context.WithoutCancel(ctx), nil, "rm", "--force", "--volumes", name)
}
