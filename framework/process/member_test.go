package process

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// fakeEtcd writes a shell script that stands in for etcd: it prints its
// arguments to the log, then runs body.
func fakeEtcd(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "etcd")
	script := "#!/bin/sh\necho \"fake etcd $*\"\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func testMember(t *testing.T, etcd string, v string) *Member {
	t.Helper()
	m := &Member{
		name:      "etcd-cp1",
		dir:       filepath.Join(t.TempDir(), "etcd-cp1"),
		peerURL:   "http://127.0.0.1:1",
		clientURL: "http://127.0.0.1:2",
		bins:      etcdbin.Binaries{Version: etcdbin.MustParseVersion(v), Etcd: etcd},
	}
	t.Cleanup(func() { _ = m.stop(syscall.SIGKILL, 0) })
	return m
}

func waitExit(t *testing.T, m *Member) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if exited, err := m.exitedWith(); exited {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not exit", m.name)
	return nil
}

func TestMemberStartStopAndLogs(t *testing.T) {
	etcd := fakeEtcd(t, "exec sleep 60")
	m := testMember(t, etcd, "3.5.17")
	m.setFlags([]string{"--name=etcd-cp1", "--first"})
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	if !m.Running() || m.PID() == 0 || m.generation() != 1 {
		t.Fatalf("after start: running %v, pid %d, gen %d", m.Running(), m.PID(), m.generation())
	}
	if err := m.start(); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second start of a running member: %v", err)
	}
	waitLog(t, m, "fake etcd --name=etcd-cp1 --first")
	if err := m.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if m.Running() || m.PID() != 0 {
		t.Errorf("after stop: running %v, pid %d", m.Running(), m.PID())
	}
	if exited, err := m.exitedWith(); !exited || err == nil || !strings.Contains(err.Error(), "signal: terminated") {
		t.Errorf("exit after SIGTERM: %v, %v", exited, err)
	}
	if err := m.stop(syscall.SIGTERM, time.Second); err != nil {
		t.Errorf("stopping a stopped member: %v", err)
	}

	// The next run appends to the same log; currentLog shows that run only.
	from := m.setBinaries(etcdbin.Binaries{Version: etcdbin.MustParseVersion("3.6.4"), Etcd: etcd})
	if from.String() != "3.5.17" || m.Version().String() != "3.6.4" {
		t.Errorf("setBinaries: from %s, now %s", from, m.Version())
	}
	m.setFlags([]string{"--second"})
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	if m.generation() != 2 {
		t.Errorf("generation after the second start: %d", m.generation())
	}
	waitLog(t, m, "fake etcd --second")
	cur := m.currentLog()
	if strings.Contains(cur, "--first") || !strings.Contains(cur, "starting etcd-cp1 (etcd 3.6.4)") {
		t.Errorf("current log holds more or less than the current run:\n%s", cur)
	}
	all, err := os.ReadFile(m.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(all), "--first") || !strings.Contains(string(all), "starting etcd-cp1 (etcd 3.5.17)") {
		t.Errorf("the log lost the first run:\n%s", all)
	}
}

func waitLog(t *testing.T, m *Member, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(m.currentLog(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log of %s never showed %q:\n%s", m.name, want, m.currentLog())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemberExitStatus(t *testing.T) {
	m := testMember(t, fakeEtcd(t, "echo 'panic: boom' >&2; exit 3"), "3.6.4")
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, m); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("exit error: %v", err)
	}
	if !strings.Contains(m.currentLog(), "panic: boom") {
		t.Errorf("stderr not in the log:\n%s", m.currentLog())
	}

	ok := testMember(t, fakeEtcd(t, "exit 0"), "3.6.4")
	if err := ok.start(); err != nil {
		t.Fatal(err)
	}
	// An etcd that exits at all has failed, even with status 0.
	if err := waitExit(t, ok); err == nil || !strings.Contains(err.Error(), "status 0") {
		t.Errorf("exit error of a clean exit: %v", err)
	}
}

// A member that exits on its own has died; one the harness stopped or
// killed (a fault, an upgrade's restart) has not, and a start clears both.
func TestMemberDied(t *testing.T) {
	m := testMember(t, fakeEtcd(t, "if [ \"$1\" = --crash ]; then echo 'panic: boom' >&2; exit 2; fi; exec sleep 60"), "3.6.4")
	if m.died() != nil {
		t.Error("a member never started has died")
	}
	m.setFlags([]string{"--crash"})
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, m)
	if err := m.died(); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("a crashed member: died() = %v", err)
	}
	m.setFlags([]string{"--serve"})
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	if err := m.died(); err != nil {
		t.Errorf("a restarted member: died() = %v", err)
	}
	if err := m.stop(syscall.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.died(); err != nil {
		t.Errorf("a member the harness killed: died() = %v", err)
	}
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	if err := m.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.died(); err != nil {
		t.Errorf("a member the harness stopped: died() = %v", err)
	}
}

func TestMemberStopEscalatesToSIGKILL(t *testing.T) {
	m := testMember(t, fakeEtcd(t, "trap '' TERM; while :; do sleep 0.1; done"), "3.5.17")
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, m, "fake etcd")
	start := time.Now()
	if err := m.stop(syscall.SIGTERM, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if exited, err := m.exitedWith(); !exited || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("exit of a member that ignores SIGTERM: %v, %v", exited, err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("stop did not wait the grace period: %s", took)
	}
}

func TestMemberStartFailure(t *testing.T) {
	m := testMember(t, filepath.Join(t.TempDir(), "missing-etcd"), "3.5.17")
	if err := m.start(); err == nil || !strings.Contains(err.Error(), "starting etcd 3.5.17 for etcd-cp1") {
		t.Errorf("start of a missing binary: %v", err)
	}
	if m.Running() || m.generation() != 0 {
		t.Errorf("a failed start counts: running %v, gen %d", m.Running(), m.generation())
	}
}

// TestMemberConcurrentAccess reads a member the way a heartbeat and a fault
// goroutine do while another goroutine upgrades, restarts and renumbers it.
// Under -race it fails if any shared field is read or written outside the
// member's lock.
func TestMemberConcurrentAccess(t *testing.T) {
	etcd := fakeEtcd(t, "exec sleep 60")
	m := testMember(t, etcd, "3.5.17")
	done := make(chan struct{})
	var wg sync.WaitGroup
	// One goroutine per accessor, so that no lock taken by another accessor
	// orders a read after the writes it races with.
	for _, read := range []func(){
		func() { _ = m.ID() },
		func() { _ = m.Version() },
		func() { _ = m.String() },
		func() { _ = m.Running() },
		func() { _ = m.generation() },
		func() { _, _ = m.exitedWith() },
		func() { _ = m.currentLog() },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
				read()
			}
		}()
	}
	versions := []string{"3.5.17", "3.5.21", "3.6.4"}
	for i, v := range versions {
		m.setID(uint64(i + 1))
		m.setBinaries(etcdbin.Binaries{Version: etcdbin.MustParseVersion(v), Etcd: etcd})
		m.setFlags([]string{"--run=" + v})
		if err := m.start(); err != nil {
			t.Fatal(err)
		}
		waitLog(t, m, "--run="+v)
		if err := m.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if m.ID() != 3 || m.Version().String() != "3.6.4" || m.generation() != len(versions) {
		t.Errorf("after the runs: id %d, version %s, gen %d", m.ID(), m.Version(), m.generation())
	}
}
