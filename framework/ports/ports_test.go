package ports

import (
	"net"
	"strconv"
	"testing"
)

func TestReservedPortsAreDistinctAcrossAllocators(t *testing.T) {
	dir := t.TempDir()
	a, err := NewAllocator(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewAllocator(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	defer b.Release()
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		for _, al := range []*Allocator{a, b} {
			p, err := al.Reserve()
			if err != nil {
				t.Fatal(err)
			}
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			if p < lowPort || p >= highPort {
				t.Fatalf("port %d outside the harness range", p)
			}
			seen[p] = true
		}
	}
}

func TestReserveSkipsPortsInUse(t *testing.T) {
	a, err := NewAllocator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	p, err := a.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	// Someone else binds it: a new reservation must not return it.
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", p, err)
	}
	defer l.Close()
	for i := 0; i < 200; i++ {
		q, err := a.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		if q == p {
			t.Fatalf("reserved port %d that is in use", p)
		}
	}
}

func TestReserveAboveRises(t *testing.T) {
	a, err := NewAllocator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	last := 0
	for i := 0; i < 20; i++ {
		p, err := a.ReserveAbove(last)
		if err != nil {
			t.Fatal(err)
		}
		if p <= last {
			t.Fatalf("port %d not above %d", p, last)
		}
		last = p
	}
}
