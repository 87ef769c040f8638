package fakecluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/coreos/go-semver/semver"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errUnsupported answers the requests the harness never makes.
var errUnsupported = errors.New("fake cluster: request not supported")

// errClientClosing is what a closed etcd client answers.
var errClientClosing = status.Error(codes.Canceled, "grpc: the client connection is closing")

// newClient returns a real *clientv3.Client whose KV, Cluster and
// Maintenance are answered in memory: by bound, or by the leader when bound
// is nil. NewCtxClient leaves Watcher, Lease and Auth nil, which Close
// tolerates; Close cancels the client's context and returns that
// cancellation, as a client without a connection does.
func (c *Cluster) newClient(ctx context.Context, bound *Member) *clientv3.Client {
	// Like a real client, it outlives the context it was asked for with.
	cli := clientv3.NewCtxClient(context.WithoutCancel(ctx))
	cn := &conn{c: c, bound: bound, closed: cli.Ctx()}
	cli.KV, cli.Cluster, cli.Maintenance = cn, cn, cn
	c.mu.Lock()
	c.pruneClientsLocked()
	c.clients = append(c.clients, cli.Ctx())
	c.mu.Unlock()
	return cli
}

// conn answers one client's requests.
type conn struct {
	c      *Cluster
	bound  *Member         // nil: a client over every member
	closed context.Context // done once the client is closed
}

var (
	_ clientv3.KV          = (*conn)(nil)
	_ clientv3.Cluster     = (*conn)(nil)
	_ clientv3.Maintenance = (*conn)(nil)
)

// request counts a request of op, runs its Before hooks and returns the
// member that answers it, with the cluster locked: the caller answers and
// calls finish.
func (cn *conn) request(ctx context.Context, op Op, m *Member) (*Member, call, error) {
	if cn.closed.Err() != nil {
		return nil, call{}, errClientClosing
	}
	if m == nil {
		m = cn.bound
	}
	if m == nil {
		m = cn.c.serving()
	}
	cl, err := cn.c.begin(ctx, op, m)
	if err != nil {
		return nil, cl, err
	}
	cn.c.mu.Lock()
	if m == nil || !m.running {
		cn.c.mu.Unlock()
		return nil, cl, unavailable(m)
	}
	return m, cl, nil
}

// finish unlocks the cluster and runs the After hooks of a request that
// succeeded.
func (cn *conn) finish(ctx context.Context, cl call, err error) error {
	cn.c.mu.Unlock()
	if err != nil {
		return err
	}
	return cn.c.end(ctx, cl)
}

// serving is the member a cluster client reaches: the leader, else the first
// running member.
func (c *Cluster) serving() *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.currentLocked(c.leader); l != nil && l.running {
		return l
	}
	for _, m := range c.members {
		if m.running {
			return m
		}
	}
	return nil
}

func unavailable(m *Member) error {
	if m == nil {
		return status.Error(codes.Unavailable, "fake cluster: no member is running")
	}
	return status.Error(codes.Unavailable, fmt.Sprintf("fake cluster: %s is not running", m.name))
}

func (c *Cluster) headerLocked(m *Member) *pb.ResponseHeader {
	return &pb.ResponseHeader{ClusterId: c.clusterID, MemberId: m.id, Revision: c.rev, RaftTerm: c.term}
}

// linearizableLocked fails a linearizable request while there is no leader;
// a serializable one is answered from the member's own state.
func (c *Cluster) linearizableLocked(op clientv3.Op) error {
	if !op.IsSerializable() && c.leader == 0 {
		return rpctypes.ErrNoLeader
	}
	return nil
}

// Put writes to every current member's copy at once (a stopped member would
// catch up when it starts), through the leader.
func (cn *conn) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	return cn.put(ctx, clientv3.OpPut(key, val, opts...))
}

