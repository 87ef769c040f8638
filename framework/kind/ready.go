package kind

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/internal/logtail"
)

// crashLimit is how many runs of the etcd container may exit before a
// member counts as unable to start: the kubelet restarts it (after 10 s,
// then longer), and the second run gives the member's start-up checks a
// second look at the same data, as the process provider does.
const crashLimit = 2

// waitServing waits until m serves a linearizable read through its own
// endpoint (and, with want, reports that version). Runs of the etcd
// container created since `since` that exited count as failed starts; the
// member's own error line from the last of them is the evidence.
func (c *Cluster) waitServing(ctx context.Context, n nodes.Node, m *Member, op string, since time.Time, want *etcdbin.Version) error {
	_, err := c.waitServingTimed(ctx, n, m, op, since, want)
	return err
}

// waitServingTimed is waitServing, also returning what it saw of the
// restart (nil when it could not watch).
func (c *Cluster) waitServingTimed(ctx context.Context, n nodes.Node, m *Member, op string, since time.Time, want *etcdbin.Version) (*restartTimer, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	cli, err := newClient(tc, []string{m.endpoint})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.startTimeout)
	defer cancel()
	t := newRestartTimer(since)
	var last error
	for poll := 0; ; poll++ {
		if ok, err := serving(ctx, cli, m, want); ok {
			t.serving()
			if !since.IsZero() {
				c.logf("%s: %s: %s", m.name, op, t)
			}
			return t, nil
		} else if err != nil {
			last = err
		}
		// Every poll while a restart is under way, so that its timing is seen.
		if poll%4 == 0 || (!since.IsZero() && !t.sawNew) || ctx.Err() != nil {
			cs, err := etcdContainers(context.WithoutCancel(ctx), n)
			if err == nil {
				t.observe(cs)
				if exited := exitedSince(cs, since); len(exited) >= crashLimit {
					last := exited[len(exited)-1]
					return t, c.memberFailure(ctx, n, m, op, fmt.Errorf("etcd exited %d times since the %s began, last with code %d (%s)", len(exited), op, last.ExitCode, t), &last)
				}
			}
		}
		if err := etcdops.Sleep(ctx, 500*time.Millisecond); err != nil {
			if parent := context.Cause(ctx); parent != nil && parent != context.DeadlineExceeded {
				return t, parent
			}
			return t, c.memberFailure(context.WithoutCancel(ctx), n, m, op, fmt.Errorf("not serving within %s (%s), last answer: %v", c.cfg.startTimeout, t, last), nil)
		}
	}
}

// serving asks m for a linearizable read, and its version when wanted.
func serving(ctx context.Context, cli *clientv3.Client, m *Member, want *etcdbin.Version) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := cli.Get(rctx, "health"); err != nil {
		return false, err
	}
	st, err := cli.Status(rctx, m.endpoint)
	if err != nil {
		return false, err
	}
	m.setID(st.Header.MemberId)
	if want != nil && st.Version != want.String() {
		return false, fmt.Errorf("serving at %s, not yet %s", st.Version, want)
	}
	return true, nil
}

func exitedSince(cs []etcdContainer, since time.Time) []etcdContainer {
	var out []etcdContainer
	for _, ct := range cs {
		if ct.exited() && ct.Created.After(since) {
			out = append(out, ct)
		}
	}
	return out
}

// memberFailure wraps err with the member's own error line, from container
// ct or else the latest etcd container on the node; with the last lines of
// that log as context when it holds no error line.
func (c *Cluster) memberFailure(ctx context.Context, n nodes.Node, m *Member, op string, err error, ct *etcdContainer) error {
	line, logTail := c.evidence(ctx, n, ct)
	return &cluster.MemberError{Member: m.name, Op: op, LogLine: line, LogTail: logTail, Err: err}
}

// evidence picks the error line from an etcd container's log (the latest
// on the node when ct is nil), or else returns the log's last lines.
func (c *Cluster) evidence(ctx context.Context, n nodes.Node, ct *etcdContainer) (line, logTail string) {
	if ct == nil {
		cs, err := etcdContainers(ctx, n)
		if err != nil || len(cs) == 0 {
			return "", ""
		}
		ct = &cs[len(cs)-1]
	}
	log, err := containerLog(ctx, n, *ct)
	if err != nil {
		return "", ""
	}
	if line := cluster.EvidenceLine(log); line != "" {
		return line, ""
	}
	return "", logtail.Last(log, 3)
}

// fatalLine is the error line of the node's latest etcd container, "" when
// it has none.
func (c *Cluster) fatalLine(ctx context.Context, n nodes.Node) string {
	cs, err := etcdContainers(ctx, n)
	if err != nil || len(cs) == 0 {
		return ""
	}
	log, err := containerLog(ctx, n, cs[len(cs)-1])
	if err != nil {
		return ""
	}
	return cluster.EvidenceLine(log)
}

// restartTimer records where the time of a static pod restart goes: the
// old etcd exiting, the new one starting, the member serving. Containers
// carry containerd's own timestamps; an old container the kubelet removed
// before it was seen is timed by the first poll that missed it.
type restartTimer struct {
	since            time.Time
	stopped, started time.Duration
	served           time.Duration
	sawStop, sawNew  bool
}

func newRestartTimer(since time.Time) *restartTimer { return &restartTimer{since: since} }

func (t *restartTimer) observe(cs []etcdContainer) {
	if t.since.IsZero() {
		return
	}
	oldRunning := false
	for _, ct := range cs {
		if ct.Created.Before(t.since) {
			if ct.running() {
				oldRunning = true
			} else if ct.exited() && ct.Finished.After(t.since) && !t.sawStop {
				t.sawStop, t.stopped = true, ct.Finished.Sub(t.since)
			}
		}
		if ct.Created.After(t.since) && !ct.Started.IsZero() && !t.sawNew {
			t.sawNew, t.started = true, ct.Started.Sub(t.since)
		}
	}
	if !oldRunning && !t.sawStop {
		t.sawStop, t.stopped = true, time.Since(t.since)
	}
}

// exitedAt records when the old etcd exited, as seen before the timer
// could look (a zero time or a nil timer changes nothing).
func (t *restartTimer) exitedAt(at time.Time) {
	if t == nil || t.since.IsZero() || at.IsZero() {
		return
	}
	if at.Before(t.since) {
		at = t.since
	}
	t.sawStop, t.stopped = true, at.Sub(t.since)
}

func (t *restartTimer) serving() {
	if !t.since.IsZero() {
		t.served = time.Since(t.since)
	}
}

func (t *restartTimer) String() string {
	if t.since.IsZero() {
		return ""
	}
	var parts []string
	if t.sawStop {
		parts = append(parts, fmt.Sprintf("old etcd gone at %.1fs", t.stopped.Seconds()))
	}
	if t.sawNew {
		parts = append(parts, fmt.Sprintf("new etcd started at %.1fs", t.started.Seconds()))
	}
	if t.served > 0 {
		parts = append(parts, fmt.Sprintf("serving at %.1fs", t.served.Seconds()))
	} else {
		parts = append(parts, fmt.Sprintf("not serving after %.1fs", time.Since(t.since).Seconds()))
	}
	return strings.Join(parts, ", ")
}
