// Package fakecluster is a cluster.Cluster held in memory, for unit tests of
// the code that drives providers (the upgrade runner, checks, faults): no etcd
// process, no network. Members answer through real *clientv3.Client values
// whose KV, Cluster and Maintenance are in-memory fakes. Each member answers
// from its own copy of the keys and its own member list, because the bugs
// under test are members disagreeing: a test can make one member lose keys or
// list the membership differently. Operations can be scripted to fail or to
// run a hook (script.go), and data dir copies are synthetic etcd data dirs
// the offline audit reads (datadir.go), so every verdict of a run can be
// reached on purpose.
//
// The fake models only what the harness observes: raft is one shared
// membership, a leader elected among running voters while a quorum of voters
// runs, and writes that reach every current member at once. It models no etcd
// bug; a test scripts the one it needs.
package fakecluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"

	"github.com/coreos/go-semver/semver"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/audit/audittest"
	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
)

// Cluster is an in-memory control plane; it implements cluster.Cluster and
// cluster.StaticBootstrapper. It is safe for concurrent use.
type Cluster struct {
	// Set by New and never changed.
	name        string
	dir         string
	maxLearners int
	clusterID   uint64

	mu       sync.Mutex // guards everything below and every Member's state
	members  []*Member  // current members in join order
	removed  []*Member
	records  []*pb.Member // the membership raft agrees on
	gone     []uint64     // IDs removed from the membership
	promoted map[uint64]bool
	leader   uint64 // 0 while no quorum of voters runs
	term     uint64
	index    uint64 // raft index: one per write or membership change
	rev      int64
	seq      int
	added    int // members added through a client, for their IDs
	closed   bool
	calls    map[Op]int
	rules    []rule
	clients  []context.Context // of every client handed out and not seen closed
	// downgrade is the target of an enabled downgrade, nil when none is.
	downgrade *semver.Version
}

var (
	_ cluster.Cluster            = (*Cluster)(nil)
	_ cluster.StaticBootstrapper = (*Cluster)(nil)
)

// errClosed answers operations on a closed cluster.
var errClosed = errors.New("fake cluster: closed")

// Option configures a Cluster.
type Option func(*Cluster)

// WithName sets the member name prefix: members are <name>-cp1, <name>-cp2...
func WithName(name string) Option { return func(c *Cluster) { c.name = name } }

// WithDir sets what ArtifactsDir returns; the fake writes nothing there.
func WithDir(dir string) Option { return func(c *Cluster) { c.dir = dir } }

// WithMaxLearners sets how many learners the leader accepts before
// MemberAddAsLearner fails with rpctypes.ErrTooManyLearners; etcd's default,
// and the fake's, is 1.
func WithMaxLearners(n int) Option { return func(c *Cluster) { c.maxLearners = n } }

// New returns an empty cluster; Init or Bootstrap creates its first members.
func New(opts ...Option) *Cluster {
	c := &Cluster{name: "etcd", maxLearners: 1, promoted: map[uint64]bool{}, calls: map[Op]int{}}
	for _, o := range opts {
		o(c)
	}
	c.clusterID = hash64("cluster/" + c.name)
	return c
}

// Member is one fake etcd member.
type Member struct {
	// Set when the member is created and never changed.
	c         *Cluster
	name      string
	id        uint64
	peerURL   string
	clientURL string

	// Guarded by c.mu.
	version  etcdbin.Version
	running  bool
	view     []*pb.Member                // the member list this member answers
	data     map[string]*mvccpb.KeyValue // this member's copy of the keys
	log      string
	atRisk   bool
	editCopy func(*audittest.Spec)
}

// Name is the etcd member name.
func (m *Member) Name() string { return m.name }

// ID is the etcd member ID.
func (m *Member) ID() uint64 { return m.id }

// Endpoint is the member's client URL, fake://<name>.
func (m *Member) Endpoint() string { return m.clientURL }

// PeerURL is the member's peer URL, fake://<name>:2380.
func (m *Member) PeerURL() string { return m.peerURL }

// Version is the etcd version the member runs now.
func (m *Member) Version() etcdbin.Version {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return m.version
}

// Running says whether the member serves.
func (m *Member) Running() bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return m.running
}

func (m *Member) String() string { return m.name }

