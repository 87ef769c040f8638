package etcdops

import (
	"fmt"
	"sync"

	"etcd-upgrade-e2e/framework/cluster"
)

// Set is the members a provider made: the current ones in join order and
// the removed ones, kept until the cluster closes. It is safe for
// concurrent use.
type Set[M comparable] struct {
	mu      sync.Mutex
	current []M
	removed []M
}

// Current returns the current members in join order.
func (s *Set[M]) Current() []M {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]M(nil), s.current...)
}

// All returns the current members, then the removed ones.
func (s *Set[M]) All() []M {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(append([]M(nil), s.current...), s.removed...)
}

// Len is the number of current members.
func (s *Set[M]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.current)
}

// Add appends current members.
func (s *Set[M]) Add(ms ...M) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = append(s.current, ms...)
}

// Remove moves m from the current members to the removed ones.
func (s *Set[M]) Remove(m M) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = Without(s.current, m)
	s.removed = append(s.removed, m)
}

// Without returns ms without the first m, in the same order. It reuses
// ms's array.
func Without[M comparable](ms []M, m M) []M {
	for i, x := range ms {
		if x == m {
			return append(ms[:i], ms[i+1:]...)
		}
	}
	return ms
}

// Own returns cm as a provider's own member type M, or an error naming the
// provider when cm is nil or belongs to another provider.
func Own[M interface {
	comparable
	cluster.Member
}](cm cluster.Member, provider string) (M, error) {
	m, ok := cm.(M)
	var zero M
	if !ok || m == zero {
		return zero, fmt.Errorf("member %v does not belong to a %s cluster", cm, provider)
	}
	return m, nil
}
