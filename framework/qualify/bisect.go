// Package qualify qualifies an etcd bump: for every known 3.5 → 3.6 risk
// of the registry (scenarios.Risks) it finds, by running the risk's path on
// real etcd releases, the first patch release where the risk stops
// reproducing, and says which Kubernetes patch upgrades are safe. It runs
// paths through the upgrade runner (framework/upgrade) on the process
// provider; cmd/qualify is its command.
package qualify

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// Outcome is what one run says about a risk.
type Outcome string

const (
	// Bad: the run shows the risk's signature.
	Bad Outcome = "bad"
	// Good: the run is consistent.
	Good Outcome = "good"
	// Other: the run failed or found an inconsistency, but not the risk's.
	Other Outcome = "other"
	// Unmeasured: the harness failed (harness-error) every time it was
	// tried; the run says nothing about the upgrade.
	Unmeasured Outcome = "unmeasured"
)

// Probe is one version's measurement.
type Probe struct {
	Version etcdbin.Version `json:"version"`
	Outcome Outcome         `json:"outcome"`
	Run     *RunRecord      `json:"run,omitempty"`
}

// Oracle runs the risk's path with v in its open role.
type Oracle func(ctx context.Context, v etcdbin.Version) Probe

// Bisection is the answer for one risk, strategy and target.
type Bisection struct {
	// LastBad and FirstGood are the measured boundary; either is nil
	// where the range holds no such version.
	LastBad   *Probe `json:"lastBad,omitempty"`
	FirstGood *Probe `json:"firstGood,omitempty"`
	// Probes are every version run, in the order run.
	Probes []Probe `json:"probes"`
	// Answer says in words what the runs show.
	Answer string `json:"answer"`
	// Monotone is false when a run contradicts a monotone answer (a
	// version after a good one bad, another failure in between).
	Monotone bool `json:"monotone"`
}

// Bisect finds, over vs (ascending), the last version that reproduces the
// risk and the first that does not, assuming the answer is monotone (bad,
// then good). Both ends are run first; then the versions between the last
// known bad and the first known good are split until the two are
// neighbours: both sides of the boundary are always measured runs. With
// width > 1, the ends run at once and each round runs width versions at
// once, evenly spaced (a width-ary search). A version giving another
// outcome than bad or good counts as not good (an upgrade from it is not
// safe either) and makes the answer non-monotone, as does a bad version
// after a good one.
func Bisect(ctx context.Context, vs []etcdbin.Version, run Oracle, width int) Bisection {
	b := Bisection{Monotone: true}
	if len(vs) == 0 {
		b.Answer = "no served version in range"
		return b
	}
	width = max(1, width)
	known := map[int]Probe{}
	round := func(idx []int) {
		res := make([]Probe, len(idx))
		var wg sync.WaitGroup
		for k, i := range idx {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[k] = run(ctx, vs[i])
			}()
			if width == 1 {
				wg.Wait()
			}
		}
		wg.Wait()
		for k, i := range idx {
			known[i] = res[k]
			b.Probes = append(b.Probes, res[k])
		}
	}
	ends := []int{0}
	if len(vs) > 1 {
		ends = append(ends, len(vs)-1)
	}
	if width == 1 {
		round(ends[:1])
		if o := known[0].Outcome; o == Good || o == Unmeasured || len(vs) == 1 {
			return b.finish(vs, known)
		}
		round(ends[1:])
	} else {
		round(ends)
	}
	for {
		if ctx.Err() != nil {
			b.Answer = "interrupted: " + ctx.Err().Error()
			return b
		}
		lo, hi, stop := bounds(known, len(vs))
		if stop || hi-lo <= 1 {
			return b.finish(vs, known)
		}
		n := min(width, hi-lo-1)
		var idx []int
		for k := 1; k <= n; k++ {
			idx = append(idx, lo+k*(hi-lo)/(n+1))
		}
		round(idx)
	}
}

// bounds reads the probes so far: the last not-good index before the first
// good one, the first good index, and whether bisection must stop (an
// unmeasured run, or an end that already answers).
func bounds(known map[int]Probe, n int) (lo, hi int, stop bool) {
	hi = -1
	for i := 0; i < n; i++ {
		if p, ok := known[i]; ok && p.Outcome == Good {
			hi = i
			break
		}
	}
	lo = -1
	for i := range n {
		p, ok := known[i]
		if !ok {
			continue
		}
		if p.Outcome == Unmeasured {
			return lo, hi, true
		}
		if (hi < 0 || i < hi) && (p.Outcome == Bad || p.Outcome == Other) {
			lo = i
		}
	}
	if hi < 0 || lo < 0 {
		return lo, hi, true
	}
	return lo, hi, false
}

// finish states the answer from the probes.
func (b *Bisection) finish(vs []etcdbin.Version, known map[int]Probe) Bisection {
	lo, hi, _ := bounds(known, len(vs))
	for i, p := range known {
		if p.Outcome == Other || (hi >= 0 && i > hi && p.Outcome == Bad) {
			b.Monotone = false
		}
		if p.Outcome == Unmeasured {
			b.Answer = fmt.Sprintf("%s could not be measured (harness error, run again too): no answer", p.Version)
			return *b
		}
	}
	if lo >= 0 {
		p := known[lo]
		b.LastBad = &p
	}
	if hi >= 0 {
		p := known[hi]
		b.FirstGood = &p
	}
	switch {
	case hi == 0:
		b.Answer = fmt.Sprintf("does not reproduce at %s, the start of the range: nothing to bisect", vs[0])
	case hi < 0 && lo >= 0:
		b.Answer = fmt.Sprintf("still %s at %s, the newest served: no fixed release in range", known[lo].Outcome, known[lo].Version)
	case hi < 0:
		b.Answer = "no answer"
	default:
		b.Answer = fmt.Sprintf("last %s %s, first good %s", known[lo].Outcome, vs[lo], vs[hi])
	}
	return *b
}

// MarshalJSON writes the version as "3.5.20", as every report does.
func (p Probe) MarshalJSON() ([]byte, error) {
	type plain Probe
	return json.Marshal(struct {
		Version string `json:"version"`
		plain
	}{p.Version.String(), plain(p)})
}
