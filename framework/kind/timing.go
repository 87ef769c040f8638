package kind

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
)

// Where a kind path's time goes: the cluster times the parts of its
// operations (kind's create stages, kubeadm's phases, the kubelet
// restarting an etcd static pod) and hands them to the runner, which
// records them as sub-steps of the step under way (result.json).

var _ cluster.Timer = (*Cluster)(nil)

// TakeTimings returns the parts of operations timed since the last call.
func (c *Cluster) TakeTimings() []cluster.Timing { return c.timings.take() }

// timings collects timed parts; safe for concurrent use.
type timings struct {
	mu   sync.Mutex
	list []cluster.Timing
}

func (t *timings) add(ts ...cluster.Timing) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.list = append(t.list, ts...)
}

func (t *timings) take() []cluster.Timing {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.list
	t.list = nil
	return out
}

// timed runs f and times it as name.
func (t *timings) timed(name string, f func() error) error {
	start := time.Now()
	err := f()
	t.add(cluster.Timing{Name: name, Start: start, End: time.Now()})
	return err
}

// stampedPhaseRE matches a kubeadm progress line in a log nodeRunLogged
// stamped: "[+  12.3s] [etcd] Announced new etcd member ...".
var stampedPhaseRE = regexp.MustCompile(`^\[\+\s*([0-9]+\.[0-9]+)s\] \[([a-z][a-z0-9/-]*)\] `)

// kubeadmPhases times kubeadm's phases from its stamped log: a phase runs
// from its first progress line to the next phase's first line, the last to
// end (when the command returned). start is when the command began; the
// time before kubeadm's first progress line is "<prefix> start".
func kubeadmPhases(prefix, log string, start, end time.Time) []cluster.Timing {
	type mark struct {
		at    time.Duration
		phase string
	}
	var marks []mark
	for _, l := range strings.Split(log, "\n") {
		m := stampedPhaseRE.FindStringSubmatch(l)
		if m == nil || (len(marks) > 0 && marks[len(marks)-1].phase == m[2]) {
			continue
		}
		sec, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		marks = append(marks, mark{time.Duration(sec * float64(time.Second)), m[2]})
	}
	var out []cluster.Timing
	if len(marks) > 0 && marks[0].at > 0 {
		out = append(out, cluster.Timing{Name: prefix + " start", Start: start, End: start.Add(marks[0].at)})
	}
	for i, mk := range marks {
		e := end
		if i+1 < len(marks) {
			e = start.Add(marks[i+1].at)
		}
		if e.Before(start.Add(mk.at)) {
			e = start.Add(mk.at)
		}
		out = append(out, cluster.Timing{Name: prefix + " [" + mk.phase + "]", Start: start.Add(mk.at), End: e})
	}
	return out
}

// statusClock times the stages kind's create reports (" • Preparing nodes
// 📦  ..." when one starts, " ✓ Preparing nodes 📦" when it ends).
type statusClock struct {
	mu      sync.Mutex
	stage   string
	started time.Time
	record  func(cluster.Timing)
}

// line takes one status line kind logged at now.
func (s *statusClock) line(msg string, now time.Time) {
	name, begins, ok := kindStatus(msg)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if begins {
		s.stage, s.started = name, now
		return
	}
	if name == s.stage && s.stage != "" {
		s.record(cluster.Timing{Name: "kind create: " + name, Start: s.started, End: now})
		s.stage = ""
	}
}

// kindStatus reads one of kind's status lines: the stage's name without
// its emoji, and whether it begins or ends.
func kindStatus(msg string) (name string, begins, ok bool) {
	msg = strings.TrimRight(msg, "\n")
	var rest string
	switch {
	case strings.HasPrefix(msg, " • "):
		rest, begins = strings.TrimSuffix(strings.TrimPrefix(msg, " • "), "  ..."), true
	case strings.HasPrefix(msg, " ✓ "):
		rest = strings.TrimPrefix(msg, " ✓ ")
	case strings.HasPrefix(msg, " ✗ "):
		rest = strings.TrimPrefix(msg, " ✗ ")
	default:
		return "", false, false
	}
	// Keep the words, drop the emoji kind ends each stage with.
	words := strings.Fields(rest)
	for len(words) > 0 && !isASCII(words[len(words)-1]) {
		words = words[:len(words)-1]
	}
	if len(words) == 0 {
		return "", false, false
	}
	return strings.Join(words, " "), begins, true
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > 127 {
			return false
		}
	}
	return true
}

// timings names the parts of a static pod restart restartTimer saw, from
// the manifest change: the old etcd exiting, the new container starting,
// the member serving.
func (t *restartTimer) timings(prefix string) []cluster.Timing {
	if t == nil || t.since.IsZero() {
		return nil
	}
	var out []cluster.Timing
	prev := t.since
	add := func(name string, d time.Duration) {
		at := t.since.Add(d)
		if at.Before(prev) {
			at = prev
		}
		out = append(out, cluster.Timing{Name: prefix + name, Start: prev, End: at})
		prev = at
	}
	if t.sawStop {
		add("old etcd exits", t.stopped)
	}
	if t.sawNew {
		add("new etcd container starts", t.started)
	}
	if t.served > 0 {
		add("member serves", t.served)
	}
	return out
}
