// Package process is the provider that runs etcd members as local processes
// on loopback, built the way kubeadm builds a control plane: the first member
// initialises the cluster, every other one joins as a learner and is promoted
// once it has caught up.
package process

import (
	"context"
	"errors"
	"fmt"

	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/ports"
)

// Cluster is a set of etcd processes; it implements cluster.Cluster.
type Cluster struct {
	cfg   config
	ports *ports.Allocator

	mu       sync.Mutex
	members  []*Member // current members in join order
	removed  []*Member
	seq      int
	lastPort int
}

var (
	_ cluster.Cluster            = (*Cluster)(nil)
	_ cluster.StaticBootstrapper = (*Cluster)(nil)
)

// New prepares an empty cluster; Init starts its first member.
func New(opts ...Option) (*Cluster, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dir == "" {
		return nil, errors.New("process cluster: no directory given (WithDir)")
	}
	if cfg.binaries == nil {
		p := etcdbin.NewProvisioner(etcdbin.WithLog(cfg.log))
		cfg.binaries = p.Get
	}
	if cfg.snapshotCount < 1 {
		return nil, fmt.Errorf("process cluster: snapshot count %d must be positive", cfg.snapshotCount)
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return nil, fmt.Errorf("process cluster: artifacts dir: %w", err)
	}
	alloc, err := ports.NewAllocator(cfg.portDir)
	if err != nil {
		return nil, err
	}
	return &Cluster{cfg: cfg, ports: alloc}, nil
}

// Provider names this provider.
func (c *Cluster) Provider() string { return "process" }

// ArtifactsDir holds one folder per member.
func (c *Cluster) ArtifactsDir() string { return c.cfg.dir }

// Members returns the current members in join order.
func (c *Cluster) Members() []cluster.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cluster.AsMembers(c.members)
}

// ProcessMembers returns the current members with their process details.
func (c *Cluster) ProcessMembers() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.cfg.log, format+"\n", args...)
}

func (c *Cluster) newMember(ctx context.Context, v etcdbin.Version) (*Member, error) {
	bins, err := c.cfg.binaries(ctx, v)
	if err != nil {
		return nil, err
	}
	// Rising ports: peer URLs sort in join order (see ports.ReserveAbove).
	c.mu.Lock()
	last := c.lastPort
	c.mu.Unlock()
	peer, err := c.ports.ReserveAbove(last)
	if err != nil {
		return nil, err
	}
	client, err := c.ports.ReserveAbove(peer)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lastPort = client
	c.seq++
	name := fmt.Sprintf("%s-cp%d", c.cfg.name, c.seq)
	c.mu.Unlock()
	return &Member{
		name:      name,
		dir:       filepath.Join(c.cfg.dir, name),
		peerURL:   "http://127.0.0.1:" + strconv.Itoa(peer),
		clientURL: "http://127.0.0.1:" + strconv.Itoa(client),
		bins:      bins,
	}, nil
}

// flags renders the member's command line. initialCluster and state only
// matter on the first start of a data dir; etcd ignores them afterwards.
func (c *Cluster) flags(m *Member, initialCluster, state string) []string {
	f := []string{
		"--name=" + m.name,
		"--data-dir=" + m.DataDir(),
		"--listen-client-urls=" + m.clientURL,
		"--advertise-client-urls=" + m.clientURL,
		"--listen-peer-urls=" + m.peerURL,
		"--initial-advertise-peer-urls=" + m.peerURL,
		"--initial-cluster=" + initialCluster,
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.cfg.name,
		"--snapshot-count=" + strconv.Itoa(c.cfg.snapshotCount),
		"--logger=zap",
		"--log-outputs=stderr",
	}
	return append(f, c.cfg.extraFlags...)
}

// Init starts the first member of a new cluster (kubeadm init).
func (c *Cluster) Init(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	c.mu.Lock()
	n := len(c.members)
	c.mu.Unlock()
	if n != 0 {
		return nil, errors.New("process cluster: Init on a cluster that already has members")
	}
	m, err := c.newMember(ctx, v)
	if err != nil {
		return nil, err
	}
	m.setFlags(c.flags(m, m.name+"="+m.peerURL, "new"))
	if err := c.startAndWait(ctx, m, "init", voterReady); err != nil {
		return nil, err
	}
	if err := c.fillID(ctx, m); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	c.logf("%s: initialised cluster at etcd %s (%s)", m.name, v, m.clientURL)
	return m, nil
}

