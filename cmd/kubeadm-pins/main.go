// Command kubeadm-pins prints, for every Kubernetes patch release of the
// given minors the Go module proxy serves, the etcd version its kubeadm
// pins, read from the k8s.io/kubernetes module's own
// cmd/kubeadm/app/constants/constants.go (see framework/kubeadmpins). The
// first run downloads each release once (large; one at a time); the pins are
// cached under the harness cache dir.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"etcd-upgrade-e2e/framework/kubeadmpins"
)

func main() {
	minors := flag.String("minors", "33,34", "comma-separated Kubernetes 1.x minors")
	asJSON := flag.Bool("json", false, "print the pins as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ms []int
	for _, s := range strings.Split(*minors, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || m < 0 {
			fmt.Fprintf(os.Stderr, "bad minor %q\n", s)
			os.Exit(2)
		}
		ms = append(ms, m)
	}
	r := kubeadmpins.NewReader(kubeadmpins.DefaultCacheDir(), kubeadmpins.WithLog(os.Stderr))
	pins, missing, err := r.All(ctx, ms...)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(pins)
	} else {
		fmt.Print(kubeadmpins.Table(pins, missing))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
