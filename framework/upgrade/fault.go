package upgrade

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Fault disturbs the cluster at one point of a run. A fault proves it
// fired: Inject calls fc.Fired with the member it hit, at once or from work
// it starts with fc.Go. A fault whose point the run reached but that never
// fired is a harness error, not a pass.
type Fault struct {
	Name string
	At   FaultPoint
	// Once limits the fault to its first matching point.
	Once   bool
	Inject func(ctx context.Context, fc *FaultContext) error
}

// FaultContext is what a fault gets at its point.
type FaultContext struct {
	Cluster cluster.Cluster
	// Member is the member the point is about (the member just upgraded or
	// joined); nil where there is none.
	Member cluster.Member

	fr  *faultRunner
	idx int
}

// Fired records that the fault hit m, now.
func (fc *FaultContext) Fired(m cluster.Member) {
	fc.fr.mu.Lock()
	defer fc.fr.mu.Unlock()
	rec := &fc.fr.recs[fc.idx]
	rec.Fired = true
	rec.Second = seconds(time.Since(fc.fr.r.start))
	if m != nil {
		rec.Member = m.Name()
	}
}

// Go runs work of the fault in the background, alongside the run's next
// steps. The runner waits for it before it checks the cluster; an error it
// returns stops the run.
func (fc *FaultContext) Go(work func(ctx context.Context) error) {
	fr := fc.fr
	fr.wg.Add(1)
	go func() {
		defer fr.wg.Done()
		if err := work(fr.ctx); err != nil {
			fr.mu.Lock()
			if fr.recs[fc.idx].Error == "" {
				fr.recs[fc.idx].Error = err.Error()
			}
			fr.errs = append(fr.errs, &failure{step: "fault: " + fr.recs[fc.idx].Fault, hop: fr.r.hop, err: err})
			fr.mu.Unlock()
		}
	}()
}

// faultRunner owns a run's faults: their records, their background work.
type faultRunner struct {
	r      *runner
	faults []Fault
	ctx    context.Context // the background work's; cancelled when the run ends
	cancel context.CancelFunc

	wg     sync.WaitGroup
	mu     sync.Mutex
	recs   []FaultRecord // one per injection: each time a fault's point is reached
	errs   []error
	fired1 map[int]bool // faults whose point was reached at least once
}

func (fr *faultRunner) init(r *runner, faults []Fault) {
	fr.r, fr.faults, fr.fired1 = r, faults, map[int]bool{}
}

// waitBackground bounds how long a fault's background work may take once
// the run waits for it.
const waitBackground = 3 * time.Minute

// wait waits for the faults' background work and returns the first error
// it reported.
func (fr *faultRunner) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { fr.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitBackground):
		if fr.cancel != nil {
			fr.cancel()
		}
		<-done
	case <-ctx.Done():
		if fr.cancel != nil {
			fr.cancel()
		}
		<-done
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if len(fr.errs) > 0 {
		err := fr.errs[0]
		fr.errs = nil
		return err
	}
	return nil
}

// unfired is a harness error naming every armed fault that never fired.
func (fr *faultRunner) unfired() error {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	var names []error
	for _, rec := range fr.recs {
		if !rec.Fired {
			names = append(names, fmt.Errorf("fault %q (%s) never fired", rec.Fault, rec.At))
		}
	}
	if len(fr.faults) > 0 && len(fr.recs) == 0 {
		names = append(names, errors.New("no fault point of the run was reached"))
	}
	if len(names) == 0 {
		return nil
	}
	err := errors.Join(names...)
	return &failure{step: "faults", hop: fr.r.hop, err: err, harness: "a fault of the spec never fired, so the spec did not test what it names"}
}

func (fr *faultRunner) records() []FaultRecord {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return append([]FaultRecord(nil), fr.recs...)
}

func (r *runner) inject(ctx context.Context, at FaultPoint, m cluster.Member) error {
	fr := &r.faults
	for i := range fr.faults {
		f := &fr.faults[i]
		if f.At != at || (f.Once && fr.fired1[i]) {
			continue
		}
		fr.fired1[i] = true
		if fr.ctx == nil {
			fr.ctx, fr.cancel = context.WithCancel(context.WithoutCancel(ctx))
		}
		fr.mu.Lock()
		fr.recs = append(fr.recs, FaultRecord{Fault: f.Name, At: string(at), Second: seconds(time.Since(r.start))})
		idx := len(fr.recs) - 1
		fr.mu.Unlock()
		fc := &FaultContext{Cluster: r.cl, Member: m, fr: fr, idx: idx}
		err := r.step(ctx, fmt.Sprintf("fault: %s (%s)", f.Name, at), func(ctx context.Context) error {
			return f.Inject(ctx, fc)
		})
		if err != nil {
			fr.mu.Lock()
			fr.recs[idx].Error = err.Error()
			fr.mu.Unlock()
			return r.fail("fault: "+f.Name, err)
		}
	}
	return nil
}
