package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable renders the report as a short human-readable text: one row per
// member ID with its role in each store, then the differences, the verdict
// and the advice.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "data dir:  %s\n", r.DataDir)
	fmt.Fprintf(&b, "member:    %s of cluster %s\n", r.LocalID, r.ClusterID)
	fmt.Fprintf(&b, "versions:  cluster %s (v2store), %s (v3store); storage version %s\n",
		orNone(r.Versions.ClusterV2), orNone(r.Versions.ClusterV3), orValue(r.Versions.Storage, "not set (not written by etcd 3.6)"))
	snapshot := "no snapshot"
	if r.Source.Snapshot != "" {
		snapshot = fmt.Sprintf("%s (index %d, term %d)", r.Source.Snapshot, r.Source.SnapshotIndex, r.Source.SnapshotTerm)
	}
	if r.NoV2Store != "" {
		fmt.Fprintf(&b, "v2store:   %s\n", r.NoV2Store)
		fmt.Fprintf(&b, "v2 copy:   %s + %d committed WAL entries (%d membership changes)\n", snapshot, r.Source.EntriesReplayed, len(r.Changes))
	} else {
		fmt.Fprintf(&b, "v2store:   %s + %d committed WAL entries (%d membership changes)\n", snapshot, r.Source.EntriesReplayed, len(r.Changes))
	}
	fmt.Fprintf(&b, "v3store:   member/snap/db (consistent index %d)\n", r.Source.ConsistentIndex)
	if r.Source.WALTornTail {
		b.WriteString("warning:   the WAL ends in a partly written record (crash or incomplete copy); it is ignored, as etcd does\n")
	}
	for _, s := range r.Source.SkippedSnapshots {
		fmt.Fprintf(&b, "skipped:   %s\n", s)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tV2STORE\tV3STORE\tPEER URLS")
	v2, v3 := byID(r.V2Members), byID(r.V3Members)
	for _, id := range r.allIDs() {
		m, ok := v2[id]
		if !ok {
			m = v3[id]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, orValue(m.Name, "-"),
			status(v2, r.V2Removed, id), status(v3, r.V3Removed, id), strings.Join(m.PeerURLs, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Diffs) > 0 {
		b.WriteString("\ndifferences:\n")
		for _, d := range r.Diffs {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	fmt.Fprintf(&b, "\nverdict:   %s\n", r.Verdict)
	if r.Advice != "" {
		fmt.Fprintf(&b, "advice:    %s\n", r.Advice)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) allIDs() []ID {
	ids := map[ID]bool{}
	for _, ms := range [][]Member{r.V2Members, r.V3Members} {
		for _, m := range ms {
			ids[m.ID] = true
		}
	}
	for _, rs := range [][]ID{r.V2Removed, r.V3Removed} {
		for _, id := range rs {
			ids[id] = true
		}
	}
	return sortedIDs(ids)
}

func byID(ms []Member) map[ID]Member {
	out := make(map[ID]Member, len(ms))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out
}

func status(members map[ID]Member, removed []ID, id ID) string {
	if m, ok := members[id]; ok {
		return m.Role()
	}
	for _, r := range removed {
		if r == id {
			return "removed"
		}
	}
	return "-"
}

func orNone(s string) string { return orValue(s, "none") }

func orValue(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
