package audit

import "fmt"

// All operator advice lives here so it stays in step with the sources it
// cites: etcd issues 19557 and 20793 and the etcd blog of 2025-03-27, "How to
// Prevent a Common Failure when Upgrading etcd v3.5 to v3.6".
const (
	adviceAtRisk = "Promoted members are still learners in the v3store, which etcd 3.6 reads (etcd issue 19557). " +
		"Upgrade every member to etcd 3.5.24 or later before upgrading to 3.6 " +
		"(3.5.20+ repairs the v3store at start-up; 3.5.24+ also fixes snapshots sent to new members, etcd issue 20793). " +
		"Do not add or replace members from a member running 3.5.19 or older. " +
		"See the etcd blog (2025-03-27): How to Prevent a Common Failure when Upgrading etcd v3.5 to v3.6."

	adviceTooManyLearners = " With %d learners in the v3store, an etcd 3.6 member refuses to start: " +
		"\"membership: too many learner members in cluster\"."

	adviceInconsistent = "The v2store (read by etcd 3.5) and the v3store (read by etcd 3.6) disagree in a way " +
		"etcd issue 19557 does not explain; etcd 3.6 will use the v3store view. " +
		"Compare with the other members' data dirs and `etcdctl member list` before upgrading."

	adviceConsistent = "Both stores agree. Members running etcd 3.5.19 or older still write later promotions " +
		"to the v2store only (etcd issue 19557): upgrade to 3.5.24 or later before promoting, adding or replacing members."

	adviceNoV2Store = "etcd 3.7 keeps no v2store: this member's membership is its v3store, and nothing else can repair it. " +
		"Compare the members' data dirs with each other (etcd-audit with several data dirs) and `etcdctl member list` on every member."
)

// maxLearnersDefault is etcd's default --max-learners.
const maxLearnersDefault = 1

func adviceFor(r *Report) string {
	switch r.Verdict {
	case VerdictAtRisk:
		a := adviceAtRisk
		if n := len(Learners(r.V3Members)); n > maxLearnersDefault {
			a += fmt.Sprintf(adviceTooManyLearners, n)
		}
		return a
	case VerdictInconsistent:
		return adviceInconsistent
	case VerdictNoV2Store:
		return adviceNoV2Store
	default:
		return adviceConsistent
	}
}

// CrossMemberAdvice is the advice when data dirs of one cluster disagree with
// each other about membership.
const CrossMemberAdvice = "The data dirs disagree about membership. A member that was stopped behind the others " +
	"can explain a v2store difference; a v3store difference means some members would start etcd 3.6 with another " +
	"membership than the rest. Audit fresh copies taken with every member stopped before upgrading."
