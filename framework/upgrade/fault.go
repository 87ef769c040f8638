package upgrade

import (
	"context"
	"fmt"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
)

// FaultPoint is where in a run a fault is injected.
type FaultPoint string

const (
	AtBeforeUpgrade       FaultPoint = "before-upgrade"
	AtBeforeMemberUpgrade FaultPoint = "before-member-upgrade"
	AtAfterMemberUpgrade  FaultPoint = "after-member-upgrade"
	AtBeforeJoin          FaultPoint = "before-join"
	AtAfterJoin           FaultPoint = "after-join"
)

// Fault disturbs the cluster at one point of a run. Inject gets the member
// the point is about (nil where there is none) and returns the member it hit.
type Fault struct {
	Name string
	At   FaultPoint
	// Once limits the fault to its first matching point.
	Once   bool
	Inject func(ctx context.Context, cl cluster.Cluster, m cluster.Member) (cluster.Member, error)

	fired bool
}

func (r *runner) inject(ctx context.Context, at FaultPoint, m cluster.Member) error {
	for i := range r.in.Faults {
		f := &r.in.Faults[i]
		if f.At != at || (f.Once && f.fired) {
			continue
		}
		f.fired = true
		rec := FaultRecord{Fault: f.Name, At: string(at), Second: seconds(time.Since(r.start))}
		var hit cluster.Member
		err := r.step(ctx, fmt.Sprintf("fault: %s (%s)", f.Name, at), func(ctx context.Context) error {
			var err error
			hit, err = f.Inject(ctx, r.cl, m)
			return err
		})
		if hit != nil {
			rec.Member = hit.Name()
		}
		if err != nil {
			rec.Error = err.Error()
			r.res.Faults = append(r.res.Faults, rec)
			return &failure{"fault " + f.Name, err}
		}
		r.res.Faults = append(r.res.Faults, rec)
	}
	return nil
}
