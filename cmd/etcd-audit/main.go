// Command etcd-audit checks etcd data dirs for the etcd 3.5 -> 3.6
// membership risk (etcd issue 19557): it compares the membership the v2store
// holds (read by etcd 3.5) with the one the v3store holds (read by etcd 3.6).
//
//	etcd-audit [-o table|json] DATA_DIR...
//
// Each DATA_DIR is a member's --data-dir (a copy of /var/lib/etcd from each
// control-plane node, or the dir of a stopped member). The audit only reads.
//
// An etcd 3.7 data dir (storage version 3.7) keeps no v2store: the audit says
// so ("no-v2store"), and still compares the v2-format copy 3.7 writes into
// its .snap files from the v3store where it can read it.
//
// Exit status: 0 all consistent (or no-v2store), 1 at-risk or inconsistent
// (also when the dirs disagree with each other), 2 usage or read errors.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"etcd-upgrade-e2e/framework/audit"
)

const (
	exitConsistent = 0
	exitRisk       = 1
	exitError      = 2
)

const readOnlyNote = "read-only audit: nothing in the data dirs was written (bbolt opened read-only, WAL opened for read)"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// dirResult is one data dir's audit in the JSON output.
type dirResult struct {
	DataDir string        `json:"data_dir"`
	Report  *audit.Report `json:"report,omitempty"`
	Error   string        `json:"error,omitempty"`
}

type output struct {
	ReadOnly bool              `json:"read_only"`
	Note     string            `json:"note"`
	Audits   []dirResult       `json:"audits"`
	Cross    *audit.CrossCheck `json:"cross_member,omitempty"`
	ExitCode int               `json:"exit_code"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etcd-audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("o", "table", "output format: table or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etcd-audit [-o table|json] DATA_DIR...")
		fmt.Fprintln(stderr, "Compares the v2store and v3store membership of etcd data dirs (etcd issue 19557).")
		fmt.Fprintln(stderr, "Give each member's --data-dir, copied with the member stopped.")
		fmt.Fprintln(stderr, "The audit only reads: the bbolt db is opened read-only and the WAL for read.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	if fs.NArg() == 0 || (*format != "table" && *format != "json") {
		fs.Usage()
		return exitError
	}

	out := output{ReadOnly: true, Note: readOnlyNote}
	var reports []*audit.Report
	for _, dir := range fs.Args() {
		r, err := audit.Audit(dir)
		res := dirResult{DataDir: dir, Report: r}
		switch {
		case err != nil:
			res.Error = err.Error()
			out.ExitCode = max(out.ExitCode, exitError)
		case !r.Verdict.Sound():
			out.ExitCode = max(out.ExitCode, exitRisk)
		}
		if r != nil {
			reports = append(reports, r)
		}
		out.Audits = append(out.Audits, res)
	}
	if len(reports) > 1 {
		out.Cross = audit.CrossCheckReports(reports)
		if !out.Cross.Agree() {
			out.ExitCode = max(out.ExitCode, exitRisk)
		}
	}

	var err error
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(out)
	} else {
		err = writeTable(stdout, out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "etcd-audit: write output: %v\n", err)
		return exitError
	}
	return out.ExitCode
}

func writeTable(w io.Writer, out output) error {
	pr := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	pr("etcd-audit: %s\n", out.Note)
	for _, a := range out.Audits {
		pr("\n=== %s\n", a.DataDir)
		if a.Error != "" {
			pr("error: %s\n", a.Error)
			continue
		}
		if err := a.Report.WriteTable(w); err != nil {
			return err
		}
	}
	if c := out.Cross; c != nil {
		pr("\n=== across %d data dirs\n", len(c.DataDirs))
		pr("same cluster: %s, v2store agrees: %s, v3store agrees: %s\n", yesNo(c.SameCluster), yesNo(c.V2Agree), yesNo(c.V3Agree))
		for _, d := range c.Differences {
			pr("  %s\n", d)
		}
		if c.Advice != "" {
			pr("advice: %s\n", c.Advice)
		}
	}
	pr("\nresult: %s\n", resultText(out.ExitCode))
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func resultText(code int) string {
	switch code {
	case exitConsistent:
		return "consistent, or an etcd 3.7 data dir with only its v3store (exit 0)"
	case exitRisk:
		return "at-risk or inconsistent membership found (exit 1)"
	default:
		return "some data dirs could not be read (exit 2)"
	}
}
