// Command etcd-binaries provisions the etcd and etcdctl binaries of the given
// versions (default: every version the scenarios use) and prints where they
// are. With -bench it times a cold and a warm provisioning of one version.
// With -range it first asks the Go module proxy which releases of a range it
// serves, version by version, and provisions those (-list: only lists them).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/scenarios"
)

func main() {
	bench := flag.Bool("bench", false, "time a cold (empty cache) and a warm provisioning of each version")
	ranges := flag.String("range", "", "comma-separated ranges FROM..TO (e.g. 3.5.15..3.5.35,3.6.0..3.6.16): provision every release of them the module proxy serves")
	list := flag.Bool("list", false, "with -range: only list which releases the proxy serves")
	parallel := flag.Int("j", etcdbin.DefaultParallel(), "versions built at once")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: etcd-binaries [-bench] [-range FROM..TO,...] [-list] [-j N] [VERSION...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *ranges != "" {
		os.Exit(runRanges(ctx, *ranges, *list, *parallel))
	}
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
	if !printProvisioned(p.GetAll(ctx, parsed, *parallel)) {
		os.Exit(1)
	}
}

// printProvisioned prints one line per version and says whether all worked;
// a release the proxy does not serve whole is reported, not a failure.
func printProvisioned(res []etcdbin.Provisioned) bool {
	ok := true
	for _, r := range res {
		var ns *etcdbin.NotServedError
		if errors.As(r.Err, &ns) {
			fmt.Printf("etcd %-8s not served whole by the Go module proxy: it refuses %s\n", r.Version, ns.Module)
			continue
		}
		if r.Err != nil {
			fmt.Fprintln(os.Stderr, r.Err)
			fmt.Printf("etcd %-8s FAILED %8s  %s\n", r.Version, r.Took.Round(time.Millisecond), firstLine(r.Err.Error()))
			ok = false
			continue
		}
		fmt.Printf("etcd %-8s %-6s %8s  %s\n", r.Version, r.Binaries.Source, r.Took.Round(time.Millisecond), filepath.Dir(r.Binaries.Etcd))
	}
	return ok
}

// runRanges asks the proxy about every release of the ranges, prints which
// it does not serve, and provisions the others.
func runRanges(ctx context.Context, ranges string, listOnly bool, parallel int) int {
	p := etcdbin.NewProvisioner(etcdbin.WithLog(os.Stderr))
	var served []etcdbin.Version
	for _, r := range strings.Split(ranges, ",") {
		from, to, err := etcdbin.ParseRange(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		as, err := p.Served(ctx, from, to)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, a := range as {
			if !a.Served {
				fmt.Printf("etcd %-8s not served by the Go module proxy: %s\n", a.Version, a.Why)
			} else if listOnly {
				fmt.Printf("etcd %-8s served\n", a.Version)
			}
		}
		served = append(served, etcdbin.ServedOnly(as)...)
	}
	if listOnly {
		return 0
	}
	start := time.Now()
	ok := printProvisioned(p.GetAll(ctx, served, parallel))
	fmt.Printf("%d versions provisioned in %s (%d at a time)\n", len(served), time.Since(start).Round(time.Second), parallel)
	if !ok {
		return 1
	}
	return 0
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
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
