// Package cluster is the contract every provider (local processes, kind)
// implements, so that upgrade strategies, checks and reports are written once.
// A Member is one control-plane etcd member; the operations mirror what
// kubeadm and Cluster API do to it.
package cluster

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// Member is one control-plane etcd member.
type Member interface {
	// Name is the etcd member name (kubeadm uses the node name).
	Name() string
	// Version is the etcd version the member runs now.
	Version() etcdbin.Version
	// Endpoint is a client URL reachable from the test process.
	Endpoint() string
}

// Cluster is a control plane under test.
type Cluster interface {
	// Provider names the implementation: "process" or "kind".
	Provider() string
	// Members are the members the harness created and has not removed, in the
	// order they joined.
	Members() []Member
	// Init creates the first control-plane member (kubeadm init).
	Init(ctx context.Context, v etcdbin.Version) (Member, error)
	// Join adds a control-plane member the way `kubeadm join --control-plane`
	// does with EtcdLearnerMode: add it as a learner, start it, wait until it
	// has caught up, promote it.
	Join(ctx context.Context, v etcdbin.Version) (Member, error)
	// Remove takes m out of etcd membership and deletes it (kubeadm reset and
	// machine deletion).
	Remove(ctx context.Context, m Member) error
	// Upgrade restarts m at version v on its own data dir, as kubeadm does by
	// rewriting the etcd static pod manifest, and waits until it serves. v
	// may be older than m's version: a downgrade hop restarts each member on
	// the older binary this way, once etcd has enabled the downgrade (an
	// operator rewrites the manifest back; kubeadm offers no etcd downgrade).
	Upgrade(ctx context.Context, m Member, v etcdbin.Version) error
	// Stop stops m gracefully; Kill sends SIGKILL; Start starts it again on
	// the same data dir at its current version and waits until it serves.
	Stop(ctx context.Context, m Member) error
	Kill(ctx context.Context, m Member) error
	Start(ctx context.Context, m Member) error
	// Client returns a client bound to m's endpoint alone. The caller closes it.
	Client(ctx context.Context, m Member) (*clientv3.Client, error)
	// ClusterClient returns a client over every current member, as an API
	// server uses etcd. The caller closes it.
	ClusterClient(ctx context.Context) (*clientv3.Client, error)
	// CopyDataDir copies m's data dir into dst for an offline audit, leaving
	// m as it is: running or stopped. It must not restart m, because a
	// restart repairs the data of etcd 3.5.20+ and would hide what is audited.
	CopyDataDir(ctx context.Context, m Member, dst string) error
	// Logs returns m's own log (the current run of the member first restarted
	// last), for evidence.
	Logs(ctx context.Context, m Member) (string, error)
	// ArtifactsDir is where this cluster writes its files.
	ArtifactsDir() string
	// Close tears the cluster down; with keep, data and logs stay.
	Close(ctx context.Context) error
}

// StaticBootstrapper is implemented by providers that can also start all
// members at once from a static --initial-cluster, with no learner history:
// the control case of the scenarios.
type StaticBootstrapper interface {
	Bootstrap(ctx context.Context, v etcdbin.Version, size int) ([]Member, error)
}

// LearnerUpdater is implemented by providers that can send a MemberUpdate
// between a join's learner add and its promotion: the
// upgrade.LearnerJoinsMemberUpdate bootstrap. kubeadm offers no such step,
// so a provider that joins through kubeadm does not implement it.
type LearnerUpdater interface {
	// JoinUpdatingLearner is Join, except that once the learner has started
	// and before it is promoted, its own peer URLs are sent back to etcd
	// unchanged in a MemberUpdate (etcd issue 21694).
	JoinUpdatingLearner(ctx context.Context, v etcdbin.Version) (Member, error)
}

// KubeadmUpgrader is implemented by providers that run a real Kubernetes
// control plane and can move it to the next release with kubeadm, etcd
// included: the upgrade.KubeadmUpgrade strategy.
type KubeadmUpgrader interface {
	// KubeadmUpgradeTarget names the Kubernetes release KubeadmUpgrade moves
	// to ("v1.34.2"), or says why there is none.
	KubeadmUpgradeTarget() (string, error)
	// KubeadmUpgrade upgrades m's node: `kubeadm upgrade apply` when first,
	// `kubeadm upgrade node` otherwise, then the node's kubelet, with etcd
	// at v. It returns when m serves at v.
	KubeadmUpgrade(ctx context.Context, m Member, first bool, v etcdbin.Version) error
}

// ExitReporter is implemented by providers that know when a member's
// process has died: it exited (a crash, a panic, a fatal error) without the
// harness stopping it (Stop, Kill, Remove, an upgrade's restart, a fault),
// and nobody started it again. A member that restarts on purpose is never
// reported.
type ExitReporter interface {
	// Exited returns how m's process ended when it died on its own, and nil
	// while it runs or when the harness stopped it.
	Exited(m Member) error
}

// NotRunning says, in the words a check records for a member it could not
// read, that m is known to have died: the check then does not wait out a
// timeout on it. nil when m has not died or the provider cannot tell.
func NotRunning(cl Cluster, m Member) error {
	er, ok := cl.(ExitReporter)
	if !ok {
		return nil
	}
	if err := er.Exited(m); err != nil {
		return fmt.Errorf("not running (exited: %v)", err)
	}
	return nil
}

// JoinPreparer is implemented by providers whose joins wait on something
// that can be made ready ahead (kind: a node container and its systemd). A
// replacement hop asks for all its joins at once, so that they are made
// ready together rather than one before each join. It changes no member;
// what is prepared and not joined goes with the cluster.
type JoinPreparer interface {
	PrepareJoins(ctx context.Context, n int)
}

// KeepHinter is implemented by providers whose clusters can be kept after a
// run (-keep): it says how to reach what was kept.
type KeepHinter interface {
	KeepHints() string
}

// MemberError says that an operation on one member failed, with the
// cluster's own words as evidence when it gave any: the member's own error
// line (for example "membership: too many learner members in cluster"),
// another member's line that explains it, or an etcd server error a tool
// relayed.
type MemberError struct {
	Member string
	Op     string // "start", "upgrade", "join", "promote", "remove", ...
	// LogLine is the explaining line, as its source wrote it; "" when no
	// member and no etcd answer said why.
	LogLine string
	// LogSource names where LogLine comes from when that is not Member's
	// own log: "<other member> log", or "kubeadm join on <node>" for an etcd
	// server error kubeadm quoted.
	LogSource string
	// LogTail is the end of Member's log when it held no error line: context
	// for people, not evidence.
	LogTail string
	Err     error
}

// Source names where LogLine comes from.
func (e *MemberError) Source() string {
	if e.LogSource != "" {
		return e.LogSource
	}
	return e.Member + " log"
}

func (e *MemberError) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Op, e.Member, e.Err)
	if e.LogLine != "" {
		s += "; " + e.Source() + ": " + e.LogLine
	} else if e.LogTail != "" {
		s += "; last lines of its log (no error line): " + e.LogTail
	}
	return s
}

func (e *MemberError) Unwrap() error { return e.Err }

// AsMemberError finds a MemberError in err's chain.
func AsMemberError(err error) (*MemberError, bool) {
	var me *MemberError
	ok := errors.As(err, &me)
	return me, ok
}

// AsMembers returns a provider's members as the contract's Member values.
func AsMembers[M Member](ms []M) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}
