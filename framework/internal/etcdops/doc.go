// Package etcdops holds the membership operations both providers and the
// upgrade runner perform against an etcd cluster through clientv3: finding
// and moving the leader, adding, promoting and removing members through the
// leader, and retrying only on the errors etcd documents as passing. It also
// holds the few helpers the providers share around those operations: the
// set of members a cluster tracks and the timeouts they use.
package etcdops

import "time"

// Timeouts the providers and the runner share.
const (
	// DialTimeout bounds a client's first connection.
	DialTimeout = 5 * time.Second
	// AttemptTimeout bounds one etcd request of a retried operation.
	AttemptTimeout = 5 * time.Second
	// StatusTimeout bounds one Status probe of one member.
	StatusTimeout = 2 * time.Second
	// ChangeTimeout is how long a membership change (or list) is retried.
	ChangeTimeout = 30 * time.Second
	// LeaderTimeout is how long a leader is looked for, or waited for to
	// move.
	LeaderTimeout = 30 * time.Second
	// RerouteTimeout is how long a new leader is looked for after a request
	// failed on the member it was sent to.
	RerouteTimeout = 5 * time.Second
	// LeaderNameTimeout bounds naming the leader for a log line or a step.
	LeaderNameTimeout = 5 * time.Second
	// LeaderCheckTimeout bounds finding out whether a member leads, and
	// moving leadership off it.
	LeaderCheckTimeout = 10 * time.Second
	// RetryPause is the wait between two attempts of a retried request.
	RetryPause = 300 * time.Millisecond
	// PollInterval is the wait between two looks for a leader.
	PollInterval = 200 * time.Millisecond
	// PromotePause is the wait between two promotion attempts.
	PromotePause = 500 * time.Millisecond
	// RestartGrace is how long an exited member is given to be started
	// again by someone else (a fault, a test) before its exit counts.
	RestartGrace = 2 * time.Second
)
