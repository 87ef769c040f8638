// Package fault holds the disturbances a path can be run through: members
// killed mid-hop, the leader killed while a learner is promoted, a member
// restarted while it receives a snapshot, quorum lost for a moment. Each is
// an upgrade.Fault usable on any path and any provider.
package fault

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/upgrade"
)

// KillAndRestart SIGKILLs the member the point is about (the member just
// upgraded or joined) and starts it again on its data dir.
func KillAndRestart(at upgrade.FaultPoint) upgrade.Fault {
	return upgrade.Fault{
		Name: "SIGKILL a member mid-hop and restart it",
		At:   at,
		Once: true,
		Inject: func(ctx context.Context, fc *upgrade.FaultContext) error {
			cl, m := fc.Cluster, fc.Member
			if m == nil {
				ms := cl.Members()
				m = ms[len(ms)-1]
			}
			if err := cl.Kill(ctx, m); err != nil {
				return err
			}
			fc.Fired(m)
			return cl.Start(ctx, m)
		},
	}
}

// KillLeaderDuringPromotion waits, in the background, for the next learner to
// appear and SIGKILLs the leader right then, while the learner catches up
// and the join tries to promote it; the leader is started again after a
// moment. Inject at upgrade.AtBeforeJoin.
func KillLeaderDuringPromotion() upgrade.Fault {
	return upgrade.Fault{
		Name: "SIGKILL the leader while a learner is being promoted",
		At:   upgrade.AtBeforeJoin,
		Once: true,
		Inject: func(ctx context.Context, fc *upgrade.FaultContext) error {
			cl := fc.Cluster
			leader, err := Leader(ctx, cl)
			if err != nil {
				return err
			}
			// The join runs meanwhile; the runner waits for this before it
			// checks the cluster.
			fc.Go(func(bg context.Context) error {
				bg, cancel := context.WithTimeout(bg, 2*time.Minute)
				defer cancel()
				if !waitForLearner(bg, cl, leader) {
					return fmt.Errorf("no learner appeared within 2m: the leader was never killed")
				}
				if err := cl.Kill(bg, leader); err != nil {
					return err
				}
				fc.Fired(leader)
				if err := sleep(bg, 2*time.Second); err != nil {
					return err
				}
				return cl.Start(bg, leader)
			})
			return nil
		},
	}
}

// RestartDuringSnapshot kills the next member to join as soon as its process
// appears as a learner, before it has caught up, and starts it again: the
// member restarts in the middle of receiving or applying its first raft
// snapshot. Inject at upgrade.AtBeforeJoin.
func RestartDuringSnapshot() upgrade.Fault {
	return upgrade.Fault{
		Name: "restart a new member while it receives its snapshot",
		At:   upgrade.AtBeforeJoin,
		Once: true,
		Inject: func(ctx context.Context, fc *upgrade.FaultContext) error {
			cl := fc.Cluster
			before := names(cl)
			fc.Go(func(bg context.Context) error {
				bg, cancel := context.WithTimeout(bg, 2*time.Minute)
				defer cancel()
				for bg.Err() == nil {
					for _, m := range cl.Members() {
						if !before[m.Name()] {
							if err := cl.Kill(bg, m); err != nil {
								return err
							}
							fc.Fired(m)
							return cl.Start(bg, m)
						}
					}
					if err := sleep(bg, 20*time.Millisecond); err != nil {
						break
					}
				}
				return fmt.Errorf("no new member appeared within 2m: nothing was restarted")
			})
			return nil
		},
	}
}

// LoseQuorum stops all members but one for a moment, then starts them again.
func LoseQuorum(at upgrade.FaultPoint, outage time.Duration) upgrade.Fault {
	return upgrade.Fault{
		Name: fmt.Sprintf("lose quorum for %s", outage),
		At:   at,
		Once: true,
		Inject: func(ctx context.Context, fc *upgrade.FaultContext) error {
			cl := fc.Cluster
			ms := cl.Members()
			if len(ms) < 3 {
				return errors.New("losing quorum needs at least 3 members")
			}
			down := ms[1:]
			for _, m := range down {
				if err := cl.Stop(ctx, m); err != nil {
					return err
				}
			}
			fc.Fired(ms[1])
			if err := sleep(ctx, outage); err != nil {
				return err
			}
			// Start them together: each one needs another to form quorum.
			errc := make(chan error, len(down))
			for _, m := range down {
				go func(m cluster.Member) { errc <- cl.Start(ctx, m) }(m)
			}
			var errs []error
			for range down {
				errs = append(errs, <-errc)
			}
			return errors.Join(errs...)
		},
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error { return etcdops.Sleep(ctx, d) }

// Leader returns the current leader.
func Leader(ctx context.Context, cl cluster.Cluster) (cluster.Member, error) {
	return etcdops.LeaderMember(ctx, cl)
}

// waitForLearner polls through m until the membership has a learner.
func waitForLearner(ctx context.Context, cl cluster.Cluster, m cluster.Member) bool {
	cli, err := cl.Client(ctx, m)
	if err != nil {
		return false
	}
	defer cli.Close()
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := cli.MemberList(rctx, clientv3.WithSerializable())
		cancel()
		if err == nil {
			for _, pm := range resp.Members {
				if pm.IsLearner {
					return true
				}
			}
		}
		if sleep(ctx, 20*time.Millisecond) != nil {
			break
		}
	}
	return false
}

func names(cl cluster.Cluster) map[string]bool {
	out := map[string]bool{}
	for _, m := range cl.Members() {
		out[m.Name()] = true
	}
	return out
}

// ByName returns the named fault set, for scenarios and flags.
func ByName(name string) ([]upgrade.Fault, error) {
	switch name {
	case "kill-mid-hop":
		return []upgrade.Fault{KillAndRestart(upgrade.AtAfterMemberUpgrade), KillAndRestart(upgrade.AtAfterJoin)}, nil
	case "kill-leader-during-promotion":
		return []upgrade.Fault{KillLeaderDuringPromotion()}, nil
	case "restart-during-snapshot":
		return []upgrade.Fault{RestartDuringSnapshot()}, nil
	case "lose-quorum":
		return []upgrade.Fault{LoseQuorum(upgrade.AtAfterMemberUpgrade, 3*time.Second), LoseQuorum(upgrade.AtAfterJoin, 3*time.Second)}, nil
	}
	return nil, fmt.Errorf("unknown fault %q: want kill-mid-hop, kill-leader-during-promotion, restart-during-snapshot or lose-quorum", name)
}

// Names lists the fault sets ByName knows.
var Names = []string{"kill-mid-hop", "kill-leader-during-promotion", "restart-during-snapshot", "lose-quorum"}