func (m *Member) record(learner bool) *pb.Member {
	return &pb.Member{ID: m.id, Name: m.name, PeerURLs: []string{m.peerURL}, ClientURLs: []string{m.clientURL}, IsLearner: learner}
}

// Provider names this provider.
func (c *Cluster) Provider() string { return "fake" }

// ArtifactsDir is the directory given with WithDir.
func (c *Cluster) ArtifactsDir() string { return c.dir }

// Members returns the current members in join order.
func (c *Cluster) Members() []cluster.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cluster.AsMembers(c.members)
}

// Member finds a current or removed member by name; nil when there is none.
func (c *Cluster) Member(name string) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range append(append([]*Member(nil), c.members...), c.removed...) {
		if m.name == name {
			return m
		}
	}
	return nil
}

// Leader returns the member that leads now; nil while there is no quorum.
func (c *Cluster) Leader() *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.currentLocked(c.leader)
}

func (c *Cluster) newMemberLocked(v etcdbin.Version) *Member {
	c.seq++
	name := fmt.Sprintf("%s-cp%d", c.name, c.seq)
	return &Member{
		c:         c,
		name:      name,
		id:        hash64(c.name + "/" + name),
		peerURL:   "fake://" + name + ":2380",
		clientURL: "fake://" + name,
		version:   v,
		data:      map[string]*mvccpb.KeyValue{},
	}
}

// Init creates the first member, the cluster's only voter and its leader.
func (c *Cluster) Init(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	c.mu.Lock()
	m := c.newMemberLocked(v)
	c.mu.Unlock()
	call, err := c.begin(ctx, OpInit, m)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.members) != 0 {
		c.mu.Unlock()
		return nil, errors.New("fake cluster: Init on a cluster that already has members")
	}
	c.records = []*pb.Member{m.record(false)}
	m.view = cloneRecords(c.records)
	m.running = true
	c.members = append(c.members, m)
	c.index++
	c.electLocked()
	c.mu.Unlock()
	return m, c.end(ctx, call)
}

// Bootstrap creates size voters at once, none of them ever a learner.
func (c *Cluster) Bootstrap(ctx context.Context, v etcdbin.Version, size int) ([]cluster.Member, error) {
	call, err := c.begin(ctx, OpBootstrap, nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.members) != 0 {
		c.mu.Unlock()
		return nil, errors.New("fake cluster: Bootstrap on a cluster that already has members")
	}
	for i := 0; i < size; i++ {
		m := c.newMemberLocked(v)
		c.records = append(c.records, m.record(false))
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.view = cloneRecords(c.records)
		m.running = true
	}
	c.index++
	c.electLocked()
	out := cluster.AsMembers(c.members)
	c.mu.Unlock()
	return out, c.end(ctx, call)
}

// Join adds a learner through the leader, starts it with a copy of the
// leader's member list and keys (the raft snapshot a new member is sent, so a
// leader's wrong view spreads as it does in etcd), then promotes it. A
// failure scripted at OpJoin leaves the cluster untouched; one scripted at
// OpPromote leaves the learner in the cluster, running, as a failed promotion
// does.
func (c *Cluster) Join(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	c.mu.Lock()
	m := c.newMemberLocked(v)
	c.mu.Unlock()
	call, err := c.begin(ctx, OpJoin, m)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	leader, err := c.addLocked(m.record(true))
	if err == nil {
		m.view = cloneRecords(leader.view)
		m.data = cloneData(leader.data)
		m.running = true
		c.members = append(c.members, m)
	}
	c.mu.Unlock()
	if err != nil {
		return nil, refused(m, "add learner", err)
	}
	promote, err := c.begin(ctx, OpPromote, m)
	if err != nil {
		return m, err
	}
	c.mu.Lock()
	err = c.promoteLocked(m.id)
	c.mu.Unlock()
	if err != nil {
		return m, refused(m, "promote", err)
	}
	if err := c.end(ctx, promote); err != nil {
		return m, err
	}
	return m, c.end(ctx, call)
}

