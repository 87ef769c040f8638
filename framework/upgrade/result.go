package upgrade

import (
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
	// UpgradeFailed: a member would not start or serve, or the cluster lost
	// quorum, during the upgrade.
	UpgradeFailed Verdict = "upgrade-failed"
)

// Verdicts lists the verdicts.
var Verdicts = []Verdict{Consistent, Inconsistent, UpgradeFailed}

// Step is one timed operation of a run.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
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
	Stage    string       `json:"stage"`
	Views    []check.View `json:"views"`
	Problems []string     `json:"problems,omitempty"`
	LostKeys []string     `json:"lostKeys,omitempty"`
}

// FaultRecord says which fault was injected when.
type FaultRecord struct {
	Fault  string  `json:"fault"`
	At     string  `json:"at"`
	Member string  `json:"member,omitempty"`
	Second float64 `json:"second"`
	Error  string  `json:"error,omitempty"`
}

// Result is the judged outcome of one path.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// FailedStep names the step an upgrade failed at.
	FailedStep string `json:"failedStep,omitempty"`
	// Evidence are the lines the verdict rests on: the member's own error
	// line, membership differences, audit differences, lost keys.
	Evidence    []string      `json:"evidence,omitempty"`
	Steps       []Step        `json:"steps"`
	Checks      []CheckRecord `json:"checks"`
	Audits      []AuditRecord `json:"audits"`
	Faults      []FaultRecord `json:"faults,omitempty"`
	KeysWritten int           `json:"keysWritten"`
	Seconds     float64       `json:"seconds"`
}
