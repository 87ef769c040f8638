package e2e

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"etcd-upgrade-e2e/framework/report"
	"etcd-upgrade-e2e/scenarios"
)

func pathSpec(name, provider string, state types.SpecState, labels ...string) types.SpecReport {
	return types.SpecReport{
		ContainerHierarchyTexts:  []string{upgradePathsText},
		ContainerHierarchyLabels: [][]string{nil},
		LeafNodeType:             types.NodeTypeIt,
		LeafNodeText:             pathSpecText(name, provider),
		LeafNodeLabels:           labels,
		State:                    state,
		NumAttempts:              1,
		RunTime:                  3 * time.Minute,
	}
}

func withRow(s types.SpecReport, r report.Row, asJSON bool) types.SpecReport {
	v := types.WrapEntryValue(r)
	if asJSON { // as an entry made on another process arrives
		b, _ := json.Marshal(r)
		v = types.ReportEntryValue{AsJSON: string(b)}
	}
	s.ReportEntries = append(s.ReportEntries, types.ReportEntry{Name: matrixEntry, Value: v})
	return s
}

// The junit file of a run: one case per path and provider named
// "<scenario> [<provider>]" whatever its labels, expectation and
// measurement as properties, specs the filter left out absent, and the
// matrix in a summary case that fails when a path was not as expected.
func TestJUnit(t *testing.T) {
	all := scenarios.All()
	const failing, passing = "3.5.17-to-3.6.5-replace", "3.5.21-to-3.6.5-in-place"
	dir := t.TempDir()
	bad := report.Row{Name: failing, Provider: "kind", Path: []string{"3.5.17", "3.6.5"}, Strategy: "replace", Verdict: "harness-error", Expected: "upgrade-failed",
		Cause: "the spec was interrupted", FailedStep: "hop 1 (3.5.17 → 3.6.5, replace): join a new member", Seconds: 412.3,
		Artifacts: filepath.Join(dir, "kind", failing), Reproduce: "go tool ginkgo -v ./e2e -- -provider=kind -scenario=" + failing + " -keep"}
	good := report.Row{Name: passing, Provider: "kind", Path: []string{"3.5.21", "3.6.5"}, Strategy: "in-place", Verdict: "consistent", Expected: "consistent",
		AsExpected: true, Seconds: 116, Artifacts: filepath.Join(dir, "kind", passing)}

	failed := pathSpec(failing, "kind", types.SpecStateFailed, "kind", "replace", "risk", "fast")
	failed.Failure = types.Failure{Message: "path 3.5.17 → 3.6.5 (replace) on kind: harness-error", Location: types.CodeLocation{FileName: "upgrade_path.go", LineNumber: 145}}
	r := types.Report{
		SuiteDescription: "etcd upgrade e2e",
		SuiteConfig:      types.SuiteConfig{LabelFilter: "kind && fast"},
		SpecReports: types.SpecReports{
			{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStatePassed, NumAttempts: 1},
			withRow(failed, bad, false),
			withRow(pathSpec(passing, "kind", types.SpecStatePassed, "kind", "in-place", "risk"), good, true),
			// Not selected by the label filter: not a test of this run.
			{ContainerHierarchyTexts: []string{upgradePathsText}, LeafNodeType: types.NodeTypeIt, LeafNodeText: pathSpecText("3.5.17-to-3.6.5-in-place", "kind"),
				LeafNodeLabels: []string{"kind", "in-place", "risk"}, State: types.SpecStateSkipped},
			// Selected, but the suite ran out of its time before it: stays.
			{ContainerHierarchyTexts: []string{upgradePathsText}, LeafNodeType: types.NodeTypeIt, LeafNodeText: pathSpecText("3.5.21-to-3.6.5-replace", "kind"),
				LeafNodeLabels: []string{"kind", "replace", "risk", "fast"}, State: types.SpecStateSkipped},
			// Skipped for a reason: stays, under its own text.
			{ContainerHierarchyTexts: []string{"kind node image without a registry"}, LeafNodeType: types.NodeTypeIt, LeafNodeText: "creates an HA cluster",
				LeafNodeLabels: []string{"kind", "node-image"}, State: types.SpecStateSkipped, NumAttempts: 1, Failure: types.Failure{Message: "kind: no Docker"}},
		},
	}
	doc, err := buildJUnit(junitInput{Report: r, Scenarios: all, Artifacts: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites", len(doc.Suites))
	}
	cases := doc.Suites[0].Cases
	var names []string
	for _, c := range cases {
		names = append(names, c.Name)
	}
	want := []string{failing + " [kind]", passing + " [kind]", "3.5.21-to-3.6.5-replace [kind]", "kind node image without a registry creates an HA cluster", matrixCaseName}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("case names:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if doc.Tests != 5 || doc.Failures != 2 || doc.Suites[0].Skipped != 2 {
		t.Errorf("counts: tests %d failures %d skipped %d", doc.Tests, doc.Failures, doc.Suites[0].Skipped)
	}

	f := cases[0]
	if f.Failure == nil || !strings.Contains(f.Failure.Message, "harness-error") || f.SystemErr == "" {
		t.Errorf("failed case: %+v", f)
	}
	sc, _ := scenarios.Find(all, failing)
	exp, _ := sc.Expect("kind")
	for k, v := range map[string]string{
		"provider": "kind", "scenario": failing, "path": "3.5.17 → 3.6.5", "strategy": "replace",
		"expected.verdict": "upgrade-failed", "expected.signature": exp.Signatures[0].String(),
		"measured.verdict": "harness-error", "measured.as-expected": "false", "measured.cause": "the spec was interrupted",
		"measured.step": bad.FailedStep, "measured.seconds": "412.3", "artifacts": "kind/" + failing, "reproduce": bad.Reproduce,
	} {
		if got := f.property(k); got != v {
			t.Errorf("property %s = %q, want %q", k, got, v)
		}
	}
	if p := cases[1]; p.Failure != nil || p.property("measured.verdict") != "consistent" || p.property("measured.as-expected") != "true" || p.SystemErr != "" {
		t.Errorf("passed case (row from another process): %+v", p)
	}
	if s := cases[2]; s.Skipped == nil || !strings.Contains(s.Skipped.Message, "not run") || s.property("expected.verdict") != "consistent" {
		t.Errorf("case never reached: %+v", s)
	}
	if s := cases[3]; s.Skipped == nil || !strings.Contains(s.Skipped.Message, "kind: no Docker") || s.Properties != nil {
		t.Errorf("skipped node image case: %+v", s)
	}
	m := cases[4]
	if m.Failure == nil || !strings.Contains(m.Failure.Message, "1 of 2 paths") || !strings.Contains(m.Failure.Message, failing+" [kind]") {
		t.Errorf("matrix case failure: %+v", m.Failure)
	}
	if !strings.Contains(m.SystemOut, "| name | path |") || !strings.Contains(m.SystemOut, passing) || m.property("as-expected") != "1" {
		t.Errorf("matrix case: %+v", m)
	}

	// Written and read back as Prow's junit parser reads it: properties on
	// test cases, system-out.
	path := filepath.Join(dir, "junit_e2e.xml")
	if err := writeJUnit(path, doc); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back struct {
		Suites []struct {
			Cases []struct {
				Name       string  `xml:"name,attr"`
				Failure    *string `xml:"failure"`
				Output     *string `xml:"system-out"`
				Properties struct {
					List []struct {
						Name  string `xml:"name,attr"`
						Value string `xml:"value,attr"`
					} `xml:"property"`
				} `xml:"properties"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	c0 := back.Suites[0].Cases[0]
	if c0.Name != failing+" [kind]" || c0.Failure == nil || len(c0.Properties.List) < 10 {
		t.Errorf("read back: %+v", c0)
	}
	if out := back.Suites[0].Cases[4].Output; out == nil || !strings.Contains(*out, passing) {
		t.Errorf("matrix output not read back")
	}
}

// With every path as expected the summary case passes; with no path run
// there is none.
func TestJUnitMatrixCase(t *testing.T) {
	ok := report.Row{Name: "a", Provider: "process", AsExpected: true}
	c, found := matrixCase("s", []report.Row{ok}, nil)
	if !found || c.Failure != nil || c.Status != "passed" || !strings.Contains(c.SystemOut, "| a |") {
		t.Errorf("all as expected: %+v", c)
	}
	// The table shows the merged matrix, the verdict counts this run only.
	earlier := report.Row{Name: "b", Provider: "process", AsExpected: false}
	c, _ = matrixCase("s", []report.Row{ok}, []report.Row{ok, earlier})
	if c.Failure != nil || !strings.Contains(c.SystemOut, "| b |") {
		t.Errorf("merged matrix: %+v", c)
	}
	if _, found := matrixCase("s", nil, []report.Row{earlier}); found {
		t.Error("a summary case for a run that ran no path")
	}
}

func TestPathSpecText(t *testing.T) {
	n, p, ok := parsePathSpecText(pathSpecText("3.5.19-to-3.5.21-to-3.6.4-replace-issue-20793", "kind"))
	if !ok || n != "3.5.19-to-3.5.21-to-3.6.4-replace-issue-20793" || p != "kind" {
		t.Errorf("round trip: %q %q %t", n, p, ok)
	}
	if _, _, ok := parsePathSpecText("creates an HA cluster"); ok {
		t.Error("parsed a text that is no path spec")
	}
}