// Bootstrap starts size members at once from a static initial cluster, so no
// member ever was a learner.
func (c *Cluster) Bootstrap(ctx context.Context, v etcdbin.Version, size int) ([]cluster.Member, error) {
	if len(c.ProcessMembers()) != 0 {
		return nil, errors.New("process cluster: Bootstrap on a cluster that already has members")
	}
	var ms []*Member
	var initial []string
	for i := 0; i < size; i++ {
		m, err := c.newMember(ctx, v)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for _, m := range ms {
		m.setFlags(c.flags(m, strings.Join(initial, ","), "new"))
		if err := m.start(); err != nil {
			return nil, &cluster.MemberError{Member: m.name, Op: "bootstrap", Err: err}
		}
	}
	c.mu.Lock()
	c.members = append(c.members, ms...)
	c.mu.Unlock()
	out := make([]cluster.Member, len(ms))
	for i, m := range ms {
		if err := c.waitReady(ctx, m, "bootstrap", voterReady); err != nil {
			return nil, err
		}
		if err := c.fillID(ctx, m); err != nil {
			return nil, err
		}
		out[i] = m
	}
	c.logf("bootstrapped %d members at etcd %s from a static initial cluster", size, v)
	return out, nil
}

// Join adds a member as kubeadm join --control-plane does in EtcdLearnerMode.
func (c *Cluster) Join(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	m, err := c.newMember(ctx, v)
	if err != nil {
		return nil, err
	}
	cli, err := c.leaderClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()

	members, id, err := addLearner(ctx, cli, m.peerURL)
	if err != nil {
		return nil, &cluster.MemberError{Member: m.name, Op: "add learner", Err: err}
	}
	m.setID(id)
	var initial []string
	for _, mem := range members {
		name := mem.Name
		if mem.ID == id {
			name = m.name
		}
		for _, u := range mem.PeerURLs {
			initial = append(initial, name+"="+u)
		}
	}
	m.setFlags(c.flags(m, strings.Join(initial, ","), "existing"))
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := c.startPromoteAndWait(ctx, cli, m)
		if err == nil {
			break
		}
		if attempt == 2 || !m.Running() || ctx.Err() != nil {
			return m, err
		}
		// The member runs but does not serve. The kubelet restarts a static
		// pod whose liveness probe fails; do the same once, so that the
		// member's start-up checks on the data it received speak too.
		c.logf("%s: not serving (%v); restarting it once as the kubelet would", m.name, shortErr(err))
		_ = m.stop(syscall.SIGKILL, 0)
	}
	c.logf("%s: joined as learner and promoted at etcd %s", m.name, v)
	return m, nil
}

// addLearner adds peerURL as a learner and returns the membership and the new
// ID. A retried add whose first attempt was committed but whose answer was
// lost (the leader died) gets "Peer URLs already exists": then the member is
// found by its peer URL, as the add did happen.
func addLearner(ctx context.Context, cli *clientv3.Client, peerURL string) ([]*etcdserverpb.Member, uint64, error) {
	resp, err := withRetry(ctx, 30*time.Second, func(ctx context.Context) (*clientv3.MemberAddResponse, error) {
		return cli.MemberAddAsLearner(ctx, []string{peerURL})
	})
	if err == nil {
		return resp.Members, resp.Member.ID, nil
	}
	if !strings.Contains(err.Error(), "Peer URLs already exists") {
		return nil, 0, err
	}
	list, lerr := withRetry(ctx, 30*time.Second, func(ctx context.Context) (*clientv3.MemberListResponse, error) {
		return cli.MemberList(ctx)
	})
	if lerr != nil {
		return nil, 0, errors.Join(err, lerr)
	}
	for _, mem := range list.Members {
		for _, u := range mem.PeerURLs {
			if u == peerURL && mem.IsLearner {
				return list.Members, mem.ID, nil
			}
		}
	}
	return nil, 0, err
}

// startPromoteAndWait runs the member, promotes it if it is still a learner
// and waits until it serves linearizable reads.
func (c *Cluster) startPromoteAndWait(ctx context.Context, cli *clientv3.Client, m *Member) error {
	if err := c.startAndWait(ctx, m, "join", learnerReady); err != nil {
		return err
	}
	if err := c.promote(ctx, cli, m); err != nil {
		return err
	}
	return c.waitReady(ctx, m, "join", voterReady)
}

