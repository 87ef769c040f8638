package etcdops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Membership changes go to the leader. A member validates a change against
// its own view of the membership before it proposes it, and after an
// upgrade the views of members can differ, so which member takes the
// request matters: always the leader, as Cluster API's KubeadmControlPlane
// does, keeps runs repeatable. When no member of Peers leads (the leader is
// the member being removed, or an election is under way) the request goes
// to the first member that answers, which forwards it to the leader.

// router holds the client a change is sent through.
type router struct {
	p    Peers
	cli  *clientv3.Client
	wait time.Duration
}

func newRouter(p Peers) *router { return &router{p: p, wait: LeaderTimeout} }

// client returns the client to send the next attempt through.
func (r *router) client(ctx context.Context) (*clientv3.Client, error) {
	if r.cli != nil {
		return r.cli, nil
	}
	if len(r.p.Members()) == 0 {
		return nil, errNoPeer
	}
	_, cli, err := WaitLeader(ctx, r.p, r.wait)
	r.wait = RerouteTimeout
	if err != nil {
		if cli, err = anyMember(ctx, r.p); err != nil {
			return nil, err
		}
	}
	r.cli = cli
	return cli, nil
}

// failed drops the client after a transient error, so that the next
// attempt looks for the leader again.
func (r *router) failed(err error) {
	if r.cli != nil && Transient(err) {
		r.cli.Close()
		r.cli = nil
	}
}

func (r *router) close() {
	if r.cli != nil {
		r.cli.Close()
		r.cli = nil
	}
}

var errNoPeer = errors.New("no running member to talk to")

