// Package check holds the checks an upgrade is judged by. Consistency means
// every member agrees: each member is asked for its own member list and the
// whole records (ID, name, peer URLs, client URLs, learner flag) are compared.
// One member's answer can look perfect while another's is wrong.
package check

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/internal/par"
)

// Record is one member as a member list states it.
type Record struct {
	ID         string   `json:"id"` // hex, as etcd prints it
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

func (r Record) String() string {
	role := "voter"
	if r.IsLearner {
		role = "learner"
	}
	return fmt.Sprintf("%s %s %s peer=%s client=%s", r.ID, r.Name, role, strings.Join(r.PeerURLs, ","), strings.Join(r.ClientURLs, ","))
}

// View is one member's own answer.
type View struct {
	Member string `json:"member"`
	// ID is the answering member's own ID (hex), from the answer's header.
	ID      string   `json:"id,omitempty"`
	Records []Record `json:"records,omitempty"`
	Err     string   `json:"error,omitempty"`
}

// MemberViews asks every current member for its own member list (a
// serializable request, answered from the member's local state). A member
// the provider knows has died is not asked: it could only time out, and
// its view records that it is not running and how it exited.
// The members are asked at once: on kind each question costs a docker exec
// and a TLS handshake (a check took 5-11 s one after another, 5.5 s at once).
func MemberViews(ctx context.Context, cl cluster.Cluster) []View {
	return par.Map(cl.Members(), func(_ int, m cluster.Member) View { return memberView(ctx, cl, m) })
}

func memberView(ctx context.Context, cl cluster.Cluster, m cluster.Member) View {
	v := View{Member: m.Name()}
	if err := cluster.NotRunning(cl, m); err != nil {
		v.Err = err.Error()
		return v
	}
	id, recs, err := memberList(ctx, cl, m)
	if err != nil {
		v.Err = err.Error()
	}
	v.ID, v.Records = id, recs
	return v
}

func memberList(ctx context.Context, cl cluster.Cluster, m cluster.Member) (string, []Record, error) {
	cli, err := cl.Client(ctx, m)
	if err != nil {
		return "", nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return "", nil, fmt.Errorf("member list from %s: %w", m.Name(), err)
	}
	recs := make([]Record, 0, len(resp.Members))
	for _, pm := range resp.Members {
		recs = append(recs, Record{
			ID:         strconv.FormatUint(pm.ID, 16),
			Name:       pm.Name,
			PeerURLs:   sortedCopy(pm.PeerURLs),
			ClientURLs: sortedCopy(pm.ClientURLs),
			IsLearner:  pm.IsLearner,
		})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	var self string
	if resp.Header != nil {
		self = strconv.FormatUint(resp.Header.MemberId, 16)
	}
	return self, recs, nil
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// Want is what the harness knows the membership should be.
type Want struct {
	// Current names the members the harness created and has not removed.
	Current []string
	// Promoted names the members the harness added as learners and promoted.
	Promoted map[string]bool
	// Settled says every membership change of the stage has completed: no
	// learner may be left, since every learner the harness added was
	// promoted.
	Settled bool
}

// CompareViews returns every way the views disagree with each other or with
// what the harness knows: a member that could not answer, records that differ
// between two members, a promoted member listed as a learner (in a settled
// stage, any learner), a member no step created or one already removed, and
// a current member missing from a list. An empty result means consistent.
func CompareViews(views []View, want Want) []string {
	var problems []string
	// A record is known when it is a current member: by the ID the member
	// gives itself, or by name when that member could not answer.
	knownID, current := map[string]bool{}, map[string]bool{}
	for _, c := range want.Current {
		current[c] = true
	}
	for _, v := range views {
		if v.ID != "" && current[v.Member] {
			knownID[v.ID] = true
		}
	}
	var ref *View
	for i := range views {
		v := &views[i]
		if v.Err != "" {
			problems = append(problems, fmt.Sprintf("%s: no member list: %s", v.Member, v.Err))
			continue
		}
		for _, r := range v.Records {
			switch {
			case r.IsLearner && want.Promoted[r.Name]:
				problems = append(problems, fmt.Sprintf("%s lists %s (%s) as a learner, but it was promoted", v.Member, r.Name, r.ID))
			case r.IsLearner && want.Settled:
				problems = append(problems, fmt.Sprintf("%s lists %s as a learner after every member was promoted", v.Member, r))
			}
			if !knownID[r.ID] && !current[r.Name] {
				problems = append(problems, fmt.Sprintf("%s lists %s, which is not a current member: no step created it, or it was removed", v.Member, r))
			}
		}
		names := map[string]bool{}
		for _, r := range v.Records {
			names[r.Name] = true
		}
		for _, c := range want.Current {
			if !names[c] {
				problems = append(problems, fmt.Sprintf("%s does not list member %s", v.Member, c))
			}
		}
		if ref == nil {
			ref = v
			continue
		}
		problems = append(problems, diffRecords(ref, v)...)
	}
	return problems
}

func diffRecords(a, b *View) []string {
	am, bm := byID(a.Records), byID(b.Records)
	ids := map[string]bool{}
	for id := range am {
		ids[id] = true
	}
	for id := range bm {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var out []string
	for _, id := range sorted {
		ra, oka := am[id]
		rb, okb := bm[id]
		switch {
		case !oka:
			out = append(out, fmt.Sprintf("%s lists %s, %s does not", b.Member, rb, a.Member))
		case !okb:
			out = append(out, fmt.Sprintf("%s lists %s, %s does not", a.Member, ra, b.Member))
		case ra.String() != rb.String():
			out = append(out, fmt.Sprintf("%s says %s; %s says %s", a.Member, ra, b.Member, rb))
		}
	}
	return out
}

func byID(recs []Record) map[string]Record {
	m := make(map[string]Record, len(recs))
	for _, r := range recs {
		m[r.ID] = r
	}
	return m
}
