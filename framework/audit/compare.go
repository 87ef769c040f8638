package audit

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// DiffKind names one way the two stores can disagree about a member.
type DiffKind string

const (
	// DiffPromotedInV2Only: a voter in the v2store, still a learner in the
	// v3store. This is the etcd issue 19557 signature.
	DiffPromotedInV2Only DiffKind = "promoted-in-v2store-only"
	// DiffLearnerInV2Only: a learner in the v2store, a voter in the v3store.
	DiffLearnerInV2Only DiffKind = "learner-in-v2store-only"
	// DiffOnlyInV2: a member of the v2store that the v3store does not list.
	DiffOnlyInV2 DiffKind = "only-in-v2store"
	// DiffOnlyInV3: a member of the v3store that the v2store does not list.
	DiffOnlyInV3 DiffKind = "only-in-v3store"
	// DiffRemovedInOneOnly: an ID in one store's removed list only.
	DiffRemovedInOneOnly DiffKind = "removed-in-one-store-only"
	// DiffPeerURLs: the member's peer URLs differ.
	DiffPeerURLs DiffKind = "peer-urls-differ"
	// DiffAttributes: the member's name or client URLs differ. It does not
	// change the verdict: etcd 3.5.19 and older never write a published
	// name or client URLs of an existing member to the v3store (the cause of
	// issue 19557 too), members publish them again at every start, and
	// etcd's own v2/v3 check (verifyV3StoreInSyncWithV2Store, 3.5.20+)
	// ignores them. The suite measured its one visible effect: after an
	// in-place 3.5.17 → 3.6 upgrade, the member upgraded last lists the
	// others without name or client URLs until they restart again.
	DiffAttributes DiffKind = "attributes-differ"
)

// AffectsVerdict reports whether the difference makes the data at-risk or
// inconsistent; see DiffAttributes.
func (k DiffKind) AffectsVerdict() bool { return k != DiffAttributes }

// Diff is one disagreement between the v2store and the v3store.
type Diff struct {
	MemberID ID       `json:"member_id"`
	Kind     DiffKind `json:"kind"`
	Detail   string   `json:"detail"`
}

func (d Diff) String() string { return fmt.Sprintf("%s: %s: %s", d.MemberID, d.Kind, d.Detail) }

// Verdict sums up an audit.
type Verdict string

const (
	// VerdictConsistent: both stores agree.
	VerdictConsistent Verdict = "consistent"
	// VerdictAtRisk: promoted members are still learners in the v3store
	// (etcd issue 19557); etcd 3.6 would see them as learners.
	VerdictAtRisk Verdict = "at-risk"
	// VerdictInconsistent: the stores differ in some other way.
	VerdictInconsistent Verdict = "inconsistent"
	// VerdictNoV2Store: an etcd 3.7 data dir, which keeps no v2store: its
	// membership is the v3store's alone. The v2-format copy 3.7 writes from
	// the v3store agrees with it, or could not be read (Report.NoV2Store
	// says which). A copy that disagrees is VerdictInconsistent.
	VerdictNoV2Store Verdict = "no-v2store"
)

// Sound says whether the verdict finds nothing wrong: both stores agree,
// or an etcd 3.7 data dir has only the v3store to keep.
func (v Verdict) Sound() bool { return v == VerdictConsistent || v == VerdictNoV2Store }

// compare lists every difference between the v2store and v3store views,
// ordered by member ID.
func compare(v2 map[ID]Member, v2Removed map[ID]bool, v3 map[ID]Member, v3Removed map[ID]bool) []Diff {
	ids := map[ID]bool{}
	for id := range v2 {
		ids[id] = true
	}
	for id := range v3 {
		ids[id] = true
	}
	for id := range v2Removed {
		ids[id] = true
	}
	for id := range v3Removed {
		ids[id] = true
	}
	diffs := []Diff{}
	for _, id := range sortedIDs(ids) {
		m2, in2 := v2[id]
		m3, in3 := v3[id]
		switch {
		case in2 && !in3:
			diffs = append(diffs, Diff{id, DiffOnlyInV2, fmt.Sprintf("%s %q %s is in the v2store only%s", m2.Role(), m2.Name, urls(m2.PeerURLs), removedNote(v3Removed[id], "v3store"))})
		case in3 && !in2:
			diffs = append(diffs, Diff{id, DiffOnlyInV3, fmt.Sprintf("%s %q %s is in the v3store only%s", m3.Role(), m3.Name, urls(m3.PeerURLs), removedNote(v2Removed[id], "v2store"))})
		case in2 && in3:
			diffs = append(diffs, memberDiffs(m2, m3)...)
		}
		if !in2 && !in3 && v2Removed[id] != v3Removed[id] {
			where := "v2store"
			if v3Removed[id] {
				where = "v3store"
			}
			diffs = append(diffs, Diff{id, DiffRemovedInOneOnly, "listed as removed in the " + where + " only"})
		}
	}
	return diffs
}

func memberDiffs(m2, m3 Member) []Diff {
	var diffs []Diff
	switch {
	case !m2.IsLearner && m3.IsLearner:
		diffs = append(diffs, Diff{m2.ID, DiffPromotedInV2Only, fmt.Sprintf("%q is a voter in the v2store but still a learner in the v3store (etcd issue 19557: the promotion never reached the v3store)", m2.Name)})
	case m2.IsLearner && !m3.IsLearner:
		diffs = append(diffs, Diff{m2.ID, DiffLearnerInV2Only, fmt.Sprintf("%q is a learner in the v2store but a voter in the v3store", m2.Name)})
	}
	if !sameSet(m2.PeerURLs, m3.PeerURLs) {
		diffs = append(diffs, Diff{m2.ID, DiffPeerURLs, fmt.Sprintf("peer URLs v2store %s, v3store %s", urls(m2.PeerURLs), urls(m3.PeerURLs))})
	}
	if m2.Name != m3.Name || !sameSet(m2.ClientURLs, m3.ClientURLs) {
		diffs = append(diffs, Diff{m2.ID, DiffAttributes, fmt.Sprintf("name/client URLs v2store %q %s, v3store %q %s (each member republishes its own at start-up, but a member that moves to 3.6 after the others lists them so until they restart again)", m2.Name, urls(m2.ClientURLs), m3.Name, urls(m3.ClientURLs))})
	}
	return diffs
}

func removedNote(removed bool, store string) string {
	if removed {
		return " (the " + store + " lists it as removed)"
	}
	return ""
}

func urls(u []string) string { return "[" + strings.Join(u, ",") + "]" }

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func verdictFor(diffs []Diff) Verdict {
	v := VerdictConsistent
	for _, d := range diffs {
		switch {
		case d.Kind == DiffPromotedInV2Only:
			return VerdictAtRisk
		case d.Kind.AffectsVerdict():
			v = VerdictInconsistent
		}
	}
	return v
}

// Learners returns the members of ms that are learners.
func Learners(ms []Member) []Member {
	var out []Member
	for _, m := range ms {
		if m.IsLearner {
			out = append(out, m)
		}
	}
	return out
}