func (cn *conn) put(ctx context.Context, op clientv3.Op) (*clientv3.PutResponse, error) {
	m, cl, err := cn.request(ctx, OpPut, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.PutResponse
	if _, err = c.leaderLocked(); err == nil {
		c.rev++
		c.index++
		key := string(op.KeyBytes())
		for _, x := range c.members {
			kv := x.data[key]
			if kv == nil {
				kv = &mvccpb.KeyValue{Key: []byte(key), CreateRevision: c.rev}
				x.data[key] = kv
			}
			kv.Value = append([]byte(nil), op.ValueBytes()...)
			kv.ModRevision = c.rev
			kv.Version++
		}
		resp = &clientv3.PutResponse{Header: c.headerLocked(m)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// Get reads the answering member's own copy of the keys.
func (cn *conn) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	return cn.get(ctx, clientv3.OpGet(key, opts...))
}

func (cn *conn) get(ctx context.Context, op clientv3.Op) (*clientv3.GetResponse, error) {
	m, cl, err := cn.request(ctx, OpGet, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.GetResponse
	if err = c.linearizableLocked(op); err == nil {
		kvs := inRange(m.data, op.KeyBytes(), op.RangeBytes())
		resp = &clientv3.GetResponse{Header: c.headerLocked(m), Count: int64(len(kvs))}
		if l := op.Limit(); l > 0 && int64(len(kvs)) > l {
			kvs, resp.More = kvs[:l], true
		}
		if !op.IsCountOnly() {
			for _, kv := range kvs {
				cp := *kv
				cp.Key, cp.Value = append([]byte(nil), kv.Key...), append([]byte(nil), kv.Value...)
				if op.IsKeysOnly() {
					cp.Value = nil
				}
				resp.Kvs = append(resp.Kvs, &cp)
			}
		}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// Delete deletes from every current member's copy; the count is the
// answering member's.
func (cn *conn) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error) {
	return cn.delete(ctx, clientv3.OpDelete(key, opts...))
}

func (cn *conn) delete(ctx context.Context, op clientv3.Op) (*clientv3.DeleteResponse, error) {
	m, cl, err := cn.request(ctx, OpDelete, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.DeleteResponse
	if _, err = c.leaderLocked(); err == nil {
		deleted := len(inRange(m.data, op.KeyBytes(), op.RangeBytes()))
		c.rev++
		c.index++
		for _, x := range c.members {
			for _, kv := range inRange(x.data, op.KeyBytes(), op.RangeBytes()) {
				delete(x.data, string(kv.Key))
			}
		}
		resp = &clientv3.DeleteResponse{Header: c.headerLocked(m), Deleted: int64(deleted)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// inRange returns the keys of data in [key, end) in key order, as etcd's
// range: no end is key alone, end "\x00" is every key from key on.
func inRange(data map[string]*mvccpb.KeyValue, key, end []byte) []*mvccpb.KeyValue {
	var out []*mvccpb.KeyValue
	for k, kv := range data {
		kb := []byte(k)
		switch {
		case len(end) == 0:
			if !bytes.Equal(kb, key) {
				continue
			}
		case bytes.Equal(end, []byte{0}):
			if bytes.Compare(kb, key) < 0 {
				continue
			}
		default:
			if bytes.Compare(kb, key) < 0 || bytes.Compare(kb, end) >= 0 {
				continue
			}
		}
		out = append(out, kv)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

// Do runs a Put, Get or Delete op.
func (cn *conn) Do(ctx context.Context, op clientv3.Op) (clientv3.OpResponse, error) {
	switch {
	case op.IsPut():
		resp, err := cn.put(ctx, op)
		if err != nil {
			return clientv3.OpResponse{}, err
		}
		return resp.OpResponse(), nil
	case op.IsGet():
		resp, err := cn.get(ctx, op)
		if err != nil {
			return clientv3.OpResponse{}, err
		}
		return resp.OpResponse(), nil
	case op.IsDelete():
		resp, err := cn.delete(ctx, op)
		if err != nil {
			return clientv3.OpResponse{}, err
		}
		return resp.OpResponse(), nil
	}
	return clientv3.OpResponse{}, errUnsupported
}

func (cn *conn) Compact(context.Context, int64, ...clientv3.CompactOption) (*clientv3.CompactResponse, error) {
	return nil, errUnsupported
}

func (cn *conn) Txn(context.Context) clientv3.Txn { return unsupportedTxn{} }

// unsupportedTxn fails at Commit: the harness writes no transactions.
type unsupportedTxn struct{}

func (t unsupportedTxn) If(...clientv3.Cmp) clientv3.Txn  { return t }
func (t unsupportedTxn) Then(...clientv3.Op) clientv3.Txn { return t }
func (t unsupportedTxn) Else(...clientv3.Op) clientv3.Txn { return t }
func (unsupportedTxn) Commit() (*clientv3.TxnResponse, error) {
	return nil, errUnsupported
}

// MemberList answers the answering member's own list of records.
func (cn *conn) MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	op := clientv3.OpGet("", opts...)
	m, cl, err := cn.request(ctx, OpMemberList, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.MemberListResponse
	if err = c.linearizableLocked(op); err == nil {
		resp = &clientv3.MemberListResponse{Header: c.headerLocked(m), Members: cloneRecords(m.view)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// MemberAdd adds a member no process runs: it has no name or client URLs
// yet, as in etcd until a member starts and publishes them.
func (cn *conn) MemberAdd(ctx context.Context, peerAddrs []string) (*clientv3.MemberAddResponse, error) {
	return cn.memberAdd(ctx, peerAddrs, false)
}

// MemberAddAsLearner adds a learner no process runs.
func (cn *conn) MemberAddAsLearner(ctx context.Context, peerAddrs []string) (*clientv3.MemberAddResponse, error) {
	return cn.memberAdd(ctx, peerAddrs, true)
}

func (cn *conn) memberAdd(ctx context.Context, peerAddrs []string, learner bool) (*clientv3.MemberAddResponse, error) {
	m, cl, err := cn.request(ctx, OpMemberAdd, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	c.added++
	rec := &pb.Member{ID: hash64(fmt.Sprintf("%s/added-%d", c.name, c.added)), PeerURLs: append([]string(nil), peerAddrs...), IsLearner: learner}
	var resp *clientv3.MemberAddResponse
	var leader *Member
	if leader, err = c.addLocked(rec); err == nil {
		resp = &clientv3.MemberAddResponse{Header: c.headerLocked(m), Member: cloneRecord(rec), Members: cloneRecords(leader.view)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// MemberRemove takes id out of the membership; a fake member with that ID
// stops but stays in Members, since the cluster was not asked to remove it.
func (cn *conn) MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	m, cl, err := cn.request(ctx, OpMemberRemove, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.MemberRemoveResponse
	if err = c.removeLocked(id); err == nil {
		resp = &clientv3.MemberRemoveResponse{Header: c.headerLocked(m), Members: cloneRecords(m.view)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// MemberUpdate sets id's peer URLs everywhere; its learner flag stays (the
// fake models no etcd bug: a test scripts etcd issue 21694 if it needs it).
func (cn *conn) MemberUpdate(ctx context.Context, id uint64, peerURLs []string) (*clientv3.MemberUpdateResponse, error) {
	m, cl, err := cn.request(ctx, OpMemberUpdate, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.MemberUpdateResponse
	if err = c.updateLocked(id, peerURLs); err == nil {
		resp = &clientv3.MemberUpdateResponse{Header: c.headerLocked(m), Members: cloneRecords(m.view)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// MemberPromote makes learner id a voter.
func (cn *conn) MemberPromote(ctx context.Context, id uint64) (*clientv3.MemberPromoteResponse, error) {
	m, cl, err := cn.request(ctx, OpMemberPromote, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.MemberPromoteResponse
	if err = c.promoteLocked(id); err == nil {
		resp = &clientv3.MemberPromoteResponse{Header: c.headerLocked(m), Members: cloneRecords(m.view)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// Status is answered by the member at endpoint, whichever member the client
// is bound to, as etcd's client dials the endpoint for it.
func (cn *conn) Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	if cn.closed.Err() != nil {
		return nil, errClientClosing
	}
	target := cn.c.byEndpoint(endpoint)
	if target == nil {
		return nil, status.Error(codes.Unavailable, fmt.Sprintf("fake cluster: no member at %s", endpoint))
	}
	m, cl, err := cn.request(ctx, OpStatus, target)
	if err != nil {
		return nil, err
	}
	c := cn.c
	resp := &clientv3.StatusResponse{
		Header:           c.headerLocked(m),
		Version:          m.version.String(),
		Leader:           c.leader,
		RaftIndex:        c.index,
		RaftTerm:         c.term,
		RaftAppliedIndex: c.index,
		IsLearner:        c.isLearnerLocked(m.id),
	}
	if m.version.Minor >= 6 {
		// etcd 3.6 reports its storage version and any downgrade; 3.5 has
		// neither field.
		c.settleDowngradeLocked()
		resp.StorageVersion = m.version.MinorString() + ".0"
		resp.DowngradeInfo = &pb.DowngradeInfo{}
		if d := c.downgrade; d != nil {
			resp.StorageVersion = d.String()
			resp.DowngradeInfo = &pb.DowngradeInfo{Enabled: true, TargetVersion: d.String()}
		}
	}
	if err := cn.finish(ctx, cl, nil); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *Cluster) byEndpoint(endpoint string) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range append(append([]*Member(nil), c.members...), c.removed...) {
		if m.clientURL == endpoint {
			return m
		}
	}
	return nil
}

// MoveLeader hands leadership to a running voter; only the leader accepts
// it.
func (cn *conn) MoveLeader(ctx context.Context, transfereeID uint64) (*clientv3.MoveLeaderResponse, error) {
	m, cl, err := cn.request(ctx, OpMoveLeader, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	var resp *clientv3.MoveLeaderResponse
	target := c.currentLocked(transfereeID)
	switch {
	case c.leader != m.id:
		err = rpctypes.ErrNotLeader
	case target == nil || !target.running || !c.isVoterLocked(target.id):
		err = rpctypes.ErrBadLeaderTransferee
	default:
		if c.leader != target.id {
			c.leader = target.id
			c.term++
		}
		resp = &clientv3.MoveLeaderResponse{Header: c.headerLocked(m)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (cn *conn) AlarmList(context.Context) (*clientv3.AlarmResponse, error) {
	return nil, errUnsupported
}

func (cn *conn) AlarmDisarm(context.Context, *clientv3.AlarmMember) (*clientv3.AlarmResponse, error) {
	return nil, errUnsupported
}

func (cn *conn) Defragment(context.Context, string) (*clientv3.DefragmentResponse, error) {
	return nil, errUnsupported
}

func (cn *conn) HashKV(context.Context, string, int64) (*clientv3.HashKVResponse, error) {
	return nil, errUnsupported
}

// SnapshotWithVersion and Snapshot are unsupported: CopyDataDir writes a
// synthetic data dir instead of streaming a db.
func (cn *conn) SnapshotWithVersion(context.Context) (*clientv3.SnapshotResponse, error) {
	return nil, errUnsupported
}

func (cn *conn) Snapshot(context.Context) (io.ReadCloser, error) { return nil, errUnsupported }

// Downgrade answers etcd 3.6's downgrade requests as its leader does: the
// cluster version is the lowest minor a current member runs (or the
// enabled downgrade's target), a downgrade may target only the minor below
// it, and one already enabled refuses another. An enabled downgrade lowers
// every member's storage version at once (see Status) and ends once every
// member runs the target minor.
func (cn *conn) Downgrade(ctx context.Context, action clientv3.DowngradeAction, version string) (*clientv3.DowngradeResponse, error) {
	m, cl, err := cn.request(ctx, OpDowngrade, nil)
	if err != nil {
		return nil, err
	}
	c := cn.c
	c.settleDowngradeLocked()
	cv := c.clusterVersionLocked()
	var resp *clientv3.DowngradeResponse
	target, perr := semver.NewVersion(version + ".0")
	switch {
	case perr != nil:
		err = rpctypes.ErrWrongDowngradeVersionFormat
	case cv == nil || target.Major != cv.Major || target.Minor != cv.Minor-1:
		err = rpctypes.ErrInvalidDowngradeTargetVersion
	case c.downgrade != nil:
		err = rpctypes.ErrDowngradeInProcess
	default:
		if action == clientv3.DowngradeEnable {
			c.downgrade = target
		}
		resp = &clientv3.DowngradeResponse{Header: c.headerLocked(m), Version: fmt.Sprintf("%d.%d", cv.Major, cv.Minor)}
	}
	if err := cn.finish(ctx, cl, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// clusterVersionLocked is the cluster version etcd would decide: an
// enabled downgrade's target, else the lowest minor of the current members.
func (c *Cluster) clusterVersionLocked() *semver.Version {
	if c.downgrade != nil {
		return c.downgrade
	}
	var low *semver.Version
	for _, m := range c.members {
		v := &semver.Version{Major: int64(m.version.Major), Minor: int64(m.version.Minor)}
		if low == nil || v.LessThan(*low) {
			low = v
		}
	}
	return low
}

// settleDowngradeLocked ends an enabled downgrade once every current
// member runs its target minor, as etcd's leader cancels it.
func (c *Cluster) settleDowngradeLocked() {
	if c.downgrade == nil {
		return
	}
	for _, m := range c.members {
		if int64(m.version.Minor) != c.downgrade.Minor {
			return
		}
	}
	c.downgrade = nil
}
