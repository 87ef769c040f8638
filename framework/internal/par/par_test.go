package par

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestMapKeepsOrderAndRunsAtOnce(t *testing.T) {
	var running, most atomic.Int32
	got := Map([]int{3, 1, 2}, func(_, x int) int {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Duration(x) * 20 * time.Millisecond)
		running.Add(-1)
		return x * 10
	})
	if want := []int{30, 10, 20}; !slices.Equal(got, want) {
		t.Errorf("Map: got %v, want %v", got, want)
	}
	if most.Load() != 3 {
		t.Errorf("at most %d calls ran at once, want 3", most.Load())
	}
	if got := Map(nil, func(int, int) int { return 1 }); len(got) != 0 {
		t.Errorf("Map(nil): got %v", got)
	}
}
