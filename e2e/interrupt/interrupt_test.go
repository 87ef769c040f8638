// Package interrupt checks that the e2e suite, interrupted mid-run, leaves
// nothing behind. It lives outside the suite's package so that it runs once,
// on request of go test, and never inside ginkgo's run of the suite.
package interrupt

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptLeavesNothingBehind runs one path of the suite in a child
// process, interrupts it mid-run (SIGINT as Ctrl-C does, SIGTERM as Prow
// does, SIGKILL as an OOM kill does) and then looks for survivors: etcd
// processes of that run, ports its members listened on, data dirs.
func TestInterruptLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the suite and runs etcd clusters")
	}
	bin := filepath.Join(t.TempDir(), "e2e.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the suite: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			artifacts := t.TempDir()
			cmd := exec.Command(bin, "-test.run=^TestE2E$", "-ginkgo.label-filter=process", "-ginkgo.v",
				"-path=3.5.21,3.6.5", "-strategy=replace", "-provider=process", "-artifacts="+artifacts)
			logf, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			cmd.Stdout, cmd.Stderr = logf, logf
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Interrupt while the upgrade is under way: a member of the
			// target version has started.
			if !waitFor(2*time.Minute, func() bool { return logsMention(artifacts, "etcd 3.6.5") }) {
				_ = cmd.Process.Kill()
				t.Fatal("the run never reached the upgrade")
			}
			ports := memberPorts(t, artifacts)
			if len(ports) == 0 {
				t.Fatal("found no member ports in the logs")
			}
			_ = cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(3 * time.Minute):
				_ = cmd.Process.Kill()
				t.Fatal("the suite did not stop within 3 minutes of the signal")
			}
			// SIGKILL leaves no time for cleanup: the members die through
			// their parent-death signal, and the kernel reaps them at once.
			if !waitFor(30*time.Second, func() bool { return len(survivors(artifacts)) == 0 }) {
				t.Fatalf("etcd processes survived %s: %v", sig, survivors(artifacts))
			}
			for _, p := range ports {
				if !waitFor(10*time.Second, func() bool { return bindable(p) }) {
					t.Errorf("port %s still in use after %s", p, sig)
				}
			}
			if sig != syscall.SIGKILL { // a hard kill cannot remove files
				dirs, _ := filepath.Glob(filepath.Join(artifacts, "process", "*", "*", "data"))
				if len(dirs) > 0 {
					t.Errorf("data dirs left without -keep after %s: %v", sig, dirs)
				}
			}
		})
	}
}

func waitFor(d time.Duration, ok func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		if ok() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return ok()
}

func logsMention(dir, text string) bool {
	logs, _ := filepath.Glob(filepath.Join(dir, "process", "*", "*", "etcd.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if strings.Contains(string(b), text) {
			return true
		}
	}
	return false
}

var listenRE = regexp.MustCompile(`--listen-(?:client|peer)-urls=http://(127\.0\.0\.1:\d+)`)

// memberPorts reads the addresses members listen on from their logs.
func memberPorts(t *testing.T, dir string) []string {
	logs, _ := filepath.Glob(filepath.Join(dir, "process", "*", "*", "etcd.log"))
	seen := map[string]bool{}
	var out []string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, m := range listenRE.FindAllStringSubmatch(string(b), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	return out
}

// survivors lists processes whose command line names the run's directory.
func survivors(dir string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, "--data-dir="+dir) {
			out = append(out, filepath.Base(filepath.Dir(p))+": "+cmdline)
		}
	}
	return out
}

func bindable(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
