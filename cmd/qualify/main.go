// Command qualify qualifies an etcd bump against every known etcd 3.5 → 3.6
// upgrade risk (scenarios.Risks): it asks the Go module proxy which releases
// of the ranges it serves, builds them (in parallel, cached), bisects each
// reproduced risk per strategy and 3.6 target on the process provider for
// the first release where it stops reproducing (both sides of the boundary
// are measured runs), reads kubeadm's etcd pin of every Kubernetes 1.33.z and
// 1.34.z from k8s.io/kubernetes and says which patch upgrades are safe.
// With -candidate it runs every risk with one release in the risk's open
// role and prints GO, NO-GO or CANNOT TELL, decided by those runs alone
// (upstream's word on risks not measured is printed apart). It writes
// qualify.md, qualify.json and heatmap.html to the artifacts dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
	"etcd-upgrade-e2e/framework/qualify"
	"etcd-upgrade-e2e/scenarios"
)

type options struct {
	range35, range36, targets, risks, candidate, artifacts  string
	parallel, builds, snapshotCount, catchUpWrites, retries int
	memberTimeout                                           time.Duration
	kubernetes, fsync                                       bool
	timeout                                                 time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.range35, "range35", "3.5.15..3.5.35", "3.5 releases to consider (each risk narrows it to its own range)")
	flag.StringVar(&o.range36, "range36", "3.6.0..3.6.16", "3.6 releases to consider")
	flag.StringVar(&o.targets, "targets", "kubeadm,newest", "3.6 targets of the 3.5-side risks: releases, 'kubeadm' (every etcd kubeadm 1.34.z pins) and 'newest' (the newest served in -range36)")
	flag.StringVar(&o.risks, "risks", "", "comma-separated etcd issues to run (default: the whole registry)")
	flag.StringVar(&o.candidate, "candidate", "", "run every risk with this release in its open role and print GO, NO-GO or CANNOT TELL (exit 0 only for GO), instead of bisecting")
	flag.StringVar(&o.artifacts, "artifacts", "", "where qualify.md, qualify.json, heatmap.html and the runs go (default $ARTIFACTS, else ./_artifacts)")
	flag.IntVar(&o.parallel, "j", 2, "paths run at once (each is a 3-4 member process cluster)")
	flag.IntVar(&o.builds, "builds", etcdbin.DefaultParallel(), "etcd releases built at once")
	flag.IntVar(&o.snapshotCount, "snapshot-count", 100, "etcd --snapshot-count of every member (as the matrix)")
	flag.IntVar(&o.catchUpWrites, "catch-up-writes", 6000, "writes after the cluster is built (as the matrix)")
	flag.IntVar(&o.retries, "retries", 1, "how often a run that gave a harness error is run again")
	flag.DurationVar(&o.memberTimeout, "member-timeout", 30*time.Second, "how long a member may take to serve (as the e2e suite)")
	flag.BoolVar(&o.fsync, "fsync", false, "members fsync as etcd does by default; without it they run with --unsafe-no-fsync, as in the e2e suite (the harness kills processes, never the machine)")
	flag.BoolVar(&o.kubernetes, "kubernetes", true, "read kubeadm's pins and judge every Kubernetes 1.33.z → 1.34.z upgrade")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Hour, "give up after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	code, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qualify:", err)
	}
	os.Exit(code)
}

func artifactsDir(flagValue string) string {
	switch {
	case flagValue != "":
		return flagValue
	case os.Getenv("ARTIFACTS") != "":
		return os.Getenv("ARTIFACTS")
	}
	return "_artifacts"
}

