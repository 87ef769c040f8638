package etcdbin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// Availability says whether the Go module proxy serves one etcd release.
type Availability struct {
	Version Version `json:"version"`
	Served  bool    `json:"served"`
	// Why is the proxy's answer for a version it does not serve.
	Why string `json:"why,omitempty"`
}

// MarshalJSON writes the version as "3.5.20".
func (a Availability) MarshalJSON() ([]byte, error) {
	type plain Availability
	return json.Marshal(struct {
		Version string `json:"version"`
		plain
	}{a.Version.String(), plain(a)})
}

// PatchRange lists every patch release from from to to, both included: the
// versions to ask the proxy about. Both must be releases of one minor.
func PatchRange(from, to Version) ([]Version, error) {
	switch {
	case from.Pre != "" || to.Pre != "":
		return nil, fmt.Errorf("range %s … %s: give releases, not pre-releases", from, to)
	case from.Major != to.Major || from.Minor != to.Minor:
		return nil, fmt.Errorf("range %s … %s spans minors: give one range per minor", from, to)
	case to.Less(from):
		return nil, fmt.Errorf("range %s … %s is backwards", from, to)
	}
	var out []Version
	for p := from.Patch; p <= to.Patch; p++ {
		out = append(out, Version{Major: from.Major, Minor: from.Minor, Patch: p})
	}
	return out, nil
}

// lookups bounds the proxy questions under way at once.
const lookups = 4

// Served asks the Go module proxy, version by version, whether it serves
// go.etcd.io/etcd/server/v3 whole (its .mod and .zip, as a build fetches
// them) at each release from from to to. The proxy's version list is
// partial (it lists what it has been asked for), so each exact version is
// asked for. An error is returned only when the proxy
// could not be asked at all (no answer in time).
func (p *Provisioner) Served(ctx context.Context, from, to Version) ([]Availability, error) {
	vs, err := PatchRange(from, to)
	if err != nil {
		return nil, err
	}
	return p.served(ctx, vs)
}

func (p *Provisioner) served(ctx context.Context, vs []Version) ([]Availability, error) {
	out := make([]Availability, len(vs))
	errs := make([]error, len(vs))
	var g errgroup.Group
	g.SetLimit(lookups)
	for i, v := range vs {
		g.Go(func() error {
			server, _ := v.modulePaths()
			st, line, err := p.moduleState(ctx, server, v.Tag())
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("etcd %s: %w", v, err)
			case st == modNotServed:
				out[i] = Availability{Version: v, Why: line}
			default:
				out[i] = Availability{Version: v, Served: true}
			}
			return nil // each version's error is joined below
		})
	}
	_ = g.Wait()
	return out, errors.Join(errs...)
}

// ServedOnly keeps the versions the proxy serves.
func ServedOnly(as []Availability) []Version {
	var out []Version
	for _, a := range as {
		if a.Served {
			out = append(out, a.Version)
		}
	}
	return out
}
