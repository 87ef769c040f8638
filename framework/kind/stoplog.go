package kind

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// followStop keeps what the member's running etcd writes until it exits:
// once a static pod's manifest is moved aside, the kubelet deletes the pod's
// log folder within seconds, and with it the shutdown lines a stopped
// member's evidence needs. tail --pid ends when etcd does. The returned
// function waits for that (bounded) and stores the log on m.
func (c *Cluster) followStop(ctx context.Context, n nodes.Node, m *Member) func() {
	cs, err := etcdContainers(ctx, n)
	if err != nil {
		return func() {}
	}
	var run *etcdContainer
	for i := range cs {
		if cs[i].running() && cs[i].Pid > 0 && cs[i].LogPath != "" {
			run = &cs[i]
		}
	}
	if run == nil {
		return func() {}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.startTimeout)
	var buf lockedBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.CommandContext(fctx, "timeout", fmt.Sprintf("%d", int(c.cfg.startTimeout.Seconds())),
			"tail", "-n", "+1", "-F", "-s", "0.2", fmt.Sprintf("--pid=%d", run.Pid), run.LogPath).SetStdout(&buf).Run()
	}()
	return func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		cancel()
		m.setStoppedLog(criLog(buf.String()))
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