func run(ctx context.Context, o options) (int, error) {
	start := time.Now()
	var candidate etcdbin.Version
	if o.candidate != "" {
		c, err := etcdbin.ParseVersion(o.candidate)
		if err != nil {
			return 2, err
		}
		candidate = c
	}
	r35from, r35to, err := etcdbin.ParseRange(o.range35)
	if err != nil {
		return 2, err
	}
	r36from, r36to, err := etcdbin.ParseRange(o.range36)
	if err != nil {
		return 2, err
	}
	risks, err := selectRisks(o.risks)
	if err != nil {
		return 2, err
	}
	dir := artifactsDir(o.artifacts)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 2, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

	prov := etcdbin.NewProvisioner(etcdbin.WithLog(os.Stderr))
	rep := &qualify.Report{Generated: time.Now().UTC().Format(time.RFC3339), Mode: "bisect"}
	served := map[string][]etcdbin.Version{}
	for _, rg := range [][2]etcdbin.Version{{r35from, r35to}, {r36from, r36to}} {
		as, err := prov.Served(ctx, rg[0], rg[1])
		if err != nil {
			return 1, err
		}
		rep.Served = append(rep.Served, as...)
		served[rg[0].MinorString()] = etcdbin.ServedOnly(as)
	}
	for _, a := range rep.Served {
		if !a.Served {
			logf("etcd %s: not served by the Go module proxy (%s)", a.Version, a.Why)
		}
	}
	if !candidate.IsZero() {
		if !servedHas(served, candidate) {
			return 2, fmt.Errorf("candidate %s is not a release the module proxy serves in -range35/-range36", candidate)
		}
	}

	if o.kubernetes {
		pins, missing, err := kubeadmpins.NewReader(kubeadmpins.DefaultCacheDir(), kubeadmpins.WithLog(os.Stderr)).All(ctx, 33, 34)
		if err != nil {
			logf("kubeadm pins: %v", err)
		}
		for _, m := range missing {
			logf("kubernetes %s: not served by the Go module proxy", m.Version)
		}
		rep.Pins, rep.KubernetesNotServed = pins, qualify.NotServedKubernetes(missing)
	}
	targets, err := resolveTargets(o.targets, rep.Pins, served["3.6"])
	if err != nil {
		return 2, err
	}
	for _, t := range targets {
		rep.Targets = append(rep.Targets, t.String())
	}
	plan := qualify.Plan{Risks: risks, Served: served, Targets: targets, Range35: [2]etcdbin.Version{r35from, r35to}, Range36: [2]etcdbin.Version{r36from, r36to}, Width: o.parallel}

	// Binaries first, built in parallel and cached: every release a run
	// may need.
	need := neededVersions(plan, candidate)
	logf("qualify: provisioning %d etcd releases (%d at a time)", len(need), o.builds)
	rep.Costs.ProvisionSeconds = map[string]float64{}
	for _, p := range prov.GetAll(ctx, need, o.builds) {
		rep.Costs.ProvisionSeconds[p.Version.String()] = p.Took.Seconds()
		var ns *etcdbin.NotServedError
		switch {
		case errors.As(p.Err, &ns):
			// Served in name only: left out of every range, and said so.
			logf("%v: left out", ns)
			markNotServed(rep, served, p.Version, ns.Error())
		case p.Err != nil:
			return 1, p.Err
		}
	}
	plan.Served = served

	runner := &qualify.Runner{
		Binaries: prov, ArtifactsDir: filepath.Join(dir, "qualify"),
		SnapshotCount: o.snapshotCount, CatchUpWrites: o.catchUpWrites, StepWrites: 50, Fsync: o.fsync,
		MemberTimeout: o.memberTimeout, Retries: o.retries, Log: os.Stderr,
	}
	runner.Parallel(o.parallel)
	code := 0
	if !candidate.IsZero() {
		rep.Mode = "candidate"
		c := qualify.Candidate(ctx, plan, runner, candidate)
		rep.Candidate = &c
		for _, r := range risks {
			rep.Risks = append(rep.Risks, qualify.RiskResult{Issue: r.Issue, Title: r.Title, Status: r.Status, UpstreamFix: r.UpstreamFix, Role: r.Role, Mechanism: r.Mechanism, Evidence: r.Evidence})
		}
		if c.Verdict != qualify.VerdictGo {
			code = 1 // no-go, or cannot tell
		}
	} else {
		rep.Risks = qualify.Qualify(ctx, plan, runner)
		if o.kubernetes {
			rep.Kubernetes = qualify.KubernetesTable(rep.Pins, 33, 34, rep.Risks)
		}
	}
	rep.AddRuns()
	rep.Costs.TotalSeconds = time.Since(start).Seconds()
	if err := rep.Write(dir); err != nil {
		return 1, err
	}
	printSummary(rep, dir)
	if ctx.Err() != nil {
		return 1, ctx.Err()
	}
	return code, nil
}

