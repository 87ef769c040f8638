// Command bench-report prints where the time of upgrade paths goes, from
// the result.json files a run left under its artifacts folders
// (<provider>/<scenario>/result.json): per path, its total and the time of
// each kind of step; per kind of step across paths, count and spread; per
// sub-step the provider timed (on kind: kind's create stages, kubeadm's
// phases, an etcd static pod's restart), count and spread. It times nothing
// itself and asserts nothing: `make bench-kind` runs paths and then this,
// `make bench-report ARTIFACTS=DIR` reads any earlier run.
//
//	go run ./cmd/bench-report [-v] DIR...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"etcd-upgrade-e2e/framework/upgrade"
)

func main() {
	verbose := flag.Bool("v", false, "also list every step of every path with its sub-steps")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: bench-report [-v] ARTIFACTS-DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var paths []pathResult
	for _, dir := range flag.Args() {
		ps, err := readDir(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-report: %v\n", err)
			os.Exit(2)
		}
		paths = append(paths, ps...)
	}
	if len(paths) == 0 {
		fmt.Fprintf(os.Stderr, "bench-report: no result.json under %s\n", strings.Join(flag.Args(), ", "))
		os.Exit(1)
	}
	render(os.Stdout, paths, *verbose)
}

// pathResult is one path's result.json.
type pathResult struct {
	Provider, Name string
	Dir            string
	Verdict        string
	Seconds        float64
	Steps          []upgrade.Step
}

// readDir finds every <provider>/<scenario>/result.json under dir; folders
// an earlier run left aside (.earlier-<time>) are not this run's.
func readDir(dir string) ([]pathResult, error) {
	var out []pathResult
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.Contains(d.Name(), ".earlier-") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "result.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var res upgrade.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		folder := filepath.Dir(p)
		out = append(out, pathResult{
			Provider: filepath.Base(filepath.Dir(folder)), Name: filepath.Base(folder), Dir: folder,
			Verdict: string(res.Verdict), Seconds: res.Seconds, Steps: res.Steps,
		})
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// kinds name the steps of a path by what they do, whatever their versions
// and members: the rows of the per-step figures, in this order.
var kinds = []struct {
	name, short string
	re          *regexp.Regexp
}{
	{"create cluster", "create", regexp.MustCompile(`^(init the first control-plane member|bootstrap \d+ members)`)},
	{"initial join", "init-join", regexp.MustCompile(`^join control-plane member \d+ at etcd`)},
	{"catch-up writes", "catch-up", regexp.MustCompile(`^write \d+ keys`)},
	{"in-place upgrade of a member", "in-place", regexp.MustCompile(`^hop \d+ .*: upgrade \S+ in place`)},
	{"kubeadm upgrade of a node", "kubeadm", regexp.MustCompile(`^hop \d+ .*: kubeadm upgrade `)},
	{"leader move", "leader", regexp.MustCompile(`^hop \d+ .*: make \S+ .*the leader`)},
	{"replacement join", "join", regexp.MustCompile(`^hop \d+ .*: join a new member`)},
	{"removal", "remove", regexp.MustCompile(`^hop \d+ .*: remove old member`)},
	{"check", "check", regexp.MustCompile(`^check `)},
	{"audit", "audit", regexp.MustCompile(`^audit `)},
}

const otherKind = "other"

func kindOf(step string) string {
	for _, k := range kinds {
		if k.re.MatchString(step) {
			return k.name
		}
	}
	return otherKind
}

func kindNames() []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.name)
	}
	return append(out, otherKind)
}

// shortName is a kind's column in the per-path table.
func shortName(kind string) string {
	for _, k := range kinds {
		if k.name == kind {
			return k.short
		}
	}
	return kind
}

// spread is a set of durations.
type spread []float64

func (s spread) total() float64 {
	t := 0.0
	for _, v := range s {
		t += v
	}
	return t
}

// minMedMax renders "min/median/max".
func (s spread) minMedMax() string {
	if len(s) == 0 {
		return "-"
	}
	c := append(spread(nil), s...)
	sort.Float64s(c)
	return fmt.Sprintf("%.1f/%.1f/%.1f", c[0], c[len(c)/2], c[len(c)-1])
}

