package qualify

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/kubeadmpins"
	"etcd-upgrade-e2e/scenarios"
)

// Report is everything one qualification measured: qualify.json.
type Report struct {
	Generated string `json:"generated"`
	// Mode is "bisect" or "candidate".
	Mode string `json:"mode"`
	// Served is the module proxy's answer for every release asked about.
	Served  []etcdbin.Availability `json:"served"`
	Targets []string               `json:"targets"`
	Risks   []RiskResult           `json:"risks"`
	// Pins are kubeadm's etcd per Kubernetes patch, read from the modules.
	Pins []kubeadmpins.Pin `json:"pins,omitempty"`
	// KubernetesNotServed are the patch releases the proxy did not serve:
	// no pin, so in no pair.
	KubernetesNotServed []K8sNotServed `json:"kubernetesNotServed,omitempty"`
	// Kubernetes is every patch pair with every strategy; qualify.md
	// groups it (GroupKubernetes).
	Kubernetes []K8sRow         `json:"kubernetes,omitempty"`
	Candidate  *CandidateReport `json:"candidate,omitempty"`
	Costs      Costs            `json:"costs"`
}

// Costs is what the qualification took.
type Costs struct {
	TotalSeconds float64 `json:"totalSeconds"`
	Runs         int     `json:"runs"`
	// RunSeconds sums, per open version, the runs made with it.
	RunSeconds map[string]float64 `json:"runSeconds"`
	// ProvisionSeconds is, per release, what getting its binaries took
	// (near zero for a cache hit).
	ProvisionSeconds map[string]float64 `json:"provisionSeconds"`
}

// AddRuns counts the runs of the report into its costs.
func (r *Report) AddRuns() {
	if r.Costs.RunSeconds == nil {
		r.Costs.RunSeconds = map[string]float64{}
	}
	seen := map[string]bool{}
	add := func(p Probe) {
		if p.Run == nil || p.Run.Dir == "" || seen[p.Run.Dir] {
			return
		}
		seen[p.Run.Dir] = true
		r.Costs.Runs++
		r.Costs.RunSeconds[p.Version.String()] += p.Run.Seconds
	}
	for _, rr := range r.Risks {
		if rr.Attempt != nil {
			add(*rr.Attempt)
		}
		for _, b := range rr.Bisections {
			for _, p := range b.Probes {
				add(p)
			}
		}
	}
	if r.Candidate != nil {
		for _, c := range r.Candidate.Runs {
			add(c.Probe)
		}
	}
}

// Write writes qualify.json, qualify.md and heatmap.html into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "qualify.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "qualify.md"), []byte(r.Markdown(dir)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "heatmap.html"), []byte(r.HeatMap(dir)), 0o644)
}

// rel makes p relative to dir, for links that travel with the artifacts.
func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil {
		return r
	}
	return p
}

