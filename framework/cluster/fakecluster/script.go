package fakecluster

import (
	"context"
)

// Op names an operation a test can script.
type Op string

// Operations of the cluster.Cluster contract.
const (
	OpInit      Op = "init"
	OpBootstrap Op = "bootstrap"
	// OpJoin is the whole join: Before hooks run before the learner is
	// added, After hooks once it is promoted.
	OpJoin Op = "join"
	// OpPromote is the promotion inside a join: the learner is a member and
	// runs.
	OpPromote       Op = "promote"
	OpRemove        Op = "remove"
	OpUpgrade       Op = "upgrade"
	OpStop          Op = "stop"
	OpKill          Op = "kill"
	OpStart         Op = "start"
	OpCopyDataDir   Op = "copy-data-dir"
	OpLogs          Op = "logs"
	OpClient        Op = "client"
	OpClusterClient Op = "cluster-client"
	OpClose         Op = "close"
)

// Requests through a client. The member they are about is the one that
// answers: the client's own member, the leader for a cluster client, the
// endpoint's member for Status.
const (
	OpPut           Op = "put"
	OpGet           Op = "get"
	OpDelete        Op = "delete"
	OpMemberList    Op = "member-list"
	OpMemberAdd     Op = "member-add" // MemberAdd and MemberAddAsLearner
	OpMemberPromote Op = "member-promote"
	OpMemberUpdate  Op = "member-update"
	OpMemberRemove  Op = "member-remove"
	OpStatus        Op = "status"
	OpMoveLeader    Op = "move-leader"
	OpDowngrade     Op = "downgrade" // validate and enable
)

// When selects the calls of an operation a script applies to.
type When struct {
	call   int
	member string
}

// OnCall selects the nth call of the operation, counted from 1 over every
// member.
func OnCall(n int) When { return When{call: n} }

// OnMember selects every call about the named member. Members are named
// before they exist (<prefix>-cpN), so a join can be selected too.
func OnMember(name string) When { return When{member: name} }

// OnEveryCall selects every call.
func OnEveryCall() When { return When{} }

func (w When) matches(n int, m *Member) bool {
	if w.call != 0 && w.call != n {
		return false
	}
	return w.member == "" || (m != nil && m.name == w.member)
}

// Hook runs at a scripted operation with the member it is about (nil when
// there is none). It runs without the cluster's lock, so it may call any
// method of the cluster, even operations; an error it returns is what the
// operation returns.
type Hook func(ctx context.Context, m *Member) error

type rule struct {
	op     Op
	when   When
	before Hook
	after  Hook
}

// Fail makes the selected calls of op return err and do nothing else. err is
// returned as it is, so a *cluster.MemberError (with the member's log line),
// context.DeadlineExceeded or an rpctypes error reach the caller intact.
func (c *Cluster) Fail(op Op, when When, err error) {
	c.Before(op, when, func(context.Context, *Member) error { return err })
}

// Before runs h before the selected calls of op; when h fails, the operation
// does nothing and returns h's error. A hook that waits for ctx models an
// operation that hangs until the caller gives up.
func (c *Cluster) Before(op Op, when When, h Hook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = append(c.rules, rule{op: op, when: when, before: h})
}

// After runs h once the selected calls of op have done their work; when h
// fails, the operation returns h's error with its work done (a member
// upgraded but then not serving, say).
func (c *Cluster) After(op Op, when When, h Hook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = append(c.rules, rule{op: op, when: when, after: h})
}

// call is one counted call of an operation.
type call struct {
	op Op
	n  int
	m  *Member
}

// begin counts a call of op about m and runs its Before hooks, in the order
// they were added.
func (c *Cluster) begin(ctx context.Context, op Op, m *Member) (call, error) {
	if err := ctx.Err(); err != nil {
		return call{}, err
	}
	c.mu.Lock()
	if c.closed && op != OpLogs && op != OpClose {
		c.mu.Unlock()
		return call{}, errClosed
	}
	c.calls[op]++
	cl := call{op: op, n: c.calls[op], m: m}
	hooks := c.hooksLocked(cl, func(r rule) Hook { return r.before })
	c.mu.Unlock()
	return cl, runHooks(ctx, hooks, m)
}

// end runs the After hooks of a call that did its work.
func (c *Cluster) end(ctx context.Context, cl call) error {
	c.mu.Lock()
	hooks := c.hooksLocked(cl, func(r rule) Hook { return r.after })
	c.mu.Unlock()
	return runHooks(ctx, hooks, cl.m)
}

func (c *Cluster) hooksLocked(cl call, which func(rule) Hook) []Hook {
	var hooks []Hook
	for _, r := range c.rules {
		if h := which(r); h != nil && r.op == cl.op && r.when.matches(cl.n, cl.m) {
			hooks = append(hooks, h)
		}
	}
	return hooks
}

func runHooks(ctx context.Context, hooks []Hook, m *Member) error {
	for _, h := range hooks {
		if err := h(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
