package cluster

import (
	"strings"
	"testing"
)

const (
	stuck    = `{"level":"warn","msg":"failed to publish local member to cluster through raft","error":"etcdserver: too many requests"}`
	peerDown = `{"level":"warn","msg":"prober detected unhealthy status","error":"dial tcp 127.0.0.1:1: connect: connection refused"}`
)

func TestEvidenceLine(t *testing.T) {
	fatal := `{"level":"fatal","ts":"2025-01-01T00:00:00Z","caller":"etcdmain/etcd.go:204","msg":"discovery failed","error":"membership: too many learner members in cluster"}`
	for _, tc := range []struct {
		name, log, want string
	}{
		{"fatal wins over later errors", `{"level":"info","msg":"starting"}` + "\n" + fatal + "\n" + `{"level":"error","msg":"later"}`, fatal},
		{"go panic", "{\"level\":\"info\",\"msg\":\"x\"}\npanic: membership: too many learner members in cluster\n\ngoroutine 1 [running]:", "panic: membership: too many learner members in cluster"},
		{"last error", `{"level":"error","msg":"a"}` + "\n" + `{"level":"error","msg":"b"}`, `{"level":"error","msg":"b"}`},
		{"stuck member repeats itself", strings.Repeat(stuck+"\n", 30) + strings.Repeat(peerDown+"\n", 100) + `{"level":"error","msg":"setting up serving from embedded etcd failed.","error":"mux: server closed"}`, stuck},
		{"healthy", `{"level":"info","msg":"serving"}`, ""},
		{"garbage", "not json\n{broken", ""},
	} {
		if got := EvidenceLine(tc.log); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if got, want := Summary(fatal), "discovery failed: membership: too many learner members in cluster"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if got := Summary("panic: x"); got != "panic: x" {
		t.Errorf("Summary of a plain line changed it: %q", got)
	}
}

func TestStripSnapshotHash(t *testing.T) {
	db := make([]byte, 3*bboltPageSize)
	if got := StripSnapshotHash(append(db, make([]byte, 32)...)); len(got) != len(db) {
		t.Errorf("len %d, want %d", len(got), len(db))
	}
	if got := StripSnapshotHash(db); len(got) != len(db) {
		t.Errorf("a db without hash was cut to %d", len(got))
	}
}
