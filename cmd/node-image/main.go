// Command node-image builds (or finds) the kind node image of the harness,
// with kubeadm's control-plane and pause images and the etcd images of the
// scenarios preloaded, and kind's HA load balancer image. It prints the node
// image's name last on stdout; progress goes to stderr.
//
//	go run ./cmd/node-image -k8s-version v1.33.13 -etcd-versions 3.5.17,3.5.21,3.6.5 [-upgrade-kit v1.34.2]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"etcd-upgrade-e2e/framework/nodeimage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "node-image:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		k8sVersion   = flag.String("k8s-version", nodeimage.DefaultKubernetesVersion, "Kubernetes release of the node image (empty: no node image)")
		etcdVersions = flag.String("etcd-versions", strings.Join(nodeimage.DefaultEtcdVersions(), ","), "comma-separated etcd versions to preload (kubeadm's own pin is always added)")
		forceBuild   = flag.Bool("force-build", false, "build every image here even when official images are present locally")
		printTag     = flag.Bool("print-tag", false, "print only the node image name on stdout (progress still goes to stderr)")
		installDeps  = flag.Bool("install-deps", false, "install missing host tools (debootstrap) with apt-get; needs root")
		loadBalancer = flag.Bool("load-balancer", true, "also provide kind's HA load balancer image")
		mirror       = flag.String("mirror", nodeimage.DefaultMirror, "Debian mirror for debootstrap")
		cacheDir     = flag.String("cache-dir", "", "harness cache directory (default $ETCD_UPGRADE_CACHE or ~/.cache/etcd-upgrade-e2e)")
		timeout      = flag.Duration("timeout", 40*time.Minute, "give up after this long")
		upgradeTo    = flag.String("upgrade-kit", "", "also build what a real `kubeadm upgrade` to this release needs (kubeadm, kubelet, control-plane images), e.g. v1.34.2")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	opts := []nodeimage.Option{
		nodeimage.WithLog(os.Stderr),
		nodeimage.WithForceBuild(*forceBuild),
		nodeimage.WithInstallDeps(*installDeps),
		nodeimage.WithMirror(*mirror),
	}
	if *cacheDir != "" {
		opts = append(opts, nodeimage.WithCacheDir(*cacheDir))
	}
	b := nodeimage.New(opts...)

	start := time.Now()
	var img nodeimage.NodeImage
	var err error
	if *k8sVersion != "" {
		if img, err = b.NodeImage(ctx, *k8sVersion, splitList(*etcdVersions)); err != nil {
			return err
		}
	}
	var kit nodeimage.UpgradeKit
	if *upgradeTo != "" {
		if kit, err = b.UpgradeKit(ctx, *upgradeTo); err != nil {
			return fmt.Errorf("upgrade kit %s: %w", *upgradeTo, err)
		}
	}
	lb := ""
	if *loadBalancer {
		if lb, err = b.LoadBalancerImage(ctx); err != nil {
			return err
		}
	}
	if *printTag {
		fmt.Println(img.Ref)
		return nil
	}
	if img.Ref != "" {
		fmt.Printf("node image:    %s (%s, Kubernetes %s)\n", img.Ref, img.Source, img.KubernetesVersion)
		fmt.Printf("base image:    %s\n", img.Base)
	}
	for _, v := range sortedKeys(img.EtcdImages) {
		fmt.Printf("etcd %-8s  %s\n", v, img.EtcdImages[v])
	}
	if lb != "" {
		fmt.Printf("load balancer: %s\n", lb)
	}
	if kit.Version != "" {
		fmt.Printf("upgrade kit:   Kubernetes %s (etcd pin %s): %s, images %s\n", kit.Version, kit.Etcd, kit.Binaries.Dir, strings.Join(kit.Images, " "))
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(100*time.Millisecond))
	fmt.Println(img.Ref)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
