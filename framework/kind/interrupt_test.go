package kind

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/internal/logtail"
)

// TestInterruptLeavesNothing runs one kind spec of the e2e suite with the
// ginkgo CLI, interrupts it (SIGINT, as Ctrl-C does) at a point of its run,
// and checks that no container or network of its cluster survives. It needs
// Docker and builds the node image when absent, so it only runs with
// ETCDUP_KIND_INTERRUPT_TEST=1:
//
//	ETCDUP_KIND_INTERRUPT_TEST=1 go test ./framework/kind -run Interrupt -v -timeout 40m
func TestInterruptLeavesNothing(t *testing.T) {
	if os.Getenv("ETCDUP_KIND_INTERRUPT_TEST") != "1" {
		t.Skip("set ETCDUP_KIND_INTERRUPT_TEST=1 to run a kind spec and interrupt it (needs Docker, takes minutes)")
	}
	root := moduleRoot(t)
	for _, tc := range []struct {
		name string
		// when returns true once the run is where it should be interrupted.
		when func(names []string) bool
	}{
		// kind's create cannot be cancelled: the harness must wait for it
		// and delete what it made.
		{"during kind create", func(names []string) bool { return len(names) > 0 }},
		// A node container the harness runs itself (Cluster API style).
		{"during a replacement join", func(names []string) bool {
			for _, n := range names {
				if strings.HasSuffix(n, "-control-plane4") {
					return true
				}
			}
			return false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interruptOnce(t, root, tc.when)
		})
	}
}

func interruptOnce(t *testing.T, root string, when func([]string) bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	artifacts := t.TempDir()
	// A path of its own, so that the cluster names of this run are told
	// apart from any other run's by the scenario part of the name.
	cmd := exec.CommandContext(ctx, "go", "tool", "ginkgo", "-v", "--label-filter=kind && replace",
		"--output-dir="+artifacts, "./e2e", "--",
		"-provider=kind", "-path=3.5.21,3.6.5", "-strategy=replace", "-expect=consistent", "-artifacts="+artifacts)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	const prefix = NamePrefix + "custom-3521-365-replac"
	var cluster string
	deadline := time.Now().Add(25 * time.Minute)
	for cluster == "" || !when(containersOf(t, cluster)) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("the spec never reached the interruption point:\n%s", logtail.Last(out.String(), 40))
		}
		select {
		case err := <-done:
			t.Fatalf("the run ended (%v) before the interruption point:\n%s", err, logtail.Last(out.String(), 40))
		case <-time.After(time.Second):
		}
		if cluster == "" {
			cluster = clusterWithPrefix(t, prefix)
		}
	}
	t.Logf("interrupting the run of cluster %s (containers: %v)", cluster, containersOf(t, cluster))
	// To the whole process group, as a terminal's Ctrl-C: `go tool` itself
	// does not pass signals on to ginkgo, which passes them to the suite.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("ginkgo exited after the interrupt: %v", err)
	case <-time.After(6 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("ginkgo did not exit within 6 minutes of the interrupt:\n%s", logtail.Last(out.String(), 40))
	}
	if left := containersOf(t, cluster); len(left) > 0 {
		t.Errorf("containers of %s left after the interrupt: %v\n%s", cluster, left, logtail.Last(out.String(), 40))
	}
	if nets := dockerLines(t, "network", "ls", "--format", "{{.Name}}", "--filter", "name="+cluster); len(nets) > 0 {
		t.Errorf("networks of %s left after the interrupt: %v", cluster, nets)
	}
	if t.Failed() {
		// Leave the machine clean for what runs next.
		if l, err := CleanupLeftovers(context.WithoutCancel(ctx), cluster); err != nil || len(l.Containers)+len(l.Networks) > 0 {
			t.Logf("cleaned up: %s %v", l, err)
		}
	}
	if !strings.Contains(out.String(), "kind cluster "+cluster+" deleted") {
		t.Errorf("the run did not report deleting %s:\n%s", cluster, logtail.Last(out.String(), 40))
	}
}

// clusterWithPrefix is the cluster label of the first container whose
// cluster name starts with prefix.
func clusterWithPrefix(t *testing.T, prefix string) string {
	for _, l := range dockerLines(t, "ps", "--all", "--format", `{{.Label "`+clusterLabel+`"}}`) {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func containersOf(t *testing.T, cluster string) []string {
	return dockerLines(t, "ps", "--all", "--format", "{{.Names}}", "--filter", "label="+clusterLabel+"="+cluster)
}

func dockerLines(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not in a module")
	}
	return filepath.Dir(gomod)
}
