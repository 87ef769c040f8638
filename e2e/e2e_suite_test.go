package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/report"
)

func init() {
	config.Bind(flag.CommandLine)
}

func TestE2E(t *testing.T) {
	// Bad input is refused before any spec is selected, whatever the label
	// filter: a BeforeSuite would not run when the filter selects nothing.
	config.Given(flag.CommandLine)
	if err := config.Validate(); err != nil {
		t.Fatalf("invalid flags:\n%v", err)
	}
	RegisterFailHandler(Fail)
	suite, reporter := GinkgoConfiguration()
	// A filter or flag that selects no spec is a mistake, not a pass.
	suite.FailOnEmpty = true
	RunSpecs(t, "etcd upgrade e2e", suite, reporter)
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	// Provision every binary the selected specs need once, on process 1,
	// with progress; the other processes then hit the cache.
	p := etcdbin.NewProvisioner(etcdbin.WithLog(GinkgoWriter))
	for _, v := range neededVersions(config.Providers()...) {
		start := time.Now()
		b, err := p.GetString(ctx, v)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("etcd %s ready (%s, %s)\n", v, b.Source, time.Since(start).Round(time.Millisecond))
	}
	return nil
}, func(ctx SpecContext, _ []byte) {
	binaries = etcdbin.NewProvisioner(etcdbin.WithLog(GinkgoWriter))
}, NodeTimeout(provisionTimeout))

// The matrix and the junit file are written once, from the merged report
// of every process.
var _ = ReportAfterSuite("matrix", func(r Report) {
	var rows []report.Row
	for _, s := range r.SpecReports {
		rows = append(rows, specRows(s)...)
	}
	dir := config.ArtifactsDir()
	write := report.Write
	if config.MergeMatrix {
		write = report.Merge
	}
	all := rows
	if err := write(dir, rows); err != nil {
		fmt.Fprintf(os.Stderr, "writing matrix: %v\n", err)
	} else if config.MergeMatrix {
		if merged, err := report.Read(filepath.Join(dir, "matrix.json")); err == nil {
			all = merged
		}
	}
	if path := config.JUnitPath(); path != "" {
		doc, err := buildJUnit(junitInput{Report: r, All: all, Scenarios: selectedScenarios(), Artifacts: dir})
		if err == nil {
			err = writeJUnit(path, doc)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "writing %s: %v\n", path, err)
		}
	}
	if len(all) > 0 {
		report.Sort(all)
		fmt.Printf("\nUpgrade matrix (%s):\n\n%s\n", filepath.Join(dir, "matrix.md"), report.Markdown(all))
	}
})
