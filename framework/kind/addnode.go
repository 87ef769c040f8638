package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
	"etcd-upgrade-e2e/framework/internal/logtail"
	"etcd-upgrade-e2e/kindconfigs"
)

// Labels kind puts on node containers; kind's delete and the harness's
// cleanup find them by these.
const (
	clusterLabel = "io.x-k8s.kind.cluster"
	roleLabel    = "io.x-k8s.kind.role"
)

// sharedFiles are the files kind copies from the first control plane to the
// others before they join (kubeadminit action of kind v0.30.0).
var sharedFiles = []string{
	"/etc/kubernetes/admin.conf",
	"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.key",
	"/etc/kubernetes/pki/front-proxy-ca.crt", "/etc/kubernetes/pki/front-proxy-ca.key",
	"/etc/kubernetes/pki/sa.pub", "/etc/kubernetes/pki/sa.key",
	"/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/ca.key",
}

// addControlPlane runs a new control-plane container from the node image,
// as Cluster API's Docker provider does, and joins it with `kubeadm join
// --control-plane` (learner, then promoted) with etcd v.
func (c *Cluster) addControlPlane(ctx context.Context, v etcdbin.Version) (cluster.Member, error) {
	peer, err := c.peerNode(nil)
	if err != nil {
		return nil, err
	}
	name, n, start, err := c.joinNode(ctx, peer)
	if err != nil {
		return nil, &cluster.MemberError{Member: name, Op: "join", Err: err}
	}
	ep, err := publishedEndpoint(ctx, name)
	if err != nil {
		return nil, err
	}
	m := &Member{name: name, endpoint: ep, version: v}
	c.members.Add(m)
	prepared := time.Now()
	c.timings.add(cluster.Timing{Name: "node container running", Start: start, End: prepared})

	for _, f := range sharedFiles {
		if err := nodeutils.CopyNodeToNode(peer, n, f); err != nil {
			return m, &cluster.MemberError{Member: name, Op: "join", Err: fmt.Errorf("copying %s from %s: %w", f, peer.String(), err)}
		}
	}
	if err := c.ensureEtcdImage(ctx, n, v); err != nil {
		return m, &cluster.MemberError{Member: name, Op: "join", Err: err}
	}
	tag := kindconfigs.EtcdImageTag(v.String())
	old, err := setClusterEtcdTag(ctx, peer, tag)
	if err != nil {
		return m, &cluster.MemberError{Member: name, Op: "join", Err: err}
	}
	if old != tag {
		c.logf("kubeadm-config: etcd.local.imageTag %s -> %s, for the joins to come", old, tag)
	}
	ip, _, err := n.IP()
	if err != nil {
		return m, fmt.Errorf("IP of %s: %w", name, err)
	}
	jd := joinData{Cluster: c.cfg.name, Node: name, NodeIP: ip, Endpoint: c.cfg.name + "-external-load-balancer:6443"}
	patch, err := joinFlagPatch(v)
	if err != nil {
		return m, err
	}
	if patch != "" {
		// kubeadm 1.33 writes flags etcd v no longer has: an operator
		// joining such a node gives kubeadm a patch, as here.
		if err := nodeutils.WriteFile(n, patchesDir+"/etcd+json.json", patch); err != nil {
			return m, fmt.Errorf("writing the etcd patch on %s: %w", name, err)
		}
		jd.Patches = patchesDir
		c.logf("%s: kubeadm patch %s/etcd+json.json renames the etcd flags %s no longer has", name, patchesDir, v)
	}
	jc, err := renderJoinConfig(jd)
	if err != nil {
		return m, err
	}
	if err := nodeutils.WriteFile(n, joinConfigPath, jc); err != nil {
		return m, fmt.Errorf("writing %s on %s: %w", joinConfigPath, name, err)
	}
	c.timings.add(cluster.Timing{Name: "certificates, etcd image and join config in place", Start: prepared, End: time.Now()})
	if err := c.kubeadmJoin(ctx, n, m, start); err != nil {
		return m, err
	}
	if err := c.timings.timed("member serves", func() error { return c.waitServing(ctx, n, m, "join", start, &v) }); err != nil {
		return m, err
	}
	if err := c.timings.timed("load balancer updated", func() error { return c.updateLoadBalancer(ctx) }); err != nil {
		return m, &cluster.MemberError{Member: name, Op: "join", Err: err}
	}
	c.logf("%s: joined with kubeadm join --control-plane (learner, then promoted) at etcd %s in %s", name, v, time.Since(start).Round(100*time.Millisecond))
	return m, nil
}

