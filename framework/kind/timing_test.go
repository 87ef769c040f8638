package kind

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/cluster"
)

// stamp writes lines through the stampWriter nodeRunLogged uses, each at
// its own second since the start.
func stamp(lines map[float64][]string) string {
	var b strings.Builder
	var ats []float64
	for at := range lines {
		ats = append(ats, at)
	}
	sort.Float64s(ats)
	for _, at := range ats {
		for _, l := range lines[at] {
			fmt.Fprintf(&b, "[+%6.1fs] %s\n", at, l)
		}
	}
	return b.String()
}

func names(ts []cluster.Timing) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// kubeadm join's phases, from its stamped output: klog lines and warnings
// are not phases, a phase ends where the next begins, a phase met again
// later is timed again.
func TestKubeadmPhases(t *testing.T) {
	log := stamp(map[float64][]string{
		0.2: {"I1130 02:01:02.123456     301 join.go:419] [preflight] found NodeName empty", "[preflight] Running pre-flight checks"},
		0.9: {"[preflight] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...", "\t[WARNING SystemVerification]: cgroups v1 support is in maintenance mode"},
		1.5: {"[certs] Using certificateDir folder \"/etc/kubernetes/pki\"", "[certs] Generating \"etcd/server\" certificate and key"},
		2.1: {"[kubeconfig] Generating kubeconfig files", "[control-plane] Using manifest folder \"/etc/kubernetes/manifests\""},
		2.4: {"[check-etcd] Checking that the etcd cluster is healthy"},
		3.0: {"[kubelet-start] Starting the kubelet", "[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s"},
		4.0: {"[kubelet-check] The kubelet is healthy after 1.002s", "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap"},
		6.5: {"[etcd] Announced new etcd member joining to the existing etcd cluster", "[etcd] Creating static Pod manifest for \"etcd\"",
			"{\"level\":\"warn\",\"msg\":\"retrying of unary invoker failed\"}"},
		19.7: {"[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s"},
		21.0: {"[mark-control-plane] Marking the node etcdup-x-control-plane4 as control-plane"},
		21.4: {"This node has joined the cluster and a new control plane instance was created:"},
	})
	start := time.Date(2026, 11, 30, 2, 1, 2, 0, time.UTC)
	end := start.Add(21600 * time.Millisecond)
	got := kubeadmPhases("kubeadm join", log, start, end)
	want := []string{"kubeadm join start", "kubeadm join [preflight]", "kubeadm join [certs]", "kubeadm join [kubeconfig]", "kubeadm join [control-plane]",
		"kubeadm join [check-etcd]", "kubeadm join [kubelet-start]", "kubeadm join [kubelet-check]", "kubeadm join [kubelet-start]", "kubeadm join [etcd]", "kubeadm join [mark-control-plane]"}
	if strings.Join(names(got), "|") != strings.Join(want, "|") {
		t.Fatalf("phases:\n%s\nwant:\n%s", strings.Join(names(got), "\n"), strings.Join(want, "\n"))
	}
	// The parts follow each other from the first line to the command's end.
	for i := 1; i < len(got); i++ {
		if !got[i].Start.Equal(got[i-1].End) {
			t.Errorf("%s starts at %s, %s ended at %s", got[i].Name, got[i].Start, got[i-1].Name, got[i-1].End)
		}
	}
	if got[0].Start != start || got[len(got)-1].End != end {
		t.Errorf("phases span %s-%s, want the command's %s-%s", got[0].Start, got[len(got)-1].End, start, end)
	}
	if etcd := got[9]; etcd.End.Sub(etcd.Start) != 14500*time.Millisecond {
		t.Errorf("[etcd] took %s, want 14.5s (from its first line to the next phase)", etcd.End.Sub(etcd.Start))
	}
	if kubeadmPhases("kubeadm join", "no phase line\n", start, end) != nil {
		t.Error("phases from a log with none")
	}
}

