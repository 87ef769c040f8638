package check

import (
	"strings"
	"testing"
)

// Lines as etcd 3.5 (zap, JSON) and raft's own text logger write them.
const (
	raftLine1 = `{"level":"info","ts":"2026-11-30T12:00:01.000Z","logger":"raft","caller":"etcdserver/zap_raft.go:77","msg":"8e9e05c52164694d switched to configuration voters=(1)"}`
	raftLine2 = `{"level":"info","ts":"2026-11-30T12:00:02.000Z","logger":"raft","caller":"etcdserver/zap_raft.go:77","msg":"8e9e05c52164694d switched to configuration voters=(1) learners=(2)"}`
	raftLine3 = `{"level":"info","ts":"2026-11-30T12:00:03.000Z","logger":"raft","caller":"etcdserver/zap_raft.go:77","msg":"8e9e05c52164694d switched to configuration voters=(1) learners=(2 18)"}`
	raftJoint = `raft2026/11/30 12:00:04 INFO: 12 switched to configuration voters=(1 2)&&(1) autoleave`
	// etcd 3.7's raft writes the configuration's IDs in hex too.
	raft37 = `{"level":"info","ts":"2026-11-30T12:46:22.247376Z","logger":"raft","caller":"v3@v3.7.0/raft.go:1985","msg":"ff792db64be4ecdf switched to configuration voters=(7df7b98b6a7c0bf8 ff792db64be4ecdf) learners=(12)"}`
)

func TestLastRaftConfig(t *testing.T) {
	log := strings.Join([]string{raftLine1, `{"level":"info","msg":"added member"}`, raftLine2, raftLine3, `{"level":"info","msg":"published local member"}`}, "\n")
	rc, ok := LastRaftConfig(log)
	if !ok || rc.Line != raftLine3 {
		t.Fatalf("LastRaftConfig = %+v, %v; want the last configuration line", rc, ok)
	}
	if len(rc.Voters) != 1 || rc.Voters[0] != 1 || len(rc.Learners) != 2 || rc.Learners[1] != 18 {
		t.Errorf("voters %v learners %v, want [1] and [2 18]", rc.Voters, rc.Learners)
	}
	rc, ok = LastRaftConfig(raftJoint)
	if !ok || len(rc.Voters) != 3 || len(rc.Learners) != 0 {
		t.Errorf("joint configuration: %+v, %v", rc, ok)
	}
	rc, ok = LastRaftConfig(strings.Join([]string{raftLine3, raft37}, "\n"))
	if !ok || rc.Line != raft37 || len(rc.Voters) != 2 || rc.Voters[0] != 0x7df7b98b6a7c0bf8 || len(rc.Learners) != 1 || rc.Learners[0] != 0x12 {
		t.Errorf("etcd 3.7's hex configuration: %+v, %v", rc, ok)
	}
	if _, ok := LastRaftConfig(`{"level":"info","msg":"starting an etcd server"}`); ok {
		t.Error("a log without a configuration line gave one")
	}
}

// etcd issue 21694: every member lists cp2 and cp3 as voters (their records
// lost the learner flag), and raft still counts them learners. The member
// lists agree with each other, so only raft's own view shows it.
func TestCompareRaft(t *testing.T) {
	// IDs are hex in member lists, decimal in raft's line: 0x12 is 18.
	voters := []Record{rec("1", "cp1", false), rec("2", "cp2", false), rec("12", "cp3", false)}
	views := []View{{Member: "cp1", Records: voters}, {Member: "cp2", Records: voters}, {Member: "cp3", Err: "timeout"}}
	configs := []RaftConfig{
		{Member: "cp1", Voters: []uint64{1}, Learners: []uint64{2, 18}, Line: raftLine3},
		{Member: "cp2"}, // no configuration line in its log: not compared
	}
	if p := CompareViews(views[:2], Want{Current: []string{"cp1", "cp2", "cp3"}, Promoted: map[string]bool{"cp2": true, "cp3": true}, Settled: true}); len(p) != 0 {
		t.Fatalf("the member lists alone should agree: %q", p)
	}
	p := CompareRaft(views, configs)
	if len(p) != 2 || !containsAll(p, "cp1 lists cp2 (2) as a voter, but its raft counts it a learner (2); cp1 log: "+raftLine3, "cp1 lists cp3 (12) as a voter, but its raft counts it a learner (18)") {
		t.Fatalf("raft's learners listed as voters not reported: %q", p)
	}

	// A learner listed as a learner, voters as voters: nothing to report;
	// and the other way round is a contradiction too.
	agree := []Record{rec("1", "cp1", false), rec("2", "cp2", true)}
	if p := CompareRaft([]View{{Member: "cp1", Records: agree}}, []RaftConfig{{Member: "cp1", Voters: []uint64{1}, Learners: []uint64{2}, Line: raftLine2}}); len(p) != 0 {
		t.Errorf("agreeing list and raft reported: %q", p)
	}
	if p := CompareRaft([]View{{Member: "cp1", Records: agree}}, []RaftConfig{{Member: "cp1", Voters: []uint64{1, 2}, Line: raftLine1}}); !containsAll(p, "cp1 lists cp2 (2) as a learner, but its raft counts it a voter") {
		t.Errorf("a raft voter listed as a learner not reported: %q", p)
	}
}
