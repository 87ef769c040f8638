// Command pause is the pod sandbox process of the offline node image
// (registry.k8s.io/pause:<tag> there). It holds the pod's namespaces open and
// does nothing else: it sleeps until a signal arrives, reaps exited children
// on SIGCHLD (it is PID 1 of the pod when the PID namespace is shared) and
// exits on SIGINT or SIGTERM. It never polls: a loop around wait4 would keep
// one core busy per pod.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is printed by -v; the probe image of the node-image builder runs it
// to see whether a container starts at all.
const version = "etcdup-pause/1"

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "-v" || os.Args[1] == "--version" {
			fmt.Println(version)
			return
		}
		fmt.Fprintln(os.Stderr, "usage: pause [-v]")
		os.Exit(2)
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1")
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down on %s\n", sig)
		os.Exit(0)
	}
}

// reap collects every child that has exited; several may share one SIGCHLD.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