// The stages kind's create reports are timed through the cluster's logger.
func TestKindStatusStages(t *testing.T) {
	for msg, want := range map[string]struct {
		name          string
		begins, isOne bool
	}{
		" • Preparing nodes 📦  ...\n":                {"Preparing nodes", true, true},
		" ✓ Preparing nodes 📦":                       {"Preparing nodes", false, true},
		" ✗ Starting control-plane 🕹️":               {"Starting control-plane", false, true},
		" • Joining more control-plane nodes 🎮  ...": {"Joining more control-plane nodes", true, true},
		"Creating cluster \"etcdup-x\" ...":          {},
		" • 📦  ...":                                  {},
	} {
		name, begins, ok := kindStatus(msg)
		if ok != want.isOne || name != want.name || begins != want.begins {
			t.Errorf("kindStatus(%q) = %q, %t, %t", msg, name, begins, ok)
		}
	}

	var got []cluster.Timing
	lg := newLogger(io.Discard, false)
	lg.clock = &statusClock{record: func(t cluster.Timing) { got = append(got, t) }}
	lg.V(0).Infof(" • %s  ...\n", "Preparing nodes 📦")
	time.Sleep(20 * time.Millisecond)
	lg.V(0).Infof(" ✓ %s\n", "Preparing nodes 📦")
	lg.V(0).Infof(" • %s  ...\n", "Writing configuration 📜")
	lg.V(1).Info("kubeadm's own line, not a stage")
	lg.V(0).Infof(" ✓ %s\n", "Writing configuration 📜")
	lg.V(0).Infof(" • %s  ...\n", "Starting control-plane 🕹️") // never ends: not timed
	if strings.Join(names(got), "|") != "kind create: Preparing nodes|kind create: Writing configuration" {
		t.Fatalf("stages %v", names(got))
	}
	if d := got[0].End.Sub(got[0].Start); d < 20*time.Millisecond {
		t.Errorf("Preparing nodes took %s", d)
	}
}

// A static pod restart, in the parts restartTimer saw, one after another.
func TestRestartTimerTimings(t *testing.T) {
	since := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	rt := &restartTimer{since: since, sawStop: true, stopped: 3 * time.Second, sawNew: true, started: 5 * time.Second, served: 9 * time.Second}
	got := rt.timings("etcd static pod: ")
	want := []struct {
		name       string
		from, for_ time.Duration
	}{{"etcd static pod: old etcd exits", 0, 3 * time.Second}, {"etcd static pod: new etcd container starts", 3 * time.Second, 2 * time.Second}, {"etcd static pod: member serves", 5 * time.Second, 4 * time.Second}}
	if len(got) != len(want) {
		t.Fatalf("timings %v", names(got))
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Start.Sub(since) != w.from || got[i].End.Sub(got[i].Start) != w.for_ {
			t.Errorf("part %d: %s from %s for %s, want %s from %s for %s", i, got[i].Name, got[i].Start.Sub(since), got[i].End.Sub(got[i].Start), w.name, w.from, w.for_)
		}
	}
	// A new container seen starting before the old one was seen gone (the
	// kubelet removed it between polls) takes no negative time.
	rt = &restartTimer{since: since, sawStop: true, stopped: 6 * time.Second, sawNew: true, started: 5 * time.Second}
	if got := rt.timings(""); len(got) != 2 || got[1].End.Before(got[1].Start) {
		t.Errorf("out of order: %+v", got)
	}
	if (*restartTimer)(nil).timings("") != nil || newRestartTimer(time.Time{}).timings("") != nil {
		t.Error("timings of no restart")
	}
}

func TestTimingsTake(t *testing.T) {
	var ts timings
	_ = ts.timed("a", func() error { return nil })
	ts.add(cluster.Timing{Name: "b"})
	if got := names(ts.take()); strings.Join(got, "") != "ab" {
		t.Errorf("took %v", got)
	}
	if got := ts.take(); got != nil {
		t.Errorf("took again %v", got)
	}
}

// TestRestartTimerExitedAt checks that an exit read before the timer could
// look replaces what the timer guessed when it first found no old container.
func TestRestartTimerExitedAt(t *testing.T) {
	since := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	rt := &restartTimer{since: since, sawStop: true, stopped: 12 * time.Second, sawNew: true, started: 12 * time.Second, served: 13 * time.Second}
	rt.exitedAt(since.Add(9 * time.Second))
	ts := rt.timings("")
	if len(ts) != 3 || ts[0].Name != "old etcd exits" || ts[0].End.Sub(ts[0].Start) != 9*time.Second {
		t.Fatalf("timings %+v: want the old etcd exiting at 9s", ts)
	}
	if d := ts[1].End.Sub(ts[1].Start); d != 3*time.Second {
		t.Errorf("new container starts %s after the exit, want 3s", d)
	}
	(*restartTimer)(nil).exitedAt(since) // no panic
	rt.exitedAt(time.Time{})
	if rt.stopped != 9*time.Second {
		t.Errorf("a zero time changed the exit to %s", rt.stopped)
	}
}