// kubeadmJoin runs `kubeadm join` on the node. It gives up early when the
// new member's etcd keeps exiting: kubeadm would wait minutes for a member
// that cannot start.
func (c *Cluster) kubeadmJoin(ctx context.Context, n nodes.Node, m *Member, since time.Time) error {
	jctx, cancel := context.WithTimeoutCause(ctx, c.cfg.joinTimeout, fmt.Errorf("kubeadm join did not finish within %s", c.cfg.joinTimeout))
	defer cancel()
	crashed := make(chan etcdContainer, 1)
	go func() {
		for etcdops.Sleep(jctx, 2*time.Second) == nil {
			cs, err := etcdContainers(jctx, n)
			if err != nil {
				continue
			}
			if exited := exitedSince(cs, since); len(exited) >= crashLimit {
				crashed <- exited[len(exited)-1]
				cancel()
				return
			}
		}
	}()
	joinStart := time.Now()
	out, err := c.nodeRunLogged(jctx, n, m.name, "kubeadm-join.log", "kubeadm", "join", "--config", joinConfigPath, "--v=5")
	c.timePhases("kubeadm join", m.name, "kubeadm-join.log", joinStart)
	if err == nil {
		return nil
	}
	select {
	case ct := <-crashed:
		return c.memberFailure(context.WithoutCancel(ctx), n, m, "join", fmt.Errorf("etcd of the joining node exited %d times, last with code %d; kubeadm join stopped", crashLimit, ct.ExitCode), &ct)
	default:
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	} else if cause := context.Cause(jctx); cause != nil {
		err = cause
	} else {
		err = fmt.Errorf("kubeadm join --control-plane failed (output in %s)", filepath.Join(c.cfg.dir, "nodes", m.name, "kubeadm-join.log"))
	}
	source, line := c.joinEvidence(context.WithoutCancel(ctx), n, m, since, out)
	return &cluster.MemberError{Member: m.name, Op: "join", LogSource: source, LogLine: line, Err: err}
}

// joinEvidence explains a failed join and says where the line comes from:
// the joining member's own error line (source ""); else the error an
// existing member logged since the join began (a 3.6 member refusing the
// configuration change, "membership: too many learner members in cluster");
// else the etcd server's answer kubeadm quotes; else nothing: kubeadm's own
// errors are the harness's, not the cluster's.
func (c *Cluster) joinEvidence(ctx context.Context, n nodes.Node, m *Member, since time.Time, kubeadmOut string) (source, line string) {
	if ev := c.fatalLine(ctx, n); ev != "" {
		return "", ev
	}
	// A member that panicked or died explains more than one that keeps
	// warning about it, so look for those first.
	var first struct{ source, line string }
	for _, other := range c.KindMembers() {
		if other == m {
			continue
		}
		on, err := c.node(other.name)
		if err != nil {
			continue
		}
		cs, err := etcdContainers(ctx, on)
		if err != nil || len(cs) == 0 {
			continue
		}
		log, err := containerLog(ctx, on, cs[len(cs)-1])
		if err != nil {
			continue
		}
		if line := cluster.EvidenceLine(logSince(log, since)); line != "" {
			if fatalLevel(line) {
				return other.name + " log", line
			}
			if first.line == "" {
				first.source, first.line = other.name+" log", line
			}
		}
	}
	if first.line != "" {
		return first.source, first.line
	}
	if line := kubeadmEtcdError(kubeadmOut); line != "" {
		return "kubeadm join on " + m.name, line
	}
	return "", ""
}

// fatalLevel reports whether an etcd log line is a fatal or panic entry.
func fatalLevel(line string) bool {
	var e struct {
		Level string `json:"level"`
	}
	if strings.HasPrefix(line, "panic: ") {
		return true
	}
	return json.Unmarshal([]byte(line), &e) == nil && (e.Level == "fatal" || e.Level == "panic" || e.Level == "dpanic")
}

