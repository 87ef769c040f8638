package scenarios

import (
	"fmt"
	"regexp"

	"etcd-upgrade-e2e/framework/upgrade"
)

// The measured ways the matrix's paths fail, as signatures. Each names the
// step (for upgrade-failed) or the check (for inconsistent) and the line
// that identifies it; the scenarios' expectations pick theirs.

// listedShort: after the last member restarts at 3.6 it lists another with
// no client URLs (and often no name), while that member lists itself in
// full. The membership check compares the two records.
var listedShort = upgrade.Signature{
	Check: upgrade.CheckMembership,
	Line:  `says [0-9a-f]+ \S* ?voter peer=\S+ client=(;|$)`,
	Note:  "a member lists another with no client URLs: 3.5.1–3.5.19 never wrote them to the v3store",
}

// Member lines of the failures.
const (
	// tooManyLearners: a 3.6 member whose v3store lists promoted members as
	// learners refuses (or dies on) the next learner: etcd issue 19557.
	tooManyLearners = `too many learner members in cluster`
	// memberUnknown: a 3.6 member panics when a member its v3store does not
	// know publishes its attributes.
	memberUnknown = `failed to update; member unknown`
)

// joinFails: the hop fails while a new member joins (a learner added, then
// promoted), and one of the cluster's lines matches line.
func joinFails(hop int, target, line, note string) upgrade.Signature {
	return upgrade.Signature{
		Step: fmt.Sprintf(`^hop %d \([0-9.]+ → %s, replace\): join a new member`, hop, regexp.QuoteMeta(target)),
		Line: line,
		Note: note,
	}
}
