// Package process is the provider that runs etcd members as local processes
// on loopback, built the way kubeadm builds a control plane: the first member
// initialises the cluster, every other one joins as a learner and is promoted
// once it has caught up.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-semver/semver"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/internal/logtail"
	"etcd-upgrade-e2e/framework/ports"
)

// Cluster is a set of etcd processes; it implements cluster.Cluster.
type Cluster struct {
	cfg   config
	ports *ports.Allocator

	members etcdops.Set[*Member]

	mu       sync.Mutex // guards seq and lastPort
	seq      int
	lastPort int
}

var (
	_ cluster.Cluster            = (*Cluster)(nil)
	_ cluster.StaticBootstrapper = (*Cluster)(nil)
	_ cluster.LearnerUpdater     = (*Cluster)(nil)
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
	return cluster.AsMembers(c.members.Current())
}

// ProcessMembers returns the current members with their process details.
func (c *Cluster) ProcessMembers() []*Member {
	return c.members.Current()
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
	if c.members.Len() != 0 {
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
	if err := c.waitClusterVersion(ctx, m); err != nil {
		return nil, err
	}
	if err := c.fillID(ctx, m); err != nil {
		return nil, err
	}
	c.members.Add(m)
	c.logf("%s: initialised cluster at etcd %s (%s)", m.name, v, m.clientURL)
	return m, nil
}

// waitClusterVersion waits until m, the only member, has decided the
// cluster version: a member joining before that refuses the cluster and
// exits (`discovery failed`, `incompatible with current running cluster`,
// after `failed to parse cluster version of remote member ... not_decided`).
// etcd decides it some seconds after the first election; a kubeadm init
// takes longer than that, so a kubeadm join never meets the undecided
// version, and neither may the harness's first join.
func (c *Cluster) waitClusterVersion(ctx context.Context, m *Member) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.startTimeout)
	defer cancel()
	var last string
	for {
		vs, err := clusterVersion(ctx, m.clientURL)
		if err == nil {
			if _, perr := semver.NewVersion(vs.Cluster); perr == nil {
				return nil
			}
			last = fmt.Sprintf("cluster version %q", vs.Cluster)
		} else {
			last = err.Error()
		}
		if etcdops.Sleep(ctx, etcdops.PollInterval) != nil {
			if exited, exitErr := m.exitedWith(); exited {
				return c.memberFailure(m, "init", exitErr)
			}
			return c.memberFailure(m, "init", fmt.Errorf("no cluster version decided within %s, last answer: %s", c.cfg.startTimeout, last))
		}
	}
}

// clusterVersion reads a member's /version, where etcd reports the
// cluster version it has decided.
func clusterVersion(ctx context.Context, clientURL string) (version.Versions, error) {
	var vs version.Versions
	rctx, cancel := context.WithTimeout(ctx, etcdops.StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, clientURL+"/version", nil)
	if err != nil {
		return vs, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return vs, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return vs, fmt.Errorf("GET %s/version: %s", clientURL, resp.Status)
	}
	return vs, json.NewDecoder(resp.Body).Decode(&vs)
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
	c.members.Add(ms...)
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
	return c.join(ctx, v, false)
}

// JoinUpdatingLearner is Join with a MemberUpdate of the learner's own peer
// URL between its start and its promotion (etcd issue 21694).
func (c *Cluster) JoinUpdatingLearner(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	return c.join(ctx, v, true)
}

func (c *Cluster) join(ctx context.Context, v etcdbin.Version, update bool) (cluster.Member, error) {
	m, err := c.newMember(ctx, v)
	if err != nil {
		return nil, err
	}
	members, id, err := etcdops.AddLearnerUnless(ctx, c.peers(nil), m.peerURL, c.anyDied)
	if err != nil {
		me := &cluster.MemberError{Member: m.name, Op: "add learner", Err: err}
		if etcdops.Is(err, rpctypes.ErrUnhealthy) && c.anyDied() {
			// The add was not retried for long, so the leader's refusal is
			// not the warning it repeats (which the failure quotes from its
			// log after a long wait): quote the first one it logged instead.
			if who, line := c.addRefusal(m.peerURL); line != "" {
				me.LogSource, me.LogLine = who+" log", line
			}
		}
		return nil, me
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
	c.members.Add(m)
	for attempt := 1; ; attempt++ {
		err := c.startPromoteAndWait(ctx, m, update)
		if err == nil {
			break
		}
		if attempt == 2 || !m.Running() || ctx.Err() != nil {
			return m, err
		}
		// The member runs but does not serve. The kubelet restarts a static
		// pod whose liveness probe fails; do the same once, so that the
		// member's start-up checks on the data it received speak too.
		c.logf("%s: not serving (%v); restarting it once as the kubelet would", m.name, etcdops.ShortErr(err))
		_ = m.stop(syscall.SIGKILL, 0)
	}
	c.logf("%s: joined at etcd %s", m.name, v)
	return m, nil
}

// Exited returns how m's process ended when it died on its own; nil while
// it runs, when the harness stopped it, or for a member not of this cluster.
func (c *Cluster) Exited(cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return nil
	}
	return m.died()
}

