package audit

import (
	"fmt"
	"sort"
	"strings"
)

// CrossCheck says whether the data dirs of several members of one cluster
// agree with each other about membership.
type CrossCheck struct {
	DataDirs    []string `json:"data_dirs"`
	SameCluster bool     `json:"same_cluster"`
	V2Agree     bool     `json:"v2store_agree"`
	V3Agree     bool     `json:"v3store_agree"`
	// Differences has one line per member ID whose record differs between
	// data dirs, per store.
	Differences []string `json:"differences"`
	Advice      string   `json:"advice,omitempty"`
}

// Agree reports whether the dirs are of one cluster and agree in both stores.
func (c *CrossCheck) Agree() bool { return c.SameCluster && c.V2Agree && c.V3Agree }

// CrossCheckReports compares the membership the reports of several members'
// data dirs hold.
func CrossCheckReports(reports []*Report) *CrossCheck {
	c := &CrossCheck{SameCluster: true, Differences: []string{}}
	for _, r := range reports {
		c.DataDirs = append(c.DataDirs, r.DataDir)
		if r.ClusterID != reports[0].ClusterID {
			c.SameCluster = false
		}
	}
	if !c.SameCluster {
		var ids []string
		for _, r := range reports {
			ids = append(ids, fmt.Sprintf("%s in %s", r.ClusterID, r.DataDir))
		}
		c.Differences = append(c.Differences, "cluster IDs differ: "+strings.Join(ids, ", "))
	}
	v2 := crossDiffs("v2store", reports, func(r *Report) ([]Member, []ID) { return r.V2Members, r.V2Removed })
	v3 := crossDiffs("v3store", reports, func(r *Report) ([]Member, []ID) { return r.V3Members, r.V3Removed })
	c.V2Agree, c.V3Agree = len(v2) == 0, len(v3) == 0
	c.Differences = append(c.Differences, v2...)
	c.Differences = append(c.Differences, v3...)
	if !c.Agree() {
		c.Advice = CrossMemberAdvice
	}
	return c
}

func crossDiffs(store string, reports []*Report, view func(*Report) ([]Member, []ID)) []string {
	// Describe each ID per dir as "role peerURLs" (or removed, absent) and
	// report the IDs whose descriptions are not all equal.
	desc := map[ID][]string{}
	for i, r := range reports {
		members, removed := view(r)
		for _, m := range members {
			if desc[m.ID] == nil {
				desc[m.ID] = make([]string, len(reports))
			}
			desc[m.ID][i] = m.Role() + " " + urls(sortedCopy(m.PeerURLs))
		}
		for _, id := range removed {
			if desc[id] == nil {
				desc[id] = make([]string, len(reports))
			}
			desc[id][i] = "removed"
		}
	}
	ids := make([]ID, 0, len(desc))
	for id := range desc {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []string
	for _, id := range ids {
		d := desc[id]
		same := true
		for _, s := range d {
			same = same && s == d[0]
		}
		if same {
			continue
		}
		var parts []string
		for i, s := range d {
			if s == "" {
				s = "absent"
			}
			parts = append(parts, fmt.Sprintf("%s in %s", s, reports[i].DataDir))
		}
		out = append(out, fmt.Sprintf("%s %s: %s", store, id, strings.Join(parts, "; ")))
	}
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
