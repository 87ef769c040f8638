// Package report writes the matrix of verdicts a run produced: matrix.json
// for machines and matrix.md for people, next to ginkgo's junit_e2e.xml.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"etcd-upgrade-e2e/framework/cluster"
)

// Row is one path run.
type Row struct {
	Name     string   `json:"name"`
	Provider string   `json:"provider"`
	Path     []string `json:"path"`
	Strategy string   `json:"strategy"`
	Verdict  string   `json:"verdict"`
	Expected string   `json:"expected"`
	// AsExpected says the verdict and its signature matched the
	// expectation.
	AsExpected bool `json:"asExpected"`
	// Signature is the expected signature the run showed.
	Signature string `json:"signature,omitempty"`
	// Cause says why a harness-error measured nothing.
	Cause string `json:"cause,omitempty"`
	// LineSource and Line are the cluster's own line a failure rests on
	// (the one that says most), or the first finding of an inconsistency.
	LineSource string   `json:"lineSource,omitempty"`
	Line       string   `json:"line,omitempty"`
	Evidence   []string `json:"evidence"`
	Seconds    float64  `json:"seconds"`
	// FailedStep names the step an upgrade failed at.
	FailedStep string `json:"failedStep,omitempty"`
	// Faults lists the faults injected, with when.
	Faults []string `json:"faults,omitempty"`
	// Artifacts is the spec's folder.
	Artifacts string `json:"artifacts,omitempty"`
	// Reproduce is the command that runs this path alone.
	Reproduce string `json:"reproduce,omitempty"`
}

// Sort orders rows by provider, then name.
func Sort(rows []Row) {
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Provider != rows[j].Provider {
			return rows[i].Provider < rows[j].Provider
		}
		return rows[i].Name < rows[j].Name
	})
}

// Write writes matrix.json and matrix.md into dir.
func Write(dir string, rows []Row) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	Sort(rows)
	if rows == nil {
		rows = []Row{}
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "matrix.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "matrix.md"), []byte(Markdown(rows)), 0o644)
}

// Merge adds rows to the matrix.json in dir, replacing rows of the same
// scenario and provider, and rewrites matrix.json and matrix.md.
func Merge(dir string, rows []Row) error {
	old, err := Read(filepath.Join(dir, "matrix.json"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	key := func(r Row) string { return r.Provider + "\x00" + r.Name }
	seen := map[string]bool{}
	for _, r := range rows {
		seen[key(r)] = true
	}
	for _, r := range old {
		if !seen[key(r)] {
			rows = append(rows, r)
		}
	}
	return Write(dir, rows)
}

// Read loads a matrix.json.
func Read(path string) ([]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []Row
	return rows, json.Unmarshal(b, &rows)
}

// Markdown renders the rows as a table a person reads; the evidence column
// carries the first line of evidence, shortened.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| name | path | provider | strategy | verdict | expected | seconds | evidence |\n")
	b.WriteString("|---|---|---|---|---|---|---:|---|\n")
	for _, r := range rows {
		mark := ""
		if !r.AsExpected {
			mark = " ✗"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s%s | %s | %.1f | %s |\n",
			r.Name, strings.Join(r.Path, " → "), r.Provider, r.Strategy, r.Verdict, mark, r.Expected, r.Seconds, cell(firstEvidence(r)))
	}
	return b.String()
}

// firstEvidence prefers the cause of a harness error, then the cluster's own
// line (a member's log line shortened to its message and error), over the
// harness's words.
func firstEvidence(r Row) string {
	switch {
	case r.Cause != "":
		return "harness error: " + r.Cause
	case r.Line != "" && r.LineSource != "":
		return r.LineSource + ": " + cluster.Summary(r.Line)
	case r.Line != "":
		return r.Line
	case len(r.Evidence) == 0:
		return ""
	}
	e := r.Evidence[0]
	for _, x := range r.Evidence {
		if i := strings.Index(x, " log: "); i >= 0 {
			e = x[:i] + ": " + cluster.Summary(x[i+len(" log: "):])
			break
		}
	}
	return e
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}
