package nodeimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// LoadImages copies local Docker images into the containerd of running kind
// nodes, as `kind load docker-image` does: one `docker save` archive,
// imported on each node with nodeutils.LoadImageArchive.
func (b *Builder) LoadImages(ctx context.Context, targets []nodes.Node, images ...string) error {
	if len(targets) == 0 || len(images) == 0 {
		return nil
	}
	start := time.Now()
	f, err := os.CreateTemp("", "etcdup-images-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	f.Close()
	if _, err := b.docker.run(ctx, nil, append([]string{"save", "--output", f.Name()}, images...)...); err != nil {
		return err
	}
	// One import per node, all at once, so that nodes do not wait for
	// each other.
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			archive, err := os.Open(f.Name())
			if err != nil {
				errs[i] = err
				return
			}
			defer archive.Close()
			if err := nodeutils.LoadImageArchive(n, archive); err != nil {
				errs[i] = fmt.Errorf("loading %v into node %s: %w", images, n.String(), err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	b.logf("loaded %v into %d nodes (%s)", images, len(targets), since(start))
	return nil
}

// LoadEtcdImages makes the etcd images of versions (building what is
// missing) and loads them into running nodes, for a version the node image
// does not carry.
func (b *Builder) LoadEtcdImages(ctx context.Context, targets []nodes.Node, versions ...string) error {
	var refs []string
	for _, v := range versions {
		ref, err := b.EtcdImage(ctx, v)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	return b.LoadImages(ctx, targets, refs...)
}