// Remove takes m out of the membership and stops it.
func (c *Cluster) Remove(ctx context.Context, cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	call, err := c.begin(ctx, OpRemove, m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if err := c.mustBeCurrentLocked(m); err != nil {
		c.mu.Unlock()
		return err
	}
	if err := c.removeLocked(m.id); err != nil {
		c.mu.Unlock()
		return refused(m, "remove", err)
	}
	for i, x := range c.members {
		if x == m {
			c.members = append(c.members[:i:i], c.members[i+1:]...)
			break
		}
	}
	c.removed = append(c.removed, m)
	c.mu.Unlock()
	return c.end(ctx, call)
}

// refused is the cluster refusing a membership change about m: etcd's
// answer is the evidence, quoted as a tool that relays it quotes it.
func refused(m *Member, op string, err error) error {
	return &cluster.MemberError{Member: m.name, Op: op, LogLine: err.Error(), LogSource: "etcd API", Err: err}
}

// Upgrade restarts m at version v: it stops (a leader hands over to another
// running voter, as an election would) and starts again.
func (c *Cluster) Upgrade(ctx context.Context, cm cluster.Member, v etcdbin.Version) error {
	return c.lifecycle(ctx, OpUpgrade, cm, func(m *Member) {
		m.running = false
		c.electLocked()
		m.version = v
		m.running = true
	})
}

// Stop stops m; a leader hands over to another running voter.
func (c *Cluster) Stop(ctx context.Context, cm cluster.Member) error {
	return c.lifecycle(ctx, OpStop, cm, func(m *Member) { m.running = false })
}

// Kill is Stop: the fake loses nothing on SIGKILL.
func (c *Cluster) Kill(ctx context.Context, cm cluster.Member) error {
	return c.lifecycle(ctx, OpKill, cm, func(m *Member) { m.running = false })
}

// Start starts m again at its current version; starting a running member
// does nothing.
func (c *Cluster) Start(ctx context.Context, cm cluster.Member) error {
	return c.lifecycle(ctx, OpStart, cm, func(m *Member) { m.running = true })
}

// lifecycle runs one change of a current member's process and the election
// it may cause.
func (c *Cluster) lifecycle(ctx context.Context, op Op, cm cluster.Member, change func(m *Member)) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	call, err := c.begin(ctx, op, m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if err := c.mustBeCurrentLocked(m); err != nil {
		c.mu.Unlock()
		return err
	}
	change(m)
	c.electLocked()
	c.mu.Unlock()
	return c.end(ctx, call)
}

// Client returns a client that m alone answers.
func (c *Cluster) Client(ctx context.Context, cm cluster.Member) (*clientv3.Client, error) {
	m, err := c.own(cm)
	if err != nil {
		return nil, err
	}
	call, err := c.begin(ctx, OpClient, m)
	if err != nil {
		return nil, err
	}
	if err := c.end(ctx, call); err != nil {
		return nil, err
	}
	return c.newClient(ctx, m), nil
}

// ClusterClient returns a client over every current member: the leader
// answers it, or the first running member while there is no leader.
func (c *Cluster) ClusterClient(ctx context.Context) (*clientv3.Client, error) {
	call, err := c.begin(ctx, OpClusterClient, nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	n := len(c.members)
	c.mu.Unlock()
	if n == 0 {
		return nil, errors.New("fake cluster: no members")
	}
	if err := c.end(ctx, call); err != nil {
		return nil, err
	}
	return c.newClient(ctx, nil), nil
}

// Logs returns m's log as the test set it (SetLog, AppendLog); it answers
// after Close too.
func (c *Cluster) Logs(ctx context.Context, cm cluster.Member) (string, error) {
	m, err := c.own(cm)
	if err != nil {
		return "", err
	}
	call, err := c.begin(ctx, OpLogs, m)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	log := m.log
	c.mu.Unlock()
	return log, c.end(ctx, call)
}

// Close stops every member; later operations fail, except Logs.
func (c *Cluster) Close(ctx context.Context) error {
	call, err := c.begin(ctx, OpClose, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.closed = true
	for _, m := range c.members {
		m.running = false
	}
	c.leader = 0
	c.mu.Unlock()
	return c.end(ctx, call)
}

// View returns a copy of the member list m answers.
func (c *Cluster) View(m *Member) []*pb.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneRecords(m.view)
}

// EditView replaces the member list m answers with what edit returns; edit
// gets a copy it may change, and runs without the lock, so it may call the
// cluster. Membership changes later update the edited list record by record,
// so an edit stays until an operation overwrites it.
func (c *Cluster) EditView(m *Member, edit func(records []*pb.Member) []*pb.Member) {
	c.mu.Lock()
	view := cloneRecords(m.view)
	c.mu.Unlock()
	view = edit(view)
	c.mu.Lock()
	m.view = cloneRecords(view)
	c.mu.Unlock()
}

// EditRecord changes the record of member id in the list m answers, for
// example blanking another member's name or client URLs or flipping its
// learner flag. It reports whether m lists id.
func (c *Cluster) EditRecord(m *Member, id uint64, edit func(r *pb.Member)) bool {
	found := false
	c.EditView(m, func(records []*pb.Member) []*pb.Member {
		for _, r := range records {
			if r.ID == id {
				edit(r)
				found = true
			}
		}
		return records
	})
	return found
}

// Data returns a copy of m's keys and values.
func (c *Cluster) Data(m *Member) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(m.data))
	for k, kv := range m.data {
		out[k] = string(kv.Value)
	}
	return out
}

