package check

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/internal/par"
)

// A member keeps the membership twice: its member list (what MemberList
// answers, from its membership store) and raft's configuration (which
// members vote). They agree unless a bug rewrites one of them: in etcd
// issue 21694 a MemberUpdate on a learner clears its learner flag in the
// member list while raft still counts it a learner, so the list shows a
// voter that never votes. Raft says which members vote only in its own log,
// on every configuration change and at every start:
//
//	8e9e05c52164694d switched to configuration voters=(10276657743932975437) learners=(1564427366540523012)
//
// (the logging member's ID in hex; the configuration's IDs in decimal from
// etcd 3.5's and 3.6's raft, in hex from 3.7's, go.etcd.io/raft 3.7).

// RaftConfig is raft's configuration as one member last logged it.
type RaftConfig struct {
	Member   string   `json:"member"`
	Voters   []uint64 `json:"voters,omitempty"`
	Learners []uint64 `json:"learners,omitempty"`
	// Line is the member's own log line the configuration was read from;
	// "" when its log held none (or could not be read: Err).
	Line string `json:"line,omitempty"`
	Err  string `json:"error,omitempty"`
}

// raftConfigLine matches raft's configuration line: the logging member's
// ID, the voters (a joint configuration has two sets, joined by &&) and the
// learners.
var raftConfigLine = regexp.MustCompile(`([0-9a-f]+) switched to configuration voters=\(([0-9a-f ]*)\)(?:&&\(([0-9a-f ]*)\))?(?: learners=\(([0-9a-f ]*)\))?`)

// LastRaftConfig reads the last configuration raft logged in log.
func LastRaftConfig(log string) (RaftConfig, bool) {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		sm := raftConfigLine.FindStringSubmatch(lines[i])
		if sm == nil {
			continue
		}
		base := raftIDBase(sm[1], strings.Join(sm[2:], " "))
		return RaftConfig{Voters: append(raftIDs(sm[2], base), raftIDs(sm[3], base)...), Learners: raftIDs(sm[4], base), Line: strings.TrimSpace(lines[i])}, true
	}
	return RaftConfig{}, false
}

// raftIDBase says how a configuration line writes its IDs: hex (raft 3.7)
// when one has a hex letter or is the logging member's own hex ID (a member
// is in its own configuration), decimal otherwise.
func raftIDBase(self, ids string) int {
	for _, f := range strings.Fields(ids) {
		if f == self || strings.ContainsAny(f, "abcdef") {
			return 16
		}
	}
	return 10
}

func raftIDs(s string, base int) []uint64 {
	var ids []uint64
	for _, f := range strings.Fields(s) {
		if id, err := strconv.ParseUint(f, base, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// RaftConfigs reads every current member's last raft configuration from its
// own log, at once. A member the provider knows has died is not read: its
// member list is not read either.
func RaftConfigs(ctx context.Context, cl cluster.Cluster) []RaftConfig {
	return par.Map(cl.Members(), func(_ int, m cluster.Member) RaftConfig {
		rc := RaftConfig{Member: m.Name()}
		if err := cluster.NotRunning(cl, m); err != nil {
			rc.Err = err.Error()
			return rc
		}
		log, err := cl.Logs(ctx, m)
		if err != nil {
			rc.Err = err.Error()
			return rc
		}
		if c, ok := LastRaftConfig(log); ok {
			c.Member = m.Name()
			return c
		}
		return rc
	})
}

// CompareRaft returns every member of a member's own list whose learner
// flag that member's raft contradicts: listed as a voter while raft counts
// it a learner, or the other way round. Members raft does not name, and
// members whose log held no configuration, are not compared.
func CompareRaft(views []View, configs []RaftConfig) []string {
	byMember := map[string]RaftConfig{}
	for _, c := range configs {
		byMember[c.Member] = c
	}
	var problems []string
	for _, v := range views {
		rc, ok := byMember[v.Member]
		if v.Err != "" || !ok || rc.Line == "" {
			continue
		}
		role := map[uint64]string{}
		for _, id := range rc.Voters {
			role[id] = "voter"
		}
		for _, id := range rc.Learners {
			role[id] = "learner"
		}
		for _, r := range v.Records {
			id, err := strconv.ParseUint(r.ID, 16, 64)
			if err != nil {
				continue
			}
			listed := "voter"
			if r.IsLearner {
				listed = "learner"
			}
			if raft, ok := role[id]; ok && raft != listed {
				problems = append(problems, fmt.Sprintf("%s lists %s (%s) as a %s, but its raft counts it a %s (%d); %s log: %s", v.Member, r.Name, r.ID, listed, raft, id, v.Member, rc.Line))
			}
		}
	}
	return problems
}
