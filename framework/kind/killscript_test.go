package kind

import (
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// Kill's node shell SIGKILLs every pid and reports a kill that failed; with
// no manifest to move (none on a test host) the move is a no-op.
func TestKillAndMoveAside(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	if out, err := exec.Command("sh", "-c", "test -e "+etcdManifest).CombinedOutput(); err == nil {
		t.Skipf("this host has %s; the test would move it: %s", etcdManifest, out)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", killAndMoveAside([]string{strconv.Itoa(sleeper.Process.Pid)})).CombinedOutput(); err != nil {
		t.Fatalf("kill of a running process failed: %v: %s", err, out)
	}
	err := sleeper.Wait()
	ws, ok := sleeper.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("sleeper ended with %v, want SIGKILL", err)
	}
	// The reaped pid is gone now: its kill fails and the shell says so.
	if err := exec.Command("sh", "-c", killAndMoveAside([]string{strconv.Itoa(sleeper.Process.Pid)})).Run(); err == nil {
		t.Error("a kill that failed was reported as done")
	}
	if err := exec.Command("sh", "-c", killAndMoveAside(nil)).Run(); err != nil {
		t.Errorf("no pid to kill: %v", err)
	}
}