// promote retries MemberPromote while etcd says the learner is not in sync
// with the leader yet, as kubeadm does.
func (c *Cluster) promote(ctx context.Context, cli *clientv3.Client, m *Member) error {
	deadline := time.Now().Add(c.cfg.promoteWait)
	var last error
	for time.Now().Before(deadline) {
		if exited, exitErr := m.exitedWith(); exited {
			gen := m.generation()
			time.Sleep(2 * time.Second) // a fault may be restarting it
			if m.generation() == gen || !m.Running() {
				return c.memberFailure(m, "promote", exitErr)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cli.MemberPromote(cctx, m.ID())
		cancel()
		if err == nil || strings.Contains(err.Error(), "can only promote a learner member") {
			return nil // promoted now, or before a restart
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return c.memberFailure(m, "promote", fmt.Errorf("learner not promoted within %s, last answer: %v", c.cfg.promoteWait, last))
}

// Remove takes m out of the membership through another member, then stops it.
func (c *Cluster) Remove(ctx context.Context, cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	cli, err := c.leaderClient(ctx, m)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := withRetry(ctx, 30*time.Second, func(ctx context.Context) (*clientv3.MemberRemoveResponse, error) {
		return cli.MemberRemove(ctx, m.ID())
	}); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "remove", Err: err}
	}
	if err := m.stop(syscall.SIGTERM, 20*time.Second); err != nil {
		return err
	}
	c.mu.Lock()
	for i, x := range c.members {
		if x == m {
			c.members = append(c.members[:i], c.members[i+1:]...)
			break
		}
	}
	c.removed = append(c.removed, m)
	c.mu.Unlock()
	c.logf("%s: removed", m.name)
	return nil
}

// Upgrade stops m, swaps its binary to version v and starts it on the same
// data dir, as kubeadm upgrade does to the etcd static pod.
func (c *Cluster) Upgrade(ctx context.Context, cm cluster.Member, v etcdbin.Version) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	bins, err := c.cfg.binaries(ctx, v)
	if err != nil {
		return err
	}
	if err := m.stop(syscall.SIGTERM, 20*time.Second); err != nil {
		return err
	}
	from := m.setBinaries(bins)
	if err := c.startAndWait(ctx, m, "upgrade", voterReady); err != nil {
		return err
	}
	c.logf("%s: upgraded in place %s -> %s", m.name, from, v)
	return nil
}

// Stop stops m with SIGTERM.
func (c *Cluster) Stop(_ context.Context, cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	return m.stop(syscall.SIGTERM, 20*time.Second)
}

// Kill stops m with SIGKILL.
func (c *Cluster) Kill(_ context.Context, cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	return m.stop(syscall.SIGKILL, 0)
}

// Start starts m again on its data dir at its current version.
func (c *Cluster) Start(ctx context.Context, cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	return c.startAndWait(ctx, m, "start", voterReady)
}

// Client returns a client bound to m's endpoint alone.
func (c *Cluster) Client(_ context.Context, cm cluster.Member) (*clientv3.Client, error) {
	return newClient([]string{cm.Endpoint()})
}

// ClusterClient returns a client over every current member.
func (c *Cluster) ClusterClient(context.Context) (*clientv3.Client, error) {
	var eps []string
	for _, m := range c.ProcessMembers() {
		eps = append(eps, m.clientURL)
	}
	if len(eps) == 0 {
		return nil, errors.New("process cluster: no members")
	}
	return newClient(eps)
}

// CopyDataDir copies m's data dir for an offline audit without restarting
// m: a restart is not neutral (etcd 3.5.20+ repairs its v3store membership
// at start-up), so it would hide the very state under test. A stopped
// member's dir is copied as it is. A running member's db comes from its own
// consistent snapshot stream (a bbolt read transaction), and its WAL and
// .snap files, which etcd only appends to or creates, are copied after it.
func (c *Cluster) CopyDataDir(ctx context.Context, cm cluster.Member, dst string) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	if !m.Running() {
		if err := copyDir(m.DataDir(), dst); err != nil {
			return fmt.Errorf("copying data dir of %s: %w", m.name, err)
		}
		return nil
	}
	cli, err := newClient([]string{m.clientURL})
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := liveCopy(ctx, cli, m.DataDir(), dst); err != nil {
		return fmt.Errorf("copying data dir of running %s: %w", m.name, err)
	}
	return nil
}

// Logs returns what m's latest run wrote.
func (c *Cluster) Logs(_ context.Context, cm cluster.Member) (string, error) {
	m, err := c.own(cm)
	if err != nil {
		return "", err
	}
	return m.currentLog(), nil
}