// markNotServed records that v does not build from the proxy and drops it
// from the served releases.
func markNotServed(rep *qualify.Report, served map[string][]etcdbin.Version, v etcdbin.Version, why string) {
	for i := range rep.Served {
		if rep.Served[i].Version == v {
			rep.Served[i].Served, rep.Served[i].Why = false, why
		}
	}
	vs := served[v.MinorString()]
	for i := range vs {
		if vs[i] == v {
			served[v.MinorString()] = append(vs[:i:i], vs[i+1:]...)
			break
		}
	}
}

func selectRisks(list string) ([]scenarios.Risk, error) {
	if list == "" {
		return scenarios.Risks(), nil
	}
	var out []scenarios.Risk
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(f), "etcd-"))
		if err != nil {
			return nil, fmt.Errorf("-risks: %q is not an etcd issue number", f)
		}
		r, ok := scenarios.FindRisk(n)
		if !ok {
			return nil, fmt.Errorf("-risks: etcd issue %d is not in the registry", n)
		}
		out = append(out, r)
	}
	return out, nil
}

// resolveTargets reads -targets: releases, "kubeadm" and "newest".
func resolveTargets(spec string, pins []kubeadmpins.Pin, served36 []etcdbin.Version) ([]etcdbin.Version, error) {
	var out []etcdbin.Version
	add := func(v etcdbin.Version) {
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	for _, f := range strings.Split(spec, ",") {
		switch f = strings.TrimSpace(f); f {
		case "":
		case "newest":
			if len(served36) == 0 {
				return nil, fmt.Errorf("-targets newest: no 3.6 release served in -range36")
			}
			add(served36[len(served36)-1])
		case "kubeadm":
			for _, p := range pins {
				if v, err := etcdbin.ParseVersion(p.Etcd); err == nil && v.Minor == 6 {
					add(v)
				}
			}
		default:
			v, err := etcdbin.ParseVersion(f)
			if err != nil || v.Minor != 6 {
				return nil, fmt.Errorf("-targets: %q is not a 3.6 release", f)
			}
			add(v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-targets %q names no 3.6 release", spec)
	}
	return out, nil
}

func servedHas(served map[string][]etcdbin.Version, v etcdbin.Version) bool {
	for _, s := range served[v.MinorString()] {
		if s == v {
			return true
		}
	}
	return false
}

// neededVersions lists every release the plan's runs may start: the
// served releases of each risk's range, the targets, the candidate.
func neededVersions(plan qualify.Plan, candidate etcdbin.Version) []etcdbin.Version {
	seen := map[etcdbin.Version]bool{}
	var out []etcdbin.Version
	add := func(v etcdbin.Version) {
		if !v.IsZero() && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range plan.Targets {
		add(v)
	}
	add(candidate)
	if candidate.IsZero() {
		for _, v := range plan.AllVersions() {
			add(v)
		}
	}
	return out
}

func printSummary(rep *qualify.Report, dir string) {
	if c := rep.Candidate; c != nil {
		printCandidate(os.Stdout, c)
	}
	for _, rr := range rep.Risks {
		if rr.Attempt != nil {
			fmt.Printf("etcd %d (%s): %s; attempt at %s: %s%s\n", rr.Issue, rr.Title, rr.Status, rr.Attempt.Version, rr.Attempt.Outcome, line(*rr.Attempt))
		} else if len(rr.Bisections) == 0 && rep.Candidate == nil {
			fmt.Printf("etcd %d (%s): %s\n", rr.Issue, rr.Title, rr.Status)
		}
		for _, b := range rr.Bisections {
			fmt.Printf("etcd %d %s", rr.Issue, b.Strategy)
			if b.Target != "" {
				fmt.Printf(" → %s", b.Target)
			}
			fmt.Printf(": %s\n", b.Answer)
			if b.LastBad != nil {
				fmt.Printf("  last bad   %s%s\n", b.LastBad.Version, line(*b.LastBad))
			}
			if b.FirstGood != nil {
				fmt.Printf("  first good %s%s\n", b.FirstGood.Version, line(*b.FirstGood))
			}
			fmt.Printf("  upstream: %s\n", b.Upstream)
		}
	}
	printKubernetes(os.Stdout, rep.Kubernetes, rep.KubernetesNotServed)
	fmt.Printf("cost: %d runs, %.0f s in all\n", rep.Costs.Runs, rep.Costs.TotalSeconds)
	for _, v := range rep.Costs.Versions() {
		fmt.Printf("  etcd %-8s provisioning %6.1f s, runs %6.0f s\n", v, rep.Costs.ProvisionSeconds[v], rep.Costs.RunSeconds[v])
	}
	fmt.Printf("reports: %s\n", strings.Join([]string{filepath.Join(dir, "qualify.md"), filepath.Join(dir, "qualify.json"), filepath.Join(dir, "heatmap.html")}, ", "))
}

// printCandidate prints the verdict with the runs it rests on, then, apart,
// what upstream says about risks no run measured.
func printCandidate(w io.Writer, c *qualify.CandidateReport) {
	fmt.Fprintf(w, "candidate %s: %s (%s)\n", c.Version, c.Verdict, c.Why)
	for _, r := range c.Runs {
		fmt.Fprintf(w, "  etcd %d (%s, %s, target %s): %s%s\n", r.Issue, r.Role, r.Strategy, r.Target, r.Outcome, line(r.Probe))
	}
	for _, s := range c.Skipped {
		fmt.Fprintf(w, "  not run: %s\n", s)
	}
	if len(c.UpstreamCaveats) > 0 {
		fmt.Fprintf(w, "upstream only, not measured here (not part of the verdict):\n")
		for _, u := range c.UpstreamCaveats {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
}

// printKubernetes prints the Kubernetes table a group of patch ranges a
// line.
func printKubernetes(w io.Writer, rows []qualify.K8sRow, notServed []qualify.K8sNotServed) {
	groups, outside := qualify.GroupKubernetes(rows, notServed)
	for _, g := range groups {
		fmt.Fprintf(w, "kubernetes %s → %s, %s: %s\n", g.From, g.To, g.Strategy, g.Safety)
		for _, r := range g.Risks {
			fmt.Fprintf(w, "  %s\n", r)
		}
		for _, n := range g.Notes {
			fmt.Fprintf(w, "  upstream only, not measured: %s\n", n)
		}
		fmt.Fprintf(w, "  rolled back: %s; then etcd %s: %s\n", g.Rollback, scenarios.Etcd37, g.OnTo37)
	}
	if len(outside) > 0 {
		fmt.Fprintf(w, "kubernetes releases in no range, their etcd pin unknown: %s\n", outside)
	}
}

func line(p qualify.Probe) string {
	if p.Run == nil {
		return ""
	}
	s := ""
	if p.Run.Line != "" {
		s = ": " + p.Run.Line
	} else if p.Run.Cause != "" {
		s = ": " + p.Run.Cause
	}
	if p.Run.Dir != "" {
		s += " (" + p.Run.Dir + ")"
	}
	return s
}