// addRefusal finds the first line in which a current member refused to add
// peerURL, as etcd logs it ("rejecting member add request"), and that
// member's name; "" when none did.
func (c *Cluster) addRefusal(peerURL string) (string, string) {
	for _, o := range c.members.Current() {
		for _, l := range strings.Split(o.currentLog(), "\n") {
			if strings.Contains(l, "rejecting member add request") && strings.Contains(l, "PeerURLs:["+peerURL+"]") {
				return o.name, strings.TrimSpace(l)
			}
		}
	}
	return "", ""
}

// anyDied says whether a current member has died on its own.
func (c *Cluster) anyDied() bool {
	for _, m := range c.members.Current() {
		if m.died() != nil {
			return true
		}
	}
	return false
}

// startPromoteAndWait runs the member, promotes it if it is still a learner
// and waits until it serves linearizable reads.
func (c *Cluster) startPromoteAndWait(ctx context.Context, m *Member, update bool) error {
	if err := c.startAndWait(ctx, m, "join", learnerReady); err != nil {
		return err
	}
	if update {
		if _, err := etcdops.UpdatePeerURLs(ctx, c.peers(m), m.ID(), []string{m.peerURL}); err != nil {
			return c.memberFailure(m, "member update", err)
		}
		c.logf("%s: member update sent with its own peer URL %s, before its promotion", m.name, m.peerURL)
	}
	err := c.promote(ctx, m)
	if etcdops.Is(err, rpctypes.ErrMemberNotLearner) {
		// etcd lists m as a voter though no promotion of the harness made
		// it one: an earlier start's promotion (the restart below), or etcd
		// issue 21694. kubeadm reads the member list first and takes such a
		// member as promoted; so does the join, but it says so, and whether
		// raft agrees is the raft check's to judge.
		c.logf("%s: etcd refused its promotion (%s): its member list has it as a voter already; going on as kubeadm does", m.name, etcdops.ShortErr(err))
		err = nil
	}
	if err != nil {
		return err
	}
	return c.waitReady(ctx, m, "join", voterReady)
}

// promote promotes m through the leader, retrying while etcd says the
// learner is not in sync with the leader yet, as kubeadm does. It stops when
// m's process has exited and nobody started it again.
func (c *Cluster) promote(ctx context.Context, m *Member) error {
	err := etcdops.Promote(ctx, c.peers(m), m.ID(), c.cfg.promoteWait, func(ctx context.Context) error {
		exited, exitErr := m.exitedWith()
		if !exited {
			return nil
		}
		gen := m.generation()
		_ = etcdops.Sleep(ctx, etcdops.RestartGrace) // a fault may be restarting it
		if m.generation() == gen || !m.Running() {
			return c.memberFailure(m, "promote", exitErr)
		}
		return nil
	})
	if _, ok := cluster.AsMemberError(err); err == nil || ok {
		return err
	}
	return c.memberFailure(m, "promote", err)
}

// Remove takes m out of the membership through the leader (another member
// when m leads), then stops it.
func (c *Cluster) Remove(ctx context.Context, cm cluster.Member) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	if err := etcdops.Remove(ctx, c.peers(m), m.ID()); err != nil {
		return &cluster.MemberError{Member: m.name, Op: "remove", Err: err}
	}
	if err := m.stop(syscall.SIGTERM, 20*time.Second); err != nil {
		return err
	}
	c.members.Remove(m)
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
	all := c.members.All()
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
	return etcdops.Own[*Member](cm, "process")
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
			_ = etcdops.Sleep(ctx, etcdops.RestartGrace)
			if g := m.generation(); g != gen && m.Running() {
				gen = g
				continue
			}
			return c.memberFailure(m, op, exitErr)
		}
		rctx, rcancel := context.WithTimeout(ctx, etcdops.StatusTimeout)
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
		case <-time.After(etcdops.PollInterval):
		}
	}
}

// memberFailure wraps err with the member's own error line.
func (c *Cluster) memberFailure(m *Member, op string, err error) error {
	log := m.currentLog()
	me := &cluster.MemberError{Member: m.name, Op: op, LogLine: cluster.EvidenceLine(log), Err: err}
	if me.LogLine == "" {
		me.LogTail = logtail.Last(log, 3)
	}
	return me
}

// peers are the running members except skip, which membership changes go
// through (to the leader among them: see etcdops).
func (c *Cluster) peers(skip *Member) etcdops.Peers {
	return etcdops.Only(c, func(cm cluster.Member) bool {
		m, ok := cm.(*Member)
		return ok && m != skip && m.Running()
	})
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
		DialTimeout: etcdops.DialTimeout,
		Logger:      zap.NewNop(),
	})
}

// KeepHints says where a kept cluster's data dirs and logs are, and how to
// audit each member's data.
func (c *Cluster) KeepHints() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kept: %s\n", c.ArtifactsDir())
	for _, m := range c.ProcessMembers() {
		fmt.Fprintf(&b, "  %s (etcd %s): data %s, log %s\n", m.Name(), m.Version(), m.DataDir(), m.LogPath())
		fmt.Fprintf(&b, "    audit it: go run ./cmd/etcd-audit %s\n", m.DataDir())
	}
	return b.String()
}