// Close stops every member and, unless the cluster keeps its files, removes
// the data dirs (logs stay with the artifacts).
func (c *Cluster) Close(context.Context) error {
	c.mu.Lock()
	all := append(append([]*Member(nil), c.members...), c.removed...)
	c.mu.Unlock()
	var errs []error
	for _, m := range all {
		if err := m.stop(syscall.SIGTERM, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	c.ports.Release()
	for _, m := range all {
		if err := capLog(m.LogPath(), maxLogBytes); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.cfg.keep {
		for _, m := range all {
			if err := os.RemoveAll(m.DataDir()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) own(cm cluster.Member) (*Member, error) {
	m, ok := cm.(*Member)
	if !ok || m == nil {
		return nil, fmt.Errorf("member %v does not belong to a process cluster", cm)
	}
	return m, nil
}

// readiness says what a member must answer to count as serving.
type readiness int

const (
	// learnerReady: a serializable read, all a learner answers.
	learnerReady readiness = iota
	// voterReady: a linearizable read through the member alone. It needs the
	// member to have applied up to the leader's commit index, so a member that
	// runs but whose apply loop is stuck is not ready.
	voterReady
)

// startAndWait starts m and waits until it is ready.
func (c *Cluster) startAndWait(ctx context.Context, m *Member, op string, r readiness) error {
	if err := m.start(); err != nil {
		return &cluster.MemberError{Member: m.name, Op: op, Err: err}
	}
	return c.waitReady(ctx, m, op, r)
}

func (c *Cluster) waitReady(ctx context.Context, m *Member, op string, r readiness) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.startTimeout)
	defer cancel()
	cli, err := newClient([]string{m.clientURL})
	if err != nil {
		return err
	}
	defer cli.Close()
	var last error
	gen := m.generation()
	for {
		if exited, exitErr := m.exitedWith(); exited {
			// Someone else (a fault, a test) may be restarting the member:
			// give them a moment before calling the exit a failure.
			time.Sleep(2 * time.Second)
			if g := m.generation(); g != gen && m.Running() {
				gen = g
				continue
			}
			return c.memberFailure(m, op, exitErr)
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		if r == learnerReady {
			_, err = cli.Get(rctx, "health", clientv3.WithSerializable())
		} else {
			_, err = cli.Get(rctx, "health")
		}
		rcancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			// One last look: the process may have died while we waited.
			if exited, exitErr := m.exitedWith(); exited {
				return c.memberFailure(m, op, exitErr)
			}
			return c.memberFailure(m, op, fmt.Errorf("not serving within %s, last answer: %v", c.cfg.startTimeout, last))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// memberFailure wraps err with the member's own error line.
func (c *Cluster) memberFailure(m *Member, op string, err error) error {
	log := m.currentLog()
	me := &cluster.MemberError{Member: m.name, Op: op, LogLine: cluster.EvidenceLine(log), Err: err}
	if me.LogLine == "" {
		me.LogTail = lastLines(log, 3)
	}
	return me
}

// leaderClient returns a client bound to the leader (or, when m leads and is
// to be skipped, to another member). A member validates a membership change
// against its own view before proposing it, and after an upgrade views can
// differ, so which member takes the request matters: always the leader, as
// Cluster API's KCP does, keeps runs repeatable.
func (c *Cluster) leaderClient(ctx context.Context, skip ...*Member) (*clientv3.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		for _, m := range c.ProcessMembers() {
			if !m.Running() || (len(skip) > 0 && m == skip[0]) {
				continue
			}
			cli, err := newClient([]string{m.clientURL})
			if err != nil {
				continue
			}
			sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := cli.Status(sctx, m.clientURL)
			scancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return cli, nil
			}
			cli.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
	// No leader found (or it is the member being removed): any member.
	return c.votersClient(ctx, skip...)
}

// votersClient returns a client over the running members except skip.
func (c *Cluster) votersClient(_ context.Context, skip ...*Member) (*clientv3.Client, error) {
	var eps []string
	for _, m := range c.ProcessMembers() {
		if len(skip) > 0 && m == skip[0] {
			continue
		}
		if m.Running() {
			eps = append(eps, m.clientURL)
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("process cluster: no running member to talk to")
	}
	return newClient(eps)
}

func (c *Cluster) fillID(ctx context.Context, m *Member) error {
	cli, err := newClient([]string{m.clientURL})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, m.clientURL)
	if err != nil {
		return fmt.Errorf("status of %s: %w", m.name, err)
	}
	m.setID(st.Header.MemberId)
	return nil
}

func newClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// withRetry retries f for transient errors (no leader yet, a member just
// restarted) until timeout.
func withRetry[T any](ctx context.Context, timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := f(cctx)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil || !transient(err) {
			return v, err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func transient(err error) bool {
	s := err.Error()
	for _, t := range []string{"no leader", "leader changed", "deadline exceeded", "unavailable", "unhealthy cluster", "connection refused", "too many requests", "timed out"} {
		if strings.Contains(strings.ToLower(s), t) {
			return true
		}
	}
	return false
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
