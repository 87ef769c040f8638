package kind

import (
	"testing"
	"time"
)

func TestDiedOnItsOwn(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	old := etcdContainer{ID: "old", Created: t0, Started: t0, Finished: t0.Add(time.Minute), ExitCode: 0}
	running := etcdContainer{ID: "new", Attempt: 0, Created: t0.Add(time.Minute), Started: t0.Add(time.Minute)}
	panicked := etcdContainer{ID: "new", Attempt: 2, Created: t0.Add(time.Minute), Started: t0.Add(time.Minute), Finished: t0.Add(2 * time.Minute), ExitCode: 2}
	killed := etcdContainer{ID: "new", Created: t0.Add(time.Minute), Started: t0.Add(time.Minute), Finished: t0.Add(2 * time.Minute), ExitCode: 137}
	for _, tc := range []struct {
		name      string
		cs        []etcdContainer
		inPlace   bool
		wantDied  bool
		wantAttem int
	}{
		{name: "no container yet", inPlace: true},
		{name: "running after an upgrade's restart", cs: []etcdContainer{old, running}, inPlace: true},
		{name: "clean exit of an upgrade's restart", cs: []etcdContainer{old}, inPlace: true},
		{name: "panicked, manifest in place", cs: []etcdContainer{old, panicked}, inPlace: true, wantDied: true, wantAttem: 2},
		{name: "killed by the harness, manifest moved aside", cs: []etcdContainer{old, killed}, inPlace: false},
		{name: "restarted by the kubelet after a crash", cs: []etcdContainer{old, panicked, running}, inPlace: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, died := diedOnItsOwn(tc.cs, tc.inPlace)
			if died != tc.wantDied {
				t.Fatalf("died = %v, want %v", died, tc.wantDied)
			}
			if died && ct.Attempt != tc.wantAttem {
				t.Fatalf("reported run %d, want %d", ct.Attempt, tc.wantAttem)
			}
		})
	}
}
