package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"etcd-upgrade-e2e/framework/report"
	"etcd-upgrade-e2e/scenarios"
)

// The suite writes its own junit file (ReportAfterSuite, -junit), instead of
// ginkgo's --junit-report: each path has one test case whose name never
// changes when labels or the fast selection change ("<scenario>
// [<provider>]"), carrying the expected verdict with its signatures and
// what the run measured as properties; a last test case, "upgrade matrix",
// carries the matrix table. ginkgo renders each spec's state, failure and
// timeline; this file only renames the cases and adds what ginkgo cannot.

// upgradePathsText is the container of the path specs.
const upgradePathsText = "etcd 3.5 → 3.6 upgrade paths"

// matrixCaseName names the summary test case.
const matrixCaseName = "upgrade matrix"

// pathSpecText is the text of a path spec: the scenario and the provider,
// nothing that a label or the fast selection changes.
func pathSpecText(scenario, provider string) string { return scenario + " [" + provider + "]" }

// parsePathSpecText reverses pathSpecText.
func parsePathSpecText(s string) (scenario, provider string, ok bool) {
	i := strings.LastIndex(s, " [")
	if i <= 0 || !strings.HasSuffix(s, "]") {
		return "", "", false
	}
	return s[:i], s[i+2 : len(s)-1], true
}

