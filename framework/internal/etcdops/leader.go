package etcdops

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/cluster"
)

// Peers is what the operations need of a cluster: the members that may be
// asked, as they are now, and a client bound to one of them. A
// cluster.Cluster is Peers.
type Peers interface {
	Members() []cluster.Member
	Client(ctx context.Context, m cluster.Member) (*clientv3.Client, error)
}

// Only returns p restricted to the members keep accepts (running ones, all
// but the one being removed).
func Only(p Peers, keep func(cluster.Member) bool) Peers {
	return only{p, keep}
}

type only struct {
	Peers
	keep func(cluster.Member) bool
}

func (o only) Members() []cluster.Member {
	var out []cluster.Member
	for _, m := range o.Peers.Members() {
		if o.keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// ErrNoLeader says that no member asked says it leads.
var ErrNoLeader = errors.New("no member says it leads")

// probe asks m about itself through a client bound to m, within
// StatusTimeout; on success the client stays open for the caller.
func probe(ctx context.Context, p Peers, m cluster.Member) (*clientv3.Client, *clientv3.StatusResponse, error) {
	sctx, cancel := context.WithTimeout(ctx, StatusTimeout)
	defer cancel()
	return ask(sctx, p, m)
}

// ask is probe within ctx alone: for the one member an operation is about.
func ask(ctx context.Context, p Peers, m cluster.Member) (*clientv3.Client, *clientv3.StatusResponse, error) {
	cli, err := p.Client(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	st, err := cli.Status(ctx, m.Endpoint())
	if err != nil {
		cli.Close()
		return nil, nil, err
	}
	return cli, st, nil
}

func leads(st *clientv3.StatusResponse) bool {
	return st.Leader != 0 && st.Leader == st.Header.MemberId
}

// Leader asks each member once and returns the one that leads with a client
// bound to it, which the caller closes; ErrNoLeader when none does.
func Leader(ctx context.Context, p Peers) (cluster.Member, *clientv3.Client, error) {
	for _, m := range p.Members() {
		if ctx.Err() != nil {
			break
		}
		cli, st, err := probe(ctx, p, m)
		if err != nil {
			continue
		}
		if leads(st) {
			return m, cli, nil
		}
		cli.Close()
	}
	return nil, nil, ErrNoLeader
}

// LeaderMember returns the member that leads, asking each member once
// within LeaderCheckTimeout.
func LeaderMember(ctx context.Context, p Peers) (cluster.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, LeaderCheckTimeout)
	defer cancel()
	m, cli, err := Leader(ctx, p)
	if err != nil {
		return nil, err
	}
	cli.Close()
	return m, nil
}

// LeaderName names the leader and its version ("node at 3.5.21") for a
// step name or a log line, or says "unknown".
func LeaderName(ctx context.Context, p Peers) string {
	ctx, cancel := context.WithTimeout(ctx, LeaderNameTimeout)
	defer cancel()
	m, cli, err := Leader(ctx, p)
	if err != nil {
		return "unknown"
	}
	cli.Close()
	return fmt.Sprintf("%s at %s", m.Name(), m.Version())
}

// WaitLeader looks for the leader until one is found, ctx ends or wait has
// passed.
func WaitLeader(ctx context.Context, p Peers, wait time.Duration) (cluster.Member, *clientv3.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		m, cli, err := Leader(ctx, p)
		if err == nil {
			return m, cli, nil
		}
		if Sleep(ctx, PollInterval) != nil {
			return nil, nil, err
		}
	}
}

// Leads reports whether m leads, asking m within LeaderCheckTimeout.
func Leads(ctx context.Context, p Peers, m cluster.Member) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, LeaderCheckTimeout)
	defer cancel()
	cli, st, err := ask(ctx, p, m)
	if err != nil {
		return false, fmt.Errorf("status of %s: %w", m.Name(), err)
	}
	cli.Close()
	return leads(st), nil
}

// MoveLeader asks from, which must lead, to hand leadership to target.
func MoveLeader(ctx context.Context, p Peers, from, target cluster.Member) error {
	ctx, cancel := context.WithTimeout(ctx, LeaderCheckTimeout)
	defer cancel()
	cli, err := p.Client(ctx, from)
	if err != nil {
		return err
	}
	defer cli.Close()
	tcli, tst, err := ask(ctx, p, target)
	if err != nil {
		return fmt.Errorf("status of %s: %w", target.Name(), err)
	}
	tcli.Close()
	if _, err := cli.MoveLeader(ctx, tst.Header.MemberId); err != nil {
		return fmt.Errorf("moving leadership to %s: %w", target.Name(), err)
	}
	return nil
}

// EnsureLeader makes target the leader, asking the current leader to hand
// it over, until target leads or LeaderTimeout has passed.
func EnsureLeader(ctx context.Context, p Peers, target cluster.Member) error {
	ctx, cancel := context.WithTimeout(ctx, LeaderTimeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		tcli, st, err := ask(ctx, p, target)
		if err == nil {
			tcli.Close()
			if leads(st) {
				return nil
			}
			if st.Leader != 0 {
				err = moveTo(ctx, p, st.Leader, st.Header.MemberId)
			}
		}
		if err != nil {
			last = err
		}
		if Sleep(ctx, RetryPause) != nil {
			break
		}
	}
	return fmt.Errorf("%s did not become leader: %v", target.Name(), last)
}

// moveTo asks the member with ID leader to hand leadership to target.
func moveTo(ctx context.Context, p Peers, leader, target uint64) error {
	for _, m := range p.Members() {
		cli, st, err := probe(ctx, p, m)
		if err != nil {
			continue
		}
		if st.Header.MemberId == leader {
			_, err = cli.MoveLeader(ctx, target)
			cli.Close()
			return err
		}
		cli.Close()
	}
	return fmt.Errorf("leader %x is not a current member", leader)
}