// anyMember returns a client to the first member that answers.
func anyMember(ctx context.Context, p Peers) (*clientv3.Client, error) {
	ms := p.Members()
	if len(ms) == 0 {
		return nil, errNoPeer
	}
	var last error
	for _, m := range ms {
		cli, _, err := probe(ctx, p, m)
		if err == nil {
			return cli, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no member answers: %w", last)
}

// routed retries f through the leader for timeout, on Transient errors.
func routed[T any](ctx context.Context, p Peers, timeout time.Duration, f func(context.Context, *clientv3.Client) (T, error)) (T, error) {
	return routedWhile(ctx, p, timeout, Transient, f)
}

// routedWhile retries f through the leader for timeout, on the errors
// again accepts.
func routedWhile[T any](ctx context.Context, p Peers, timeout time.Duration, again func(error) bool, f func(context.Context, *clientv3.Client) (T, error)) (T, error) {
	r := newRouter(p)
	defer r.close()
	return retry(ctx, timeout, again, func(ctx context.Context) (T, error) {
		var zero T
		cli, err := r.client(ctx)
		if err != nil {
			return zero, err
		}
		actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
		defer cancel()
		v, err := f(actx, cli)
		r.failed(err)
		return v, err
	})
}

// List returns the membership as the leader sees it.
func List(ctx context.Context, p Peers) ([]*etcdserverpb.Member, error) {
	resp, err := routed(ctx, p, ChangeTimeout, func(ctx context.Context, cli *clientv3.Client) (*clientv3.MemberListResponse, error) {
		return cli.MemberList(ctx)
	})
	if err != nil {
		return nil, err
	}
	return resp.Members, nil
}

// AddLearner adds peerURL as a learner through the leader and returns the
// membership and the new member's ID. A retried add whose first attempt
// was committed but whose answer was lost (the leader died) gets
// rpctypes.ErrPeerURLExist: then the learner is found by its peer URL, as
// the add did happen. Any other lasting error comes back as etcd gave it.
func AddLearner(ctx context.Context, p Peers, peerURL string) ([]*etcdserverpb.Member, uint64, error) {
	return AddLearnerUnless(ctx, p, peerURL, nil)
}

// AddLearnerUnless is AddLearner, except that etcd's "unhealthy cluster"
// (the leader is not connected to every member) is no longer retried once
// dead says a member of the cluster has died: the leader cannot connect to
// a member that is gone, so waiting out ChangeTimeout would only end with
// the same answer, which comes back as etcd gave it. dead may be nil.
func AddLearnerUnless(ctx context.Context, p Peers, peerURL string, dead func() bool) ([]*etcdserverpb.Member, uint64, error) {
	again := func(err error) bool {
		return Transient(err) && (dead == nil || !Is(err, rpctypes.ErrUnhealthy) || !dead())
	}
	resp, err := routedWhile(ctx, p, ChangeTimeout, again, func(ctx context.Context, cli *clientv3.Client) (*clientv3.MemberAddResponse, error) {
		return cli.MemberAddAsLearner(ctx, []string{peerURL})
	})
	if err == nil {
		return resp.Members, resp.Member.ID, nil
	}
	if !Is(err, rpctypes.ErrPeerURLExist) {
		return nil, 0, err
	}
	members, lerr := List(ctx, p)
	if lerr != nil {
		return nil, 0, errors.Join(err, lerr)
	}
	for _, mem := range members {
		for _, u := range mem.PeerURLs {
			if u == peerURL && mem.IsLearner {
				return members, mem.ID, nil
			}
		}
	}
	return nil, 0, err
}

// Remove takes member id out of the membership through the leader. A
// retried remove whose earlier attempt was committed but whose answer was
// lost gets rpctypes.ErrMemberNotFound: that counts as done.
func Remove(ctx context.Context, p Peers, id uint64) error {
	retried := false
	_, err := routed(ctx, p, ChangeTimeout, func(ctx context.Context, cli *clientv3.Client) (*clientv3.MemberRemoveResponse, error) {
		resp, err := cli.MemberRemove(ctx, id)
		if retried && Is(err, rpctypes.ErrMemberNotFound) {
			return resp, nil
		}
		retried = err != nil
		return resp, err
	})
	return err
}

// UpdatePeerURLs sets member id's peer URLs through the leader (clientv3
// MemberUpdate). Sending the same URLs again is harmless, so a retried
// update whose first answer was lost needs no special case.
func UpdatePeerURLs(ctx context.Context, p Peers, id uint64, peerURLs []string) ([]*etcdserverpb.Member, error) {
	resp, err := routed(ctx, p, ChangeTimeout, func(ctx context.Context, cli *clientv3.Client) (*clientv3.MemberUpdateResponse, error) {
		return cli.MemberUpdate(ctx, id, peerURLs)
	})
	if err != nil {
		return nil, err
	}
	return resp.Members, nil
}

// Promote promotes learner id through the leader, as kubeadm does: it
// retries while etcd says the learner is not in sync with the leader yet,
// or any error that is not Permanent, for wait. rpctypes.ErrMemberNotLearner
// counts as done only after an attempt whose answer was lost (a Transient
// error: it may have been committed). Otherwise it is etcd refusing a
// member it lists as a voter though nothing promoted it (etcd issue
// 21694), and it comes back as etcd gave it.
// check, when not nil, runs before every attempt; an error from it ends
// Promote with that error. A Permanent error ends it at once, as etcd
// gave it.
func Promote(ctx context.Context, p Peers, id uint64, wait time.Duration, check func(context.Context) error) error {
	r := newRouter(p)
	defer r.close()
	deadline := time.Now().Add(wait)
	var last error
	lost := false // an earlier attempt's answer was lost
	for time.Now().Before(deadline) {
		if check != nil {
			if err := check(ctx); err != nil {
				return err
			}
		}
		err := promoteOnce(ctx, r, id)
		if err == nil || lost && Is(err, rpctypes.ErrMemberNotLearner) {
			return nil
		}
		lost = lost || Transient(err)
		if Permanent(err) && !errors.Is(err, context.Canceled) {
			return err
		}
		last = err
		if Sleep(ctx, PromotePause) != nil {
			break
		}
	}
	if last == nil {
		return fmt.Errorf("learner not promoted within %s", wait)
	}
	return fmt.Errorf("learner not promoted within %s, last answer: %w", wait, last)
}

func promoteOnce(ctx context.Context, r *router, id uint64) error {
	cli, err := r.client(ctx)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	_, err = cli.MemberPromote(actx, id)
	r.failed(err)
	return err
}
