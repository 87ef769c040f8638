package upgrade

import (
	"fmt"
	"strings"

	"etcd-upgrade-e2e/framework/check"
)

// Verdict is the outcome of one path.
type Verdict string

const (
	// Consistent: every step worked, every member agrees on the membership,
	// no promoted member is a learner again, no key was lost, and the
	// offline audit finds both stores in agreement after the last hop.
	Consistent Verdict = "consistent"
	// Inconsistent: the cluster runs, but membership or data differ.
	Inconsistent Verdict = "inconsistent"
	// UpgradeFailed: during a hop a member would not start or serve, or the
	// cluster refused or failed an operation, and said so itself: a member's
	// own error line or an etcd server error is the evidence.
	UpgradeFailed Verdict = "upgrade-failed"
	// HarnessError: the run measured nothing about the upgrade. The harness
	// itself failed (a deadline of its own, Docker, ports, kubeadm before
	// etcd was reached, a failed setup write, a fault that never fired, an
	// audit that could not read a copy after the last hop), or the starting
	// cluster could not be built. It never equals an expectation.
	HarnessError Verdict = "harness-error"
)

// Verdicts lists the verdicts a path can be expected to give. HarnessError
// is not one of them.
var Verdicts = []Verdict{Consistent, Inconsistent, UpgradeFailed}

// Step is one timed operation of a run.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
	// Note is what the cluster answered a step that succeeded, where that
	// is evidence (etcd's answer to a downgrade request).
	Note string `json:"note,omitempty"`
	// Substeps are the parts of the step the provider timed (kind: kind's
	// create stages, kubeadm's phases, an etcd static pod's restart).
	Substeps []Substep `json:"substeps,omitempty"`
}

// AuditRecord is the offline audit of one member's data at one stage.
type AuditRecord struct {
	Stage   string   `json:"stage"`
	Member  string   `json:"member"`
	Version string   `json:"version"`
	Verdict string   `json:"verdict"`
	Diffs   []string `json:"diffs,omitempty"`
	Report  string   `json:"report"` // file with the full JSON report
	Error   string   `json:"error,omitempty"`
}

// CheckRecord is the live membership check at one stage.
type CheckRecord struct {
	Stage string       `json:"stage"`
	Views []check.View `json:"views"`
	// Raft is each member's raft configuration, from its own log.
	Raft     []check.RaftConfig `json:"raft,omitempty"`
	Problems []string           `json:"problems,omitempty"`
	LostKeys []string           `json:"lostKeys,omitempty"`
}

// FaultRecord says whether, when and on which member a fault fired.
type FaultRecord struct {
	Fault  string  `json:"fault"`
	At     string  `json:"at"`
	Fired  bool    `json:"fired"`
	Member string  `json:"member,omitempty"`
	Second float64 `json:"second"` // when it fired (or was armed, if it never did)
	Error  string  `json:"error,omitempty"`
}

// Line is one line in the cluster's own words, with where it comes from: a
// member's log ("3517-cp4 log"), the etcd API's answer to an operation
// ("etcd API"), or a tool relaying it ("kubeadm join on ...-control-plane5").
type Line struct {
	Source string `json:"source"`
	Text   string `json:"text"`
}

func (l Line) String() string { return l.Source + ": " + l.Text }

// Failure says where a path stopped and why.
type Failure struct {
	// Step is the failed step as announced, e.g. "hop 1 (3.5.17 → 3.6.5,
	// replace): join a new member at etcd 3.6.5 (...)".
	Step string `json:"step"`
	// Hop is the 1-based hop the step belongs to; 0 while the starting
	// cluster is set up.
	Hop int `json:"hop"`
	// Member and Op name the member operation that failed, when one did.
	Member string `json:"member,omitempty"`
	Op     string `json:"op,omitempty"`
	Error  string `json:"error"`
	// Lines are the cluster's own words about the failure: the failing
	// operation's line first, then every member's own error line.
	Lines []Line `json:"lines,omitempty"`
	// Cause says, for a harness error, why the run measured nothing.
	Cause string `json:"cause,omitempty"`
}

// Headline is the line that says most about the failure: a member that
// died before one that refused, the first of equals.
func (f *Failure) Headline() (Line, bool) {
	best, ok := Line{}, false
	for _, l := range f.Lines {
		if !ok || severity(l.Text) > severity(best.Text) {
			best, ok = l, true
		}
	}
	return best, ok
}

// Finding is one thing a check found wrong after the last hop.
type Finding struct {
	// Check is one of Checks.
	Check string `json:"check"`
	Stage string `json:"stage"`
	Text  string `json:"text"`
}

// The checks a finding comes from.
const (
	// CheckMembership: every member's own member list, compared record by
	// record with the others' and with what the harness created.
	CheckMembership = "membership"
	// CheckKeys: every key written, read back through each member.
	CheckKeys = "keys"
	// CheckAudit: the offline audit of each member's v2store against its
	// v3store.
	CheckAudit = "audit"
	// CheckRaft: each member's member list against its raft's own
	// configuration (which members vote), from the member's log.
	CheckRaft = "raft"
)

// Checks lists the checks.
var Checks = []string{CheckMembership, CheckKeys, CheckAudit, CheckRaft}

// Result is the judged outcome of one path.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// FailedStep names the step the run stopped at (upgrade-failed and
	// harness-error).
	FailedStep string `json:"failedStep,omitempty"`
	// Failure is why the run stopped (upgrade-failed and harness-error).
	Failure *Failure `json:"failure,omitempty"`
	// Findings are what the checks found after the hops (inconsistent).
	Findings []Finding `json:"findings,omitempty"`
	// Evidence are the lines the verdict rests on, for people: the failure
	// and the cluster's own lines, or the findings.
	Evidence    []string      `json:"evidence,omitempty"`
	Steps       []Step        `json:"steps"`
	Checks      []CheckRecord `json:"checks"`
	Audits      []AuditRecord `json:"audits"`
	Faults      []FaultRecord `json:"faults,omitempty"`
	KeysWritten int           `json:"keysWritten"`
	Seconds     float64       `json:"seconds"`
}

// Signature renders what the run measured in the terms of a Signature, for
// a report that sets expected and measured side by side.
func (r Result) Signature() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict %s", r.Verdict)
	if f := r.Failure; f != nil {
		fmt.Fprintf(&b, "\n  step:  %s", f.Step)
		if f.Cause != "" {
			fmt.Fprintf(&b, "\n  cause: %s", f.Cause)
		}
		fmt.Fprintf(&b, "\n  error: %s", f.Error)
		for _, l := range f.Lines {
			fmt.Fprintf(&b, "\n  line:  %s", l)
		}
	}
	for _, fd := range r.Findings {
		fmt.Fprintf(&b, "\n  %s check (%s): %s", fd.Check, fd.Stage, fd.Text)
	}
	return b.String()
}