// LoseKeys deletes the first n keys under prefix, in key order, from m's
// copy alone, and returns how many it deleted. Reads that m answers miss
// them from then on; a member joining while m leads copies the loss.
func (c *Cluster) LoseKeys(m *Member, prefix string, n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for k := range m.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if n < len(keys) {
		keys = keys[:n]
	}
	for _, k := range keys {
		delete(m.data, k)
	}
	return len(keys)
}

// SetLog sets what Logs returns for m.
func (c *Cluster) SetLog(m *Member, log string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.log = log
}

// AppendLog adds lines (zap JSON, as etcd writes them) to m's log.
func (c *Cluster) AppendLog(m *Member, lines ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range lines {
		m.log += strings.TrimSuffix(l, "\n") + "\n"
	}
}

// Calls counts the calls of op so far, failed ones included.
func (c *Cluster) Calls(op Op) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// OpenClients counts the clients handed out and not closed yet, so a test
// can tell that the code under test closes what it opens.
func (c *Cluster) OpenClients() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneClientsLocked()
	return len(c.clients)
}

func (c *Cluster) pruneClientsLocked() {
	open := c.clients[:0]
	for _, ctx := range c.clients {
		if ctx.Err() == nil {
			open = append(open, ctx)
		}
	}
	c.clients = open
}

func (c *Cluster) own(cm cluster.Member) (*Member, error) {
	m, ok := cm.(*Member)
	if !ok || m == nil || m.c != c {
		return nil, fmt.Errorf("member %v does not belong to this fake cluster", cm)
	}
	return m, nil
}

func (c *Cluster) mustBeCurrentLocked(m *Member) error {
	for _, x := range c.members {
		if x == m {
			return nil
		}
	}
	return fmt.Errorf("fake cluster: %s is not a current member", m.name)
}

