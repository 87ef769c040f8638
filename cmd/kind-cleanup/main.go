// Command kind-cleanup deletes the kind clusters, node containers and docker
// networks the harness left behind (a run that was killed, or -keep), found
// by their name prefix. `make clean` runs it.
//
//	go run ./cmd/kind-cleanup [-prefix etcdup-]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"etcd-upgrade-e2e/framework/kind"
	"etcd-upgrade-e2e/framework/nodeimage/dockerenv"
)

func main() {
	prefix := flag.String("prefix", kind.NamePrefix, "delete clusters, containers and networks whose name starts with this (must start with "+kind.NamePrefix+")")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if st := dockerenv.Check(ctx); !st.Usable() {
		fmt.Printf("kind-cleanup: nothing to clean: %s\n", st.Problem)
		return
	}
	l, err := kind.CleanupLeftovers(ctx, *prefix)
	fmt.Println("kind-cleanup:", l)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kind-cleanup:", err)
		os.Exit(1)
	}
}