func probeCell(dir string, p *Probe) string {
	if p == nil {
		return "—"
	}
	s := fmt.Sprintf("**%s** (%s)", p.Version, p.Outcome)
	if p.Run != nil {
		if p.Run.Line != "" {
			s += ": " + mdEscape(clip(p.Run.Line, 220))
		} else if p.Run.Cause != "" {
			s += ": " + mdEscape(clip(p.Run.Cause, 220))
		}
		if p.Run.Dir != "" {
			s += fmt.Sprintf(" [run](%s/result.json)", rel(dir, p.Run.Dir))
		}
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markdown renders the report for people: qualify.md.
func (r *Report) Markdown(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# etcd 3.5 → 3.6 qualification (%s, %s)\n\n", r.Mode, r.Generated)
	if c := r.Candidate; c != nil {
		writeCandidate(&b, dir, c)
	}
	b.WriteString("## Risks\n\n| risk | status | strategy | target | last bad | first good | upstream | answer |\n|---|---|---|---|---|---|---|---|\n")
	for _, rr := range r.Risks {
		name := fmt.Sprintf("etcd [%d](https://github.com/etcd-io/etcd/issues/%d): %s", rr.Issue, rr.Issue, rr.Title)
		if len(rr.Bisections) == 0 {
			att := "—"
			if rr.Attempt != nil {
				att = "attempt: " + probeCell(dir, rr.Attempt)
			}
			fmt.Fprintf(&b, "| %s | %s | | | %s | | %s | %s |\n", name, rr.Status, att, mdEscape(rr.UpstreamFix), mdEscape(clip(rr.Evidence, 400)))
			continue
		}
		for _, br := range rr.Bisections {
			answer := br.Answer
			if !br.Monotone {
				answer += " (not monotone: see the runs)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, rr.Status, br.Strategy, br.Target,
				probeCell(dir, br.LastBad), probeCell(dir, br.FirstGood), mdEscape(br.Upstream), mdEscape(answer))
		}
	}
	if len(r.Kubernetes) > 0 {
		writeKubernetes(&b, r.Kubernetes, r.KubernetesNotServed)
	}
	if len(r.Pins) > 0 {
		b.WriteString("\n## kubeadm's etcd per Kubernetes patch\n\n")
		b.WriteString(kubeadmpins.Table(r.Pins, availabilities(r.KubernetesNotServed)))
	}
	b.WriteString("\n## Versions the Go module proxy serves (asked one by one)\n\n")
	var served, not []string
	for _, a := range r.Served {
		if a.Served {
			served = append(served, a.Version.String())
		} else {
			not = append(not, a.Version.String())
		}
	}
	fmt.Fprintf(&b, "served: %s\n\nnot served: %s\n", strings.Join(served, ", "), strings.Join(not, ", "))
	fmt.Fprintf(&b, "\n## Cost\n\n%d runs, %.0f s in all\n\n| version | provisioning (s) | runs (s) |\n|---|---|---|\n", r.Costs.Runs, r.Costs.TotalSeconds)
	for _, v := range r.Costs.Versions() {
		fmt.Fprintf(&b, "| %s | %.1f | %.0f |\n", v, r.Costs.ProvisionSeconds[v], r.Costs.RunSeconds[v])
	}
	return b.String()
}

// writeCandidate writes the candidate's verdict and the runs it rests on,
// then, apart, what upstream says about risks no run measured.
func writeCandidate(b *strings.Builder, dir string, c *CandidateReport) {
	fmt.Fprintf(b, "## Candidate %s: %s\n\nDecided by the runs below alone: %s.\n\n", c.Version, c.Verdict, mdEscape(c.Why))
	b.WriteString("| risk | role | strategy | target | outcome |\n|---|---|---|---|---|\n")
	for _, x := range c.Runs {
		p := x.Probe
		fmt.Fprintf(b, "| etcd %d | %s | %s | %s | %s |\n", x.Issue, x.Role, x.Strategy, x.Target, probeCell(dir, &p))
	}
	if len(c.UpstreamCaveats) > 0 {
		b.WriteString("\n### Upstream only: not measured here, not part of the verdict\n\n")
		for _, u := range c.UpstreamCaveats {
			fmt.Fprintf(b, "- %s\n", mdEscape(u.String()))
		}
	}
	if len(c.Skipped) > 0 {
		b.WriteString("\n### Not run with the candidate\n\n")
		for _, s := range c.Skipped {
			fmt.Fprintf(b, "- %s\n", mdEscape(s))
		}
	}
	b.WriteString("\n")
}

// writeKubernetes writes the Kubernetes table grouped into ranges of
// patch releases (qualify.json keeps every pair).
func writeKubernetes(b *strings.Builder, rows []K8sRow, notServed []K8sNotServed) {
	groups, outside := GroupKubernetes(rows, notServed)
	b.WriteString("\n## Kubernetes 1.33.z → 1.34.z (kubeadm's etcd pins read from k8s.io/kubernetes)\n\n" +
		"Consecutive patch releases whose kubeadm pins the same etcd form one range; a release inside a range with no pin is named after \"except\". " +
		"The verdict rests on the measured bisections only; risks the harness does not reproduce are listed apart, from upstream's word. " +
		"The last two columns are the verdicts the upgrade matrix measured (process provider) for the same etcd path rolled back to the 1.33 etcd with etcd's downgrade, " +
		"and pushed on to etcd " + scenarios.Etcd37 + ": \"" + NotMeasured + "\" where the matrix has no such path.\n\n" +
		"| from | to | strategy | etcd upgrade | because (measured) | upstream only, not measured | rolled back | then etcd " + scenarios.Etcd37 + " |\n|---|---|---|---|---|---|---|---|\n")
	for _, g := range groups {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", g.From, g.To, g.Strategy, g.Safety,
			mdEscape(strings.Join(g.Risks, "; ")), mdEscape(strings.Join(g.Notes, "; ")), mdEscape(g.Rollback), mdEscape(g.OnTo37))
	}
	fmt.Fprintf(b, "\n%d rows for %d patch pairs × strategies; qualify.json lists every pair.\n", len(groups), len(rows))
	if len(outside) > 0 {
		fmt.Fprintf(b, "\nIn no row, their etcd pin unknown: %s.\n", outside)
	}
}

// Versions lists the releases the costs name, ascending.
func (c Costs) Versions() []string { return sortedKeys(c.ProvisionSeconds, c.RunSeconds) }

func sortedKeys(ms ...map[string]float64) []string {
	seen := map[string]bool{}
	var out []etcdbin.Version
	for _, m := range ms {
		for k := range m {
			if v, err := etcdbin.ParseVersion(k); err == nil && !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return strs(out)
}

// HeatMap renders versions × (risk, strategy, target) as an HTML table:
// each measured cell links to its run's result.json; a cell between the
// measured ones is inferred from the boundary (lighter, marked).
func (r *Report) HeatMap(dir string) string {
	type column struct {
		title string
		br    BisectionResult
	}
	var cols []column
	versionSet := map[string]etcdbin.Version{}
	for _, rr := range r.Risks {
		for _, br := range rr.Bisections {
			t := fmt.Sprintf("etcd %d<br>%s", rr.Issue, br.Strategy)
			if br.Target != "" {
				t += "<br>→ " + br.Target
			}
			cols = append(cols, column{t, br})
			for _, v := range br.Versions {
				versionSet[v] = etcdbin.MustParseVersion(v)
			}
		}
	}
	var versions []etcdbin.Version
	for _, v := range versionSet {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].Less(versions[j]) })
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>etcd 3.5 → 3.6 qualification</title><style>
body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:center;font-size:13px}
.bad{background:#e74c3c;color:#fff}.good{background:#27ae60;color:#fff}.other{background:#f39c12}.unmeasured{background:#95a5a6}
.ibad{background:#f5b7b1}.igood{background:#abebc6}a{color:inherit}
</style></head><body>`)
	fmt.Fprintf(&b, "<h1>etcd 3.5 → 3.6 qualification</h1><p>%s. Rows: the release in the risk's open role; columns: risk, strategy, target. Dark: measured (links to the run); light: inferred from the measured boundary.</p><table><tr><th>release</th>", html.EscapeString(r.Generated))
	for _, c := range cols {
		fmt.Fprintf(&b, "<th>%s</th>", c.title)
	}
	b.WriteString("</tr>\n")
	for _, v := range versions {
		fmt.Fprintf(&b, "<tr><th>%s</th>", v)
		for _, c := range cols {
			b.WriteString(heatCell(dir, c.br, v))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table></body></html>\n")
	return b.String()
}

func heatCell(dir string, br BisectionResult, v etcdbin.Version) string {
	in := false
	for _, s := range br.Versions {
		if s == v.String() {
			in = true
		}
	}
	if !in {
		return "<td></td>"
	}
	for _, p := range br.Probes {
		if p.Version == v {
			title := string(p.Outcome)
			href := ""
			if p.Run != nil {
				title += ": " + p.Run.Line
				if p.Run.Dir != "" {
					href = rel(dir, p.Run.Dir) + "/result.json"
				}
			}
			return fmt.Sprintf(`<td class="%s" title="%s"><a href="%s">%s</a></td>`, p.Outcome, html.EscapeString(title), html.EscapeString(href), p.Outcome)
		}
	}
	switch {
	case br.FirstGood != nil && !v.Less(br.FirstGood.Version) && br.Monotone:
		return `<td class="igood" title="inferred: at or after the first good release">good?</td>`
	case br.LastBad != nil && !br.LastBad.Version.Less(v) && br.Monotone:
		return `<td class="ibad" title="inferred: at or before the last bad release">bad?</td>`
	}
	return `<td title="not run">·</td>`
}
