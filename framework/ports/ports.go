// Package ports hands out loopback TCP ports that no other user of this
// package on the machine holds, also across processes (ginkgo -p, two
// terminals): each reserved port is marked by an flock on a file in a shared
// directory, released when the owner releases it or dies.
package ports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The range sits below Linux's ephemeral range (32768–60999), so that the
// outgoing connections of any program cannot take a port between the moment
// it is reserved here and the moment etcd binds it.
const (
	lowPort  = 21000
	highPort = 32000
)

// Allocator reserves ports. Create one per cluster and Release it at the end.
type Allocator struct {
	dir  string
	mu   sync.Mutex
	held map[int]*os.File
}

// NewAllocator keeps its marks in dir (created if needed); an empty dir means
// <tmp>/etcd-upgrade-e2e-ports, shared by every process on the machine.
func NewAllocator(dir string) (*Allocator, error) {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "etcd-upgrade-e2e-ports")
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("creating port lock dir: %w", err)
	}
	return &Allocator{dir: dir, held: map[int]*os.File{}}, nil
}

// Reserve returns a free port on 127.0.0.1 that stays reserved until Release.
func (a *Allocator) Reserve() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := highPort - lowPort
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		if port := lowPort + (start+i)%n; a.tryLocked(port) {
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port left in the harness range")
}

// ReserveAbove returns the lowest free port above after. A cluster that
// hands its members rising ports makes their peer URLs sort in join order,
// and etcd asks peers for the cluster membership in sorted URL order, so
// which member a new one learns the membership from no longer depends on
// chance. An after of 0 starts at a random port in the lower part of the
// range, leaving room above.
func (a *Allocator) ReserveAbove(after int) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if after < lowPort {
		after = lowPort + rand.IntN((highPort-lowPort)/4)
	}
	for port := after + 1; port < highPort; port++ {
		if a.tryLocked(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port above %d in the harness range", after)
}

// Release gives back every port this allocator holds.
func (a *Allocator) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for port, f := range a.held {
		_ = f.Close()
		delete(a.held, port)
	}
}

// tryLocked reserves port if nobody holds it and it is free; a.mu is held.
func (a *Allocator) tryLocked(port int) bool {
	if _, mine := a.held[port]; mine {
		return false
	}
	f, err := a.lock(port)
	if err != nil {
		return false
	}
	if !free(port) {
		_ = f.Close()
		return false
	}
	a.held[port] = f
	return true
}

func (a *Allocator) lock(port int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(a.dir, strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