// logSince keeps the zap JSON lines of an etcd log stamped at or after t,
// and Go panic lines.
func logSince(log string, t time.Time) string {
	var b strings.Builder
	for _, l := range strings.Split(log, "\n") {
		var e struct {
			TS time.Time `json:"ts"`
		}
		// Go's own "panic:" lines carry no time; they end a run, keep them.
		if strings.HasPrefix(l, "panic: ") || (json.Unmarshal([]byte(l), &e) == nil && !e.TS.Before(t)) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// runNode starts a control-plane container with the flags kind v0.30.0 uses
// for its own (provider docker: commonArgs and runArgsForNode), on the
// network of peer, and waits until systemd in it is up.
func (c *Cluster) runNode(ctx context.Context, name, peer string) (nodes.Node, error) {
	network, err := docker(ctx, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", peer)
	if err != nil {
		return nil, err
	}
	fields := strings.Fields(network)
	if len(fields) == 0 {
		return nil, fmt.Errorf("node %s is on no docker network", peer)
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, errors.New("kind cluster: closed")
	}
	if _, err := docker(ctx, runArgs(c.cfg.name, name, fields[0], c.cfg.nodeImage)...); err != nil {
		return nil, fmt.Errorf("starting node container %s: %w", name, err)
	}
	if err := waitSystemd(ctx, name); err != nil {
		return nil, err
	}
	return c.node(name)
}

// runArgs are kind's `docker run` arguments for a control-plane node.
// --privileged stays: the docker on PATH replaces it where the daemon
// refuses it. Ports are published on loopback ports Docker picks.
func runArgs(cluster, name, network, image string) []string {
	return []string{"run", "--name", name,
		"--hostname", name,
		"--label", roleLabel + "=control-plane",
		"--privileged",
		"--security-opt", "seccomp=unconfined",
		"--security-opt", "apparmor=unconfined",
		"--tmpfs", "/tmp",
		"--tmpfs", "/run",
		"--volume", "/var",
		"--volume", "/lib/modules:/lib/modules:ro",
		"-e", "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER",
		"--detach",
		"--tty",
		"--label", clusterLabel + "=" + cluster,
		"--net", network,
		"--restart=on-failure:1",
		"--init=false",
		"--cgroupns=private",
		"--publish=127.0.0.1:0:6443/tcp",
		"--publish=127.0.0.1:0:2379/tcp",
		"-e", "KUBECONFIG=/etc/kubernetes/admin.conf",
		image,
	}
}

// systemdReady is what kind waits for in a node's console before using it.
var systemdReady = regexp.MustCompile("Reached target .*Multi-User System.*|detected cgroup v1")

func waitSystemd(ctx context.Context, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := docker(ctx, "logs", name)
		if err == nil && systemdReady.MatchString(out) {
			return nil
		}
		if m := systemdFailed.FindString(out); m != "" {
			return fmt.Errorf("node %s: systemd could not start: %s", name, strings.TrimSpace(stripANSI(m)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: systemd did not reach multi-user.target within 60s: %v %s", name, err, stripANSI(logtail.Last(out, 5)))
		}
		if err := etcdops.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// systemdFailed matches systemd giving up as PID 1 (e.g. "Failed to
// allocate manager object: Too many open files" when the host's inotify
// limits are exhausted).
var systemdFailed = regexp.MustCompile(`Failed to (allocate manager object|create control group inotify object)[^\n]*`)

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// ensureEtcdImage makes sure the node's containerd has etcd v's image,
// loading it when the node image lacks it.
func (c *Cluster) ensureEtcdImage(ctx context.Context, n nodes.Node, v etcdbin.Version) error {
	ref := kindconfigs.EtcdImageRef(v.String())
	out, err := nodeOutput(ctx, n, "ctr", "--namespace=k8s.io", "images", "ls", "--quiet", "name=="+ref)
	if err == nil && strings.TrimSpace(out) != "" {
		return nil
	}
	if c.cfg.loadImages == nil {
		return fmt.Errorf("node %s has no image %s and no image loader is set", n.String(), ref)
	}
	c.logf("%s: loading %s", n.String(), ref)
	return c.cfg.loadImages(ctx, []nodes.Node{n}, v.String())
}

// kubeadmEtcdError is the etcd server's answer kubeadm quotes in its output
// ("Failed to add etcd member: etcdserver: too many learner members in
// cluster"), or "" when it quotes none.
func kubeadmEtcdError(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "etcdserver: ") && !strings.Contains(lines[i], `"level":"warn"`) {
			return strings.TrimSpace(klogMessage(lines[i]))
		}
	}
	return ""
}

// kubeadmErrorLine picks kubeadm's own error from its output: an etcd
// server's answer it quotes (e.g. "etcdserver: too many learner members in
// cluster"), else its error chain ("error execution phase X: cause: ...").
func kubeadmErrorLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if j := strings.Index(lines[i], "etcdserver: "); j >= 0 && !strings.Contains(lines[i], `"level":"warn"`) {
			return "kubeadm: " + strings.TrimSpace(klogMessage(lines[i]))
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "error execution phase") {
			continue
		}
		// kubeadm prints the causes innermost first, just above the phase.
		chain := []string{strings.TrimSpace(lines[i])}
		for j := i - 1; j >= 0 && j >= i-5; j-- {
			l := strings.TrimSpace(lines[j])
			if l == "" || strings.HasPrefix(l, "[") || klogRE.MatchString(l) || strings.HasPrefix(lines[j], "\t") || strings.Contains(l, ".go:") {
				break
			}
			chain = append(chain, l)
		}
		return "kubeadm: " + strings.Join(chain, ": ")
	}
	if len(lines) > 0 {
		return "kubeadm: " + strings.TrimSpace(lines[len(lines)-1])
	}
	return ""
}

// klogRE matches a klog header ("I1127 05:50:42.527913     293 etcd.go:518] ").
var klogRE = regexp.MustCompile(`^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\] `)

func klogMessage(l string) string { return klogRE.ReplaceAllString(strings.TrimSpace(l), "") }
