package upgrade

import (
	"fmt"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
)

// Substep is one part of a step as the provider timed it (cluster.Timer):
// on kind, a stage of kind's create, a phase of `kubeadm join` or `kubeadm
// upgrade`, the kubelet restarting an etcd static pod.
type Substep struct {
	Name string `json:"name"`
	// At is when the part began, in seconds since the step began.
	At      float64 `json:"at"`
	Seconds float64 `json:"seconds"`
}

// substeps takes what the cluster timed during the step that began at
// start, and prints it under the step.
func (r *runner) substeps(start time.Time) []Substep {
	tm, ok := r.cl.(cluster.Timer)
	if !ok {
		return nil
	}
	out := substepsOf(tm.TakeTimings(), start)
	for _, s := range out {
		fmt.Fprintf(r.in.Log, "            %s: %.1fs (at %.1fs)\n", s.Name, s.Seconds, s.At)
	}
	return out
}

// substepsOf turns timings into sub-steps of a step that began at start;
// a part that ended before the step (of an operation between steps) is
// not the step's.
func substepsOf(ts []cluster.Timing, start time.Time) []Substep {
	var out []Substep
	for _, t := range ts {
		if t.End.Before(start) {
			continue
		}
		out = append(out, Substep{Name: t.Name, At: seconds(t.Start.Sub(start)), Seconds: seconds(t.End.Sub(t.Start))})
	}
	return out
}