// render prints the figures.
func render(w io.Writer, paths []pathResult, verbose bool) {
	byKind := map[string]spread{}
	type subKey struct{ kind, name string }
	bySub := map[subKey]spread{}
	var subOrder []subKey

	fmt.Fprintf(w, "Per path (seconds; %d paths; TOTAL: the run's seconds, plus the check after a failure, which runs once they are taken; untimed: between steps, e.g. the writes after each member operation):\n\n", len(paths))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := []string{"PROVIDER", "PATH", "VERDICT", "TOTAL"}
	shown := []string{}
	for _, k := range kindNames() {
		for _, p := range paths {
			if slicesHasKind(p.Steps, k) {
				shown = append(shown, k)
				break
			}
		}
	}
	for _, k := range shown {
		header = append(header, shortName(k))
	}
	header = append(header, "untimed")
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, p := range paths {
		per := map[string]float64{}
		for _, s := range p.Steps {
			k := kindOf(s.Name)
			per[k] += s.Seconds
			byKind[k] = append(byKind[k], s.Seconds)
			for _, ss := range s.Substeps {
				key := subKey{k, ss.Name}
				if _, seen := bySub[key]; !seen {
					subOrder = append(subOrder, key)
				}
				bySub[key] = append(bySub[key], ss.Seconds)
			}
		}
		total, untimed := wallTime(p)
		row := []string{p.Provider, p.Name, p.Verdict, fmt.Sprintf("%.1f", total)}
		for _, k := range shown {
			row = append(row, fmt.Sprintf("%.1f", per[k]))
		}
		row = append(row, fmt.Sprintf("%.1f", untimed))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nPer step, across paths (seconds):\n\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tCOUNT\tTOTAL\tMIN/MEDIAN/MAX")
	for _, k := range kindNames() {
		if s := byKind[k]; len(s) > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\n", k, len(s), s.total(), s.minMedMax())
		}
	}
	tw.Flush()

	if len(subOrder) > 0 {
		fmt.Fprintf(w, "\nPer sub-step, across paths (seconds; the parts the provider timed):\n\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tSUB-STEP\tCOUNT\tTOTAL\tMIN/MEDIAN/MAX")
		for _, k := range kindNames() {
			for _, key := range subOrder {
				if key.kind == k {
					s := bySub[key]
					fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\n", k, key.name, len(s), s.total(), s.minMedMax())
				}
			}
		}
		tw.Flush()
	} else {
		fmt.Fprintf(w, "\nNo sub-steps: these results predate them, or the provider times none.\n")
	}

	if !verbose {
		return
	}
	for _, p := range paths {
		fmt.Fprintf(w, "\n%s [%s]: %s in %.1fs (%s)\n", p.Name, p.Provider, p.Verdict, p.Seconds, p.Dir)
		for _, s := range p.Steps {
			mark := ""
			if s.Error != "" {
				mark = "  FAILED"
			}
			fmt.Fprintf(w, "  %7.1f  %s%s\n", s.Seconds, s.Name, mark)
			for _, ss := range s.Substeps {
				fmt.Fprintf(w, "  %7s    %6.1f  %s (at %.1f)\n", "", ss.Seconds, ss.Name, ss.At)
			}
		}
	}
}

// afterRun is the step a run records after its seconds are taken: what
// each member says once a hop has failed (upgrade.Run).
const afterRun = "check after failure"

// wallTime returns how long a path took, its result's seconds plus the
// steps recorded after them, and the part of it no step timed. Steps are
// rounded to the millisecond, so their sum may pass the total by a few:
// untimed is never below zero.
func wallTime(p pathResult) (total, untimed float64) {
	total = p.Seconds
	timed := 0.0
	for _, s := range p.Steps {
		if s.Name == afterRun {
			total += s.Seconds
		}
		timed += s.Seconds
	}
	return total, max(0, total-timed)
}

func slicesHasKind(steps []upgrade.Step, kind string) bool {
	for _, s := range steps {
		if kindOf(s.Name) == kind {
			return true
		}
	}
	return false
}
