package e2e

import (
	"encoding/json"
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
	RegisterFailHandler(Fail)
	RunSpecs(t, "etcd upgrade e2e")
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	Expect(config.Validate()).To(Succeed(), "invalid flags")
	// Provision every binary the selected specs need once, on process 1,
	// with progress; the other processes then hit the cache.
	p := etcdbin.NewProvisioner(etcdbin.WithLog(GinkgoWriter))
	for _, v := range neededVersions() {
		start := time.Now()
		b, err := p.GetString(ctx, v)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("etcd %s ready (%s, %s)\n", v, b.Source, time.Since(start).Round(time.Millisecond))
	}
	return nil
}, func(ctx SpecContext, _ []byte) {
	Expect(config.Validate()).To(Succeed(), "invalid flags")
	binaries = etcdbin.NewProvisioner(etcdbin.WithLog(GinkgoWriter))
}, NodeTimeout(30*time.Minute))

// The matrix is written once, from the merged report of every process.
var _ = ReportAfterSuite("matrix", func(r Report) {
	var rows []report.Row
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name != matrixEntry {
				continue
			}
			// Entries made in this process keep their value; entries from
			// other processes (ginkgo -p) arrive as JSON.
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
	}
	dir := config.ArtifactsDir()
	if err := report.Write(dir, rows); err != nil {
		fmt.Fprintf(os.Stderr, "writing matrix: %v\n", err)
		return
	}
	if len(rows) > 0 {
		report.Sort(rows)
		fmt.Printf("\nUpgrade matrix (%s):\n\n%s\n", filepath.Join(dir, "matrix.md"), report.Markdown(rows))
	}
})
