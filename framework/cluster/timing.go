package cluster

import "time"

// Timing is one timed part of a provider's operation: a stage of creating
// the cluster, a phase of `kubeadm join`, the kubelet restarting an etcd
// static pod. The runner records them as the sub-steps of the step that
// ran the operation.
type Timing struct {
	Name       string
	Start, End time.Time
}

// Timer is implemented by providers that time the parts of their
// operations.
type Timer interface {
	// TakeTimings returns the parts timed since the last call, in the
	// order they ended, and forgets them.
	TakeTimings() []Timing
}
