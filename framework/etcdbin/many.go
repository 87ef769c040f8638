package etcdbin

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// ParseRange reads "3.5.15..3.5.35" (both ends included, one minor).
func ParseRange(s string) (from, to Version, err error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return Version{}, Version{}, fmt.Errorf("range %q: want FROM..TO such as 3.5.15..3.5.35", s)
	}
	if from, err = ParseVersion(strings.TrimSpace(a)); err != nil {
		return Version{}, Version{}, err
	}
	if to, err = ParseVersion(strings.TrimSpace(b)); err != nil {
		return Version{}, Version{}, err
	}
	if _, err := PatchRange(from, to); err != nil {
		return Version{}, Version{}, err
	}
	return from, to, nil
}

// Provisioned is the outcome of provisioning one version.
type Provisioned struct {
	Version  Version
	Binaries Binaries
	Err      error
	Took     time.Duration
}

// DefaultParallel is how many versions GetAll builds at once: one per two
// cores. A go build already keeps every core busy while it compiles;
// a second build overlaps the serial parts (module download, link).
func DefaultParallel() int {
	return max(1, runtime.NumCPU()/2)
}

// GetAll provisions every version, parallel at a time (cache hits cost
// nothing), and returns one outcome per version in the order given. Two
// processes building the same version still build it once (the cache lock).
func (p *Provisioner) GetAll(ctx context.Context, vs []Version, parallel int) []Provisioned {
	out := make([]Provisioned, len(vs))
	var g errgroup.Group
	g.SetLimit(max(1, parallel))
	for i, v := range vs {
		g.Go(func() error {
			start := time.Now()
			b, err := p.Get(ctx, v)
			out[i] = Provisioned{Version: v, Binaries: b, Err: err, Took: time.Since(start)}
			return nil // each version keeps its own outcome
		})
	}
	_ = g.Wait()
	return out
}