// currentLocked finds the current member with ID id; nil for none (and for
// members added through a client, which no process runs).
func (c *Cluster) currentLocked(id uint64) *Member {
	if id == 0 {
		return nil
	}
	for _, m := range c.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (c *Cluster) isVoterLocked(id uint64) bool {
	r := findRecord(c.records, id)
	return r != nil && !r.IsLearner
}

func (c *Cluster) isLearnerLocked(id uint64) bool {
	r := findRecord(c.records, id)
	return r != nil && r.IsLearner
}

// electLocked keeps a running leader, or elects the first running voter in
// join order while a quorum of voters runs, or leaves the cluster without a
// leader.
func (c *Cluster) electLocked() {
	voters, up := 0, 0
	for _, r := range c.records {
		if r.IsLearner {
			continue
		}
		voters++
		if m := c.currentLocked(r.ID); m != nil && m.running {
			up++
		}
	}
	if up*2 <= voters {
		c.leader = 0
		return
	}
	if l := c.currentLocked(c.leader); l != nil && l.running && c.isVoterLocked(l.id) {
		return
	}
	for _, m := range c.members {
		if m.running && c.isVoterLocked(m.id) {
			c.leader = m.id
			c.term++
			return
		}
	}
}

// leaderLocked returns the running leader, which every membership change
// goes through, or rpctypes.ErrNoLeader.
func (c *Cluster) leaderLocked() (*Member, error) {
	l := c.currentLocked(c.leader)
	if l == nil || !l.running {
		return nil, rpctypes.ErrNoLeader
	}
	return l, nil
}

// addLocked adds rec to the membership and to every current member's list.
// The leader decides with its own list, as etcd does with its member store:
// a learner flag left behind there makes the next learner too many.
func (c *Cluster) addLocked(rec *pb.Member) (*Member, error) {
	leader, err := c.leaderLocked()
	if err != nil {
		return nil, err
	}
	learners := 0
	for _, r := range leader.view {
		for _, u := range r.PeerURLs {
			for _, nu := range rec.PeerURLs {
				if u == nu {
					return nil, rpctypes.ErrPeerURLExist
				}
			}
		}
		if r.IsLearner {
			learners++
		}
	}
	if rec.IsLearner && learners >= c.maxLearners {
		return nil, rpctypes.ErrTooManyLearners
	}
	c.records = append(c.records, cloneRecord(rec))
	for _, m := range c.members {
		m.view = append(m.view, cloneRecord(rec))
	}
	c.index++
	c.electLocked()
	return leader, nil
}

// promoteLocked makes learner id a voter everywhere.
func (c *Cluster) promoteLocked(id uint64) error {
	leader, err := c.leaderLocked()
	if err != nil {
		return err
	}
	r := findRecord(leader.view, id)
	switch {
	case r == nil:
		return rpctypes.ErrMemberNotFound
	case !r.IsLearner:
		return rpctypes.ErrMemberNotLearner
	}
	setLearner := func(records []*pb.Member) {
		if r := findRecord(records, id); r != nil {
			r.IsLearner = false
		}
	}
	setLearner(c.records)
	for _, m := range c.members {
		setLearner(m.view)
	}
	c.promoted[id] = true
	c.index++
	c.electLocked()
	return nil
}

// updateLocked sets id's peer URLs in the membership and every current
// member's list.
func (c *Cluster) updateLocked(id uint64, peerURLs []string) error {
	leader, err := c.leaderLocked()
	if err != nil {
		return err
	}
	if findRecord(leader.view, id) == nil {
		return rpctypes.ErrMemberNotFound
	}
	setURLs := func(records []*pb.Member) {
		if r := findRecord(records, id); r != nil {
			r.PeerURLs = append([]string(nil), peerURLs...)
		}
	}
	setURLs(c.records)
	for _, m := range c.members {
		setURLs(m.view)
	}
	c.index++
	return nil
}

// removeLocked takes id out of the membership and every current member's
// list; a member removed stops, as etcd does once it learns of it.
func (c *Cluster) removeLocked(id uint64) error {
	leader, err := c.leaderLocked()
	if err != nil {
		return err
	}
	if findRecord(leader.view, id) == nil {
		return rpctypes.ErrMemberNotFound
	}
	c.records = dropRecord(c.records, id)
	for _, m := range c.members {
		m.view = dropRecord(m.view, id)
	}
	c.gone = append(c.gone, id)
	if m := c.currentLocked(id); m != nil {
		m.running = false
	}
	c.index++
	c.electLocked()
	return nil
}

func findRecord(records []*pb.Member, id uint64) *pb.Member {
	for _, r := range records {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func dropRecord(records []*pb.Member, id uint64) []*pb.Member {
	out := records[:0:0]
	for _, r := range records {
		if r.ID != id {
			out = append(out, r)
		}
	}
	return out
}

func cloneRecord(r *pb.Member) *pb.Member {
	return &pb.Member{
		ID:         r.ID,
		Name:       r.Name,
		PeerURLs:   append([]string(nil), r.PeerURLs...),
		ClientURLs: append([]string(nil), r.ClientURLs...),
		IsLearner:  r.IsLearner,
	}
}

func cloneRecords(records []*pb.Member) []*pb.Member {
	out := make([]*pb.Member, 0, len(records))
	for _, r := range records {
		if r != nil {
			out = append(out, cloneRecord(r))
		}
	}
	return out
}

func cloneData(data map[string]*mvccpb.KeyValue) map[string]*mvccpb.KeyValue {
	out := make(map[string]*mvccpb.KeyValue, len(data))
	for k, kv := range data {
		cp := *kv
		out[k] = &cp
	}
	return out
}

// hash64 gives stable IDs that look like etcd's.
func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