// junitSuites is ginkgo's junit document with properties on test cases,
// which ginkgo's JUnitTestCase lacks and Prow's junit parser reads.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Disabled int          `xml:"disabled,attr"`
	Errors   int          `xml:"errors,attr"`
	Failures int          `xml:"failures,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string                    `xml:"name,attr"`
	Package    string                    `xml:"package,attr"`
	Tests      int                       `xml:"tests,attr"`
	Disabled   int                       `xml:"disabled,attr"`
	Skipped    int                       `xml:"skipped,attr"`
	Errors     int                       `xml:"errors,attr"`
	Failures   int                       `xml:"failures,attr"`
	Time       float64                   `xml:"time,attr"`
	Timestamp  string                    `xml:"timestamp,attr"`
	Properties reporters.JUnitProperties `xml:"properties"`
	Cases      []junitCase               `xml:"testcase"`
}

type junitCase struct {
	Name       string                     `xml:"name,attr"`
	Classname  string                     `xml:"classname,attr"`
	Status     string                     `xml:"status,attr"`
	Time       float64                    `xml:"time,attr"`
	Properties *reporters.JUnitProperties `xml:"properties,omitempty"`
	Skipped    *reporters.JUnitSkipped    `xml:"skipped,omitempty"`
	Error      *reporters.JUnitError      `xml:"error,omitempty"`
	Failure    *reporters.JUnitFailure    `xml:"failure,omitempty"`
	SystemOut  string                     `xml:"system-out,omitempty"`
	SystemErr  string                     `xml:"system-err,omitempty"`
}

// property returns the first value of a case's property name.
func (c junitCase) property(name string) string {
	if c.Properties == nil {
		return ""
	}
	return c.Properties.WithName(name)
}

// junitInput is what the junit file is made of.
type junitInput struct {
	Report types.Report
	// Rows are the matrix rows of this run, keyed by the spec they came
	// from; All are every row of the matrix (with -merge-matrix, an earlier
	// suite's too), for the table.
	All       []report.Row
	Scenarios []scenarios.Scenario
	// Artifacts is the artifacts dir: folders are given relative to it.
	Artifacts string
}

// buildJUnit renders the suite's report as ginkgo does, then names every
// case stably and adds the properties and the summary case.
func buildJUnit(in junitInput) (junitSuites, error) {
	r := in.Report
	var specs []types.SpecReport
	for _, s := range r.SpecReports {
		if keepInJUnit(s, r.SuiteConfig) {
			specs = append(specs, s)
		}
	}
	r.SpecReports = specs

	tmp, err := os.CreateTemp("", "ginkgo-junit-*.xml")
	if err != nil {
		return junitSuites{}, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := reporters.GenerateJUnitReportWithConfig(r, tmp.Name(), reporters.JunitReportConfig{
		OmitSpecLabels:                     true,
		OmitLeafNodeType:                   true,
		OmitSpecSemVerConstraints:          true,
		OmitSpecComponentSemVerConstraints: true,
		// A passed path's timeline is its artifacts folder's business;
		// the file stays small and shows what failed.
		OmitTimelinesForSpecState: types.SpecStatePassed | types.SpecStateSkipped | types.SpecStatePending,
	}); err != nil {
		return junitSuites{}, err
	}
	raw, err := os.ReadFile(tmp.Name())
	if err != nil {
		return junitSuites{}, err
	}
	var gk reporters.JUnitTestSuites
	if err := xml.Unmarshal(raw, &gk); err != nil {
		return junitSuites{}, fmt.Errorf("reading ginkgo's junit: %w", err)
	}
	if len(gk.TestSuites) != 1 || len(gk.TestSuites[0].TestCases) != len(specs) {
		return junitSuites{}, fmt.Errorf("ginkgo's junit has %d suites, want one with %d cases", len(gk.TestSuites), len(specs))
	}
	gs := gk.TestSuites[0]
	suite := junitSuite{
		Name: gs.Name, Package: gs.Package, Time: gs.Time, Timestamp: gs.Timestamp, Properties: gs.Properties,
	}
	var ran []report.Row
	for i, tc := range gs.TestCases {
		c := junitCase{
			Name: junitCaseName(specs[i]), Classname: tc.Classname, Status: tc.Status, Time: tc.Time,
			Skipped: tc.Skipped, Error: tc.Error, Failure: tc.Failure, SystemOut: tc.SystemOut, SystemErr: tc.SystemErr,
		}
		if neverRun(specs[i]) && c.Skipped != nil {
			c.Skipped.Message = "skipped - not run: the suite was interrupted or ran out of its time (--timeout) before it"
		}
		rows := specRows(specs[i])
		ran = append(ran, rows...)
		if props := in.pathProperties(specs[i], rows); len(props) > 0 {
			c.Properties = &reporters.JUnitProperties{Properties: props}
		}
		suite.Cases = append(suite.Cases, c)
	}
	if mc, ok := matrixCase(gs.Name, ran, in.All); ok {
		suite.Cases = append(suite.Cases, mc)
	}
	out := junitSuites{Time: suite.Time}
	for _, c := range suite.Cases {
		suite.Tests++
		switch {
		case c.Skipped != nil && c.Skipped.Message == "pending":
			suite.Disabled++
		case c.Skipped != nil:
			suite.Skipped++
		case c.Error != nil, c.Failure != nil && c.Failure.Type == "aborted":
			suite.Errors++
		case c.Failure != nil:
			suite.Failures++
		}
	}
	out.Tests, out.Disabled, out.Errors, out.Failures = suite.Tests, suite.Disabled+suite.Skipped, suite.Errors, suite.Failures
	out.Suites = []junitSuite{suite}
	return out, nil
}

// keepInJUnit leaves out what is not a test of this run: setup nodes that
// passed, and specs the label filter or focus did not select, which ginkgo
// reports as skipped without ever trying them. A spec skipped for a reason
// (Skip) stays, and so does a selected spec the suite never reached
// (interrupted, or out of its --timeout).
func keepInJUnit(s types.SpecReport, cfg types.SuiteConfig) bool {
	if s.LeafNodeType != types.NodeTypeIt {
		return s.State.Is(types.SpecStateFailureStates)
	}
	return !neverRun(s) || selected(s, cfg)
}

// neverRun says ginkgo skipped a spec without trying it and without a
// reason: not selected, or not reached.
func neverRun(s types.SpecReport) bool {
	return s.State == types.SpecStateSkipped && s.NumAttempts == 0 && s.Failure.Message == ""
}

// selected applies the run's label filter, focus and skip patterns to a
// spec, as ginkgo does.
func selected(s types.SpecReport, cfg types.SuiteConfig) bool {
	if cfg.LabelFilter != "" {
		if f, err := types.ParseLabelFilter(cfg.LabelFilter); err == nil && !f(s.Labels()) {
			return false
		}
	}
	text := s.FullText()
	if len(cfg.FocusStrings) > 0 {
		re, err := regexp.Compile(strings.Join(cfg.FocusStrings, "|"))
		if err == nil && !re.MatchString(text) {
			return false
		}
	}
	if len(cfg.SkipStrings) > 0 {
		re, err := regexp.Compile(strings.Join(cfg.SkipStrings, "|"))
		if err == nil && re.MatchString(text) {
			return false
		}
	}
	return true
}

// junitCaseName is a spec's stable name: "<scenario> [<provider>]" for a
// path, the spec's text for any other spec, "[<node type>]" for a suite
// node that failed.
func junitCaseName(s types.SpecReport) string {
	switch {
	case s.LeafNodeType != types.NodeTypeIt:
		return "[" + s.LeafNodeType.String() + "]"
	case len(s.ContainerHierarchyTexts) == 1 && s.ContainerHierarchyTexts[0] == upgradePathsText:
		return s.LeafNodeText
	}
	return s.FullText()
}

// specRows gathers the matrix rows a spec recorded. Entries made in this
// process keep their value; entries from other processes (ginkgo -p)
// arrive as JSON.
func specRows(s types.SpecReport) []report.Row {
	var rows []report.Row
	for _, e := range s.ReportEntries {
		if e.Name != matrixEntry {
			continue
		}
		if row, ok := e.GetRawValue().(report.Row); ok {
			rows = append(rows, row)
			continue
		}
		var row report.Row
		if err := json.Unmarshal([]byte(e.Value.AsJSON), &row); err != nil {
			fmt.Fprintf(os.Stderr, "matrix entry: %v\n", err)
			continue
		}
		rows = append(rows, row)
	}
	return rows
}

// pathProperties are a path case's properties: the scenario's expectation
// on the provider (known before the spec runs, so also for a spec that
// failed before it measured anything), then what the run measured.
func (in junitInput) pathProperties(s types.SpecReport, rows []report.Row) []reporters.JUnitProperty {
	if s.LeafNodeType != types.NodeTypeIt || len(s.ContainerHierarchyTexts) != 1 || s.ContainerHierarchyTexts[0] != upgradePathsText {
		return nil
	}
	name, provider, ok := parsePathSpecText(s.LeafNodeText)
	if !ok {
		return nil
	}
	var props []reporters.JUnitProperty
	add := func(k, v string) {
		if v != "" {
			props = append(props, reporters.JUnitProperty{Name: k, Value: v})
		}
	}
	add("provider", provider)
	add("scenario", name)
	if sc, ok := scenarios.Find(in.Scenarios, name); ok {
		add("path", strings.Join(sc.Path.Versions(), " → "))
		add("strategy", sc.Path.StrategyLabel())
		add("kubernetes", sc.Kubernetes)
		if e, ok := sc.Expect(provider); ok {
			add("expected.verdict", string(e.Verdict))
			for _, sig := range e.Signatures {
				add("expected.signature", sig.String())
			}
		} else {
			add("expected.verdict", "none recorded for "+provider)
		}
	}
	for _, r := range rows {
		add("measured.verdict", r.Verdict)
		add("measured.as-expected", fmt.Sprintf("%t", r.AsExpected))
		add("measured.signature", r.Signature)
		add("measured.step", r.FailedStep)
		if r.Line != "" {
			line := r.Line
			if r.LineSource != "" {
				line = r.LineSource + ": " + line
			}
			add("measured.line", line)
		}
		add("measured.cause", r.Cause)
		add("measured.seconds", fmt.Sprintf("%.1f", r.Seconds))
		for _, f := range r.Faults {
			add("measured.fault", f)
		}
		add("artifacts", relativeTo(in.Artifacts, r.Artifacts))
		add("reproduce", r.Reproduce)
	}
	return props
}

// relativeTo gives p relative to dir when it lies under it: the folder as
// Prow's artifact browser lists it.
func relativeTo(dir, p string) string {
	if dir == "" || p == "" {
		return p
	}
	if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// matrixCase is the summary case: the matrix table (matrix.md) as its
// output, failed when a path of this run did not give its expected verdict
// and signature (Prow's junit view shows the output of failed cases; the
// build log shows the table either way). No rows, no case.
func matrixCase(classname string, ran, all []report.Row) (junitCase, bool) {
	if len(ran) == 0 {
		return junitCase{}, false
	}
	if len(all) == 0 {
		all = ran
	}
	all = append([]report.Row(nil), all...)
	report.Sort(all)
	c := junitCase{Name: matrixCaseName, Classname: classname, Status: types.SpecStatePassed.String(), SystemOut: report.Markdown(all)}
	var off []string
	for _, r := range ran {
		if !r.AsExpected {
			off = append(off, pathSpecText(r.Name, r.Provider))
		}
	}
	c.Properties = &reporters.JUnitProperties{Properties: []reporters.JUnitProperty{
		{Name: "paths", Value: fmt.Sprintf("%d", len(ran))},
		{Name: "as-expected", Value: fmt.Sprintf("%d", len(ran)-len(off))},
	}}
	if len(off) > 0 {
		c.Status = types.SpecStateFailed.String()
		msg := fmt.Sprintf("%d of %d paths did not give their expected verdict and signature: %s", len(off), len(ran), strings.Join(off, ", "))
		c.Failure = &reporters.JUnitFailure{Message: msg, Type: "failed", Description: msg + "\n\n" + c.SystemOut}
	}
	return c, true
}

// writeJUnit writes the document to path.
func writeJUnit(path string, doc junitSuites) error {
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
