// Command etcd-binaries provisions the etcd and etcdctl binaries of the given
// versions (default: every version the scenarios use) and prints where they
// are. With -bench it times a cold and a warm provisioning of one version.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/scenarios"
)

func main() {
	bench := flag.Bool("bench", false, "time a cold (empty cache) and a warm provisioning of each version")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: etcd-binaries [-bench] [VERSION...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	versions := flag.Args()
	if len(versions) == 0 {
		versions = scenarios.Versions(scenarios.All())
	}
	// Reject bad input before building anything.
	var parsed []etcdbin.Version
	for _, s := range versions {
		v, err := etcdbin.ParseVersion(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		parsed = append(parsed, v)
	}
	if *bench {
		os.Exit(runBench(ctx, parsed))
	}
	p := etcdbin.NewProvisioner(etcdbin.WithLog(os.Stderr))
	failed := false
	for _, v := range parsed {
		start := time.Now()
		b, err := p.Get(ctx, v)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
			continue
		}
		fmt.Printf("etcd %-8s %-6s %8s  %s\n", v, b.Source, time.Since(start).Round(time.Millisecond), filepath.Dir(b.Etcd))
	}
	if failed {
		os.Exit(1)
	}
}

// runBench provisions each version into a fresh cache (cold: module download
// and build, with Go's build cache as it is) and again (warm: cache hit).
func runBench(ctx context.Context, versions []etcdbin.Version) int {
	dir, err := os.MkdirTemp("", "etcd-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	p := etcdbin.NewProvisioner(etcdbin.WithCacheDir(dir), etcdbin.WithDownload(os.Getenv("ETCD_DOWNLOAD") != "never"))
	for _, v := range versions {
		start := time.Now()
		if _, err := p.Get(ctx, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cold := time.Since(start)
		start = time.Now()
		if _, err := p.Get(ctx, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		warm := time.Since(start)
		fmt.Printf("etcd %s: cold %s, warm %s\n", v, cold.Round(time.Millisecond), warm.Round(time.Millisecond))
	}
	return 0
}
