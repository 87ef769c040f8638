// Package par runs one call per element at once and keeps the answers in
// the elements' order.
package par

import "sync"

// Map calls f for every element of xs (with its index), all at once, and
// returns the answers in the order of xs.
func Map[T, R any](xs []T, f func(int, T) R) []R {
	out := make([]R, len(xs))
	var wg sync.WaitGroup
	for i, x := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f(i, x)
		}()
	}
	wg.Wait()
	return out
}
