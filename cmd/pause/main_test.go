package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as pause in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("PAUSE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func startPause(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PAUSE_TEST_RUN_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// cpuTicks reads utime+stime of pid from /proc.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// fields after the command name, which is in parentheses
	f := strings.Fields(string(raw)[strings.LastIndexByte(string(raw), ')')+2:])
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func TestPauseSleepsAndExitsOnSIGTERM(t *testing.T) {
	cmd := startPause(t)
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond) // start-up
	before := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(time.Second)
	// A process that polls uses ~100 ticks per second; an idle one none.
	if used := cpuTicks(t, cmd.Process.Pid) - before; used > 5 {
		t.Errorf("pause used %d clock ticks of CPU in one idle second", used)
	}
	// SIGCHLD without children must not end or wake it into a loop.
	cmd.Process.Signal(syscall.SIGCHLD)
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("pause died after SIGCHLD: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pause exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("pause did not exit after SIGTERM")
	}
}

func TestPauseVersion(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-v")
	cmd.Env = append(os.Environ(), "PAUSE_TEST_RUN_MAIN=1")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != version {
		t.Errorf("pause -v = %q, %v", out, err)
	}
}

func TestReapCollectsExitedChildren(t *testing.T) {
	child := exec.Command("true")
	if err := child.Start(); err != nil {
		t.Skip("no true command")
	}
	pid := child.Process.Pid
	time.Sleep(200 * time.Millisecond)
	reap()
	// the zombie is gone: waiting for it again fails with ECHILD
	var status syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &status, syscall.WNOHANG, nil); err != syscall.ECHILD {
		t.Errorf("child %d was not reaped: %v", pid, err)
	}
}
