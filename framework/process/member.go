package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// Member is one etcd process with its own data dir and log file. It can be
// stopped, swapped to another binary and started again on the same data dir.
//
// A member is shared by the goroutine that drives it and by others (a
// heartbeat, a fault injector) that read it, so every field that changes
// after newMember is guarded by mu.
type Member struct {
	// Set by newMember and never changed: read without the lock.
	name      string
	dir       string // member's folder: data/ and etcd.log
	peerURL   string
	clientURL string

	mu       sync.Mutex // guards every field below
	id       uint64
	bins     etcdbin.Binaries
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has exited
	exitErr  error
	stopped  bool     // the harness stopped the current process (stop), it did not die
	logStart int64    // offset in etcd.log where the current run starts
	gen      int      // counts starts, so a waiter can tell a restart from an exit
	flags    []string // command line of the next start
}

// Name is the etcd member name.
func (m *Member) Name() string { return m.name }

// ID is the etcd member ID (0 until it is known).
func (m *Member) ID() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id
}

func (m *Member) setID(id uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.id = id
}

// Version is the etcd version of the binary the member runs.
func (m *Member) Version() etcdbin.Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bins.Version
}

// setBinaries swaps the binary the next start runs and returns the version
// it replaces.
func (m *Member) setBinaries(bins etcdbin.Binaries) etcdbin.Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := m.bins.Version
	m.bins = bins
	return from
}

// setFlags sets the command line of the next start.
func (m *Member) setFlags(flags []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flags = flags
}

// Endpoint is the member's client URL.
func (m *Member) Endpoint() string { return m.clientURL }

// PeerURL is the member's peer URL.
func (m *Member) PeerURL() string { return m.peerURL }

// DataDir is the member's --data-dir.
func (m *Member) DataDir() string { return filepath.Join(m.dir, "data") }

// LogPath is the member's log file; every run appends to it.
func (m *Member) LogPath() string { return filepath.Join(m.dir, "etcd.log") }

// PID is the process ID of the running member, 0 when stopped.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil || m.isExited() {
		return 0
	}
	return m.cmd.Process.Pid
}

func (m *Member) isExited() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

// Running reports whether the member's process is alive.
func (m *Member) Running() bool { return m.PID() != 0 }

// start launches the process with the member's flags. The process gets its own process
// group and SIGKILL when the harness dies (Pdeathsig), so a killed test run
// leaves no etcd behind.
func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil && !m.isExited() {
		return fmt.Errorf("member %s is already running", m.name)
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(m.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening member log: %w", err)
	}
	defer logf.Close()
	off, _ := logf.Seek(0, 2)
	fmt.Fprintf(logf, "# %s: starting %s (etcd %s)\n", time.Now().UTC().Format(time.RFC3339), m.name, m.bins.Version)
	m.logStart = off

	cmd := exec.Command(m.bins.Etcd, m.flags...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exited := make(chan struct{})
	onExit := func(err error) {
		m.mu.Lock()
		m.exitErr = err
		m.mu.Unlock()
		close(exited)
	}
	if err := startLocked(cmd, onExit); err != nil {
		return fmt.Errorf("starting etcd %s for %s: %w", m.bins.Version, m.name, err)
	}
	m.cmd, m.exited, m.exitErr, m.stopped = cmd, exited, nil, false
	m.gen++
	return nil
}

// stop sends sig and waits for the exit, escalating to SIGKILL after grace.
func (m *Member) stop(sig syscall.Signal, grace time.Duration) error {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	if cmd != nil && !m.isExited() {
		m.stopped = true
	}
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("member %s (pid %d) did not exit after SIGKILL", m.name, cmd.Process.Pid)
	}
}

// exitedWith returns the exit error once the current process has exited.
func (m *Member) exitedWith() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exited == nil || !m.isExited() {
		return false, nil
	}
	if m.exitErr == nil {
		return true, errors.New("exited with status 0")
	}
	return true, m.exitErr
}

// died returns how the current process ended when it exited on its own
// (no stop asked for it), nil while it runs or when it was stopped.
func (m *Member) died() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exited == nil || !m.isExited() || m.stopped {
		return nil
	}
	if m.exitErr == nil {
		return errors.New("exited with status 0")
	}
	return m.exitErr
}

// generation counts the starts of the member.
func (m *Member) generation() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// currentLog returns what the member's current (or last) run wrote.
func (m *Member) currentLog() string {
	b, err := os.ReadFile(m.LogPath())
	if err != nil {
		return ""
	}
	m.mu.Lock()
	off := m.logStart
	m.mu.Unlock()
	if off > int64(len(b)) {
		off = 0
	}
	return string(b[off:])
}

func (m *Member) String() string {
	return m.name + "@" + m.Version().String() + "(" + strconv.Itoa(m.PID()) + ")"
}
