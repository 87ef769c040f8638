package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"etcd-upgrade-e2e/scenarios"
)

// prowJob is the part of Prow's job schema the harness relies on.
type prowJob struct {
	Name             string            `json:"name"`
	Cluster          string            `json:"cluster"`
	Interval         string            `json:"interval"`
	Cron             string            `json:"cron"`
	Decorate         bool              `json:"decorate"`
	AlwaysRun        bool              `json:"always_run"`
	Labels           map[string]string `json:"labels"`
	Annotations      map[string]string `json:"annotations"`
	DecorationConfig struct {
		Timeout string `json:"timeout"`
	} `json:"decoration_config"`
	ExtraRefs []struct {
		Org  string `json:"org"`
		Repo string `json:"repo"`
	} `json:"extra_refs"`
	Spec struct {
		Containers []prowContainer `json:"containers"`
	} `json:"spec"`
}

type prowContainer struct {
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	SecurityContext *struct {
		Privileged bool `json:"privileged"`
	} `json:"securityContext"`
	Resources struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
}

type prowJobs struct {
	Periodics  []prowJob            `json:"periodics"`
	Presubmits map[string][]prowJob `json:"presubmits"`
}

// env is a container's environment.
func (c prowContainer) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// makeVar is a make variable the container sets: a NAME=value argument,
// else its environment (make reads `?=` variables from it).
func (c prowContainer) makeVar(name string) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return c.env(name)
}

// The worst times measured per kind spec (2 cores; README, scenarios/kind.go)
// and of a job's cold setup: what a shard's Ginkgo timeout must hold.
const (
	coldSetup         = 25 * time.Minute // node image 13-17 min, etcd binaries ~1 min each
	processSetup      = 10 * time.Minute // etcd binaries ~1 min each
	upgradeKitSetup   = 30 * time.Minute // the v1.34.2 kubeadm, kubelet and images, cold
	timeoutMargin     = 1.25             // Ginkgo timeout over the estimate
	decorationReserve = 20 * time.Minute // decoration over Ginkgo: go build on a cold pod, teardown, upload
	// cpusPerKindSpec bounds KIND_PROCS: a kind job runs at most one kind
	// spec per 2 of its CPUs at once. No time is credited for it: on 2
	// cores, two at once gave only about 1.3 times the throughput of one
	// (2026-11-30), so a shard's estimate stays the sum of its specs.
	cpusPerKindSpec = 2
)

// kindSpecTime is the worst measured time of a kind spec with these labels.
func kindSpecTime(labels []string) time.Duration {
	has := func(l string) bool { return slices.Contains(labels, l) }
	switch {
	case has("node-image"):
		return 4 * time.Minute // both node image specs: a single-node and an HA cluster
	case has("kubeadm-upgrade"):
		return 490 * time.Second
	case has("faults"):
		return 200 * time.Second
	case has("downgrade") || has("etcd-3.7"):
		// Measured 2026-11-30, specs with teardown, 2 cores otherwise idle:
		// by replacement 342-450 s, in place 248-376 s.
		if has("replace") {
			return 460 * time.Second
		}
		return 380 * time.Second
	case has("replace") && has(chainLabel):
		return 330 * time.Second
	case has("replace"):
		return 391 * time.Second
	}
	return 210 * time.Second
}

// processSpecTime is a generous worst time of a process spec (the whole
// matrix took 1218 s serially on 2 cores, 39 s a path).
const processSpecTime = 60 * time.Second

// specGroup is a set of specs with the same labels.
type specGroup struct {
	name   string
	labels []string
}

// suiteSpecs lists the specs of the suite on provider, as registered.
func suiteSpecs(provider string) []specGroup {
	var out []specGroup
	for _, sc := range scenarios.All() {
		if ok, _ := sc.RunsOn(provider); ok {
			out = append(out, specGroup{pathSpecText(sc.Name, provider), specLabels(sc, provider)})
		}
	}
	if provider == "kind" {
		out = append(out, specGroup{"kind node image specs", nodeImageLabels})
	}
	return out
}

func loadProwJobs(t *testing.T) (periodics, presubmits []prowJob, repos []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", ".ci", "prow", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no Prow job definitions in .ci/prow")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var jobs prowJobs
		if err := yaml.UnmarshalStrict(b, &jobs); err != nil {
			// Strict only about the shape; unknown fields are Prow's.
			if err := yaml.Unmarshal(b, &jobs); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		periodics = append(periodics, jobs.Periodics...)
		for repo, js := range jobs.Presubmits {
			repos = append(repos, repo)
			presubmits = append(presubmits, js...)
		}
	}
	return periodics, presubmits, repos
}

// TestProwJobsLoad checks the Prow jobs in .ci/prow: what test-infra
// requires and kubeadm's kinder jobs carry (cluster, decoration, testgrid
// annotations, resources), privileged Docker-in-Docker for kind, Ginkgo's
// timeout clearly below the decoration timeout with room for each shard's
// measured time, and kind shards whose label filters select every kind spec
// exactly once.
func TestProwJobsLoad(t *testing.T) {
	periodics, presubmits, repos := loadProwJobs(t)
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "\ne2e:") || !strings.Contains(string(makefile), "--timeout=$(GINKGO_TIMEOUT)") ||
		!strings.Contains(string(makefile), "--label-filter='$(LABEL_FILTER)'") {
		t.Error("Makefile: the e2e target must pass GINKGO_TIMEOUT and LABEL_FILTER to ginkgo")
	}
	ciRun, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}

	names, tabs := map[string]bool{}, map[string]bool{}
	kindSpecs, processSpecs := suiteSpecs("kind"), suiteSpecs("process")
	selectedBy := map[string][]string{} // kind spec group -> jobs
	kindJobs := 0
	check := func(j prowJob, periodic bool) {
		if names[j.Name] {
			t.Errorf("%s: two jobs with this name", j.Name)
		}
		names[j.Name] = true
		if !j.Decorate {
			t.Errorf("%s: not decorated: $ARTIFACTS would not be set or uploaded", j.Name)
		}
		if j.Cluster == "" {
			t.Errorf("%s: no cluster (test-infra's jobs run on e.g. k8s-infra-prow-build)", j.Name)
		}
		if periodic && j.Interval == "" && j.Cron == "" {
			t.Errorf("%s: neither interval nor cron", j.Name)
		}
		for _, a := range []string{"testgrid-dashboards", "testgrid-tab-name", "description"} {
			if j.Annotations[a] == "" {
				t.Errorf("%s: no %s annotation", j.Name, a)
			}
		}
		if tab := j.Annotations["testgrid-tab-name"]; tab != "" {
			if tabs[tab] {
				t.Errorf("%s: testgrid tab %s used twice", j.Name, tab)
			}
			tabs[tab] = true
		}
		if periodic {
			if !strings.Contains(j.Annotations["testgrid-alert-email"], "@") {
				t.Errorf("%s: testgrid-alert-email %q is no address", j.Name, j.Annotations["testgrid-alert-email"])
			}
			if n, err := strconv.Atoi(j.Annotations["testgrid-num-failures-to-alert"]); err != nil || n < 1 {
				t.Errorf("%s: testgrid-num-failures-to-alert %q: want a positive number", j.Name, j.Annotations["testgrid-num-failures-to-alert"])
			}
		}
		decoration, err := time.ParseDuration(j.DecorationConfig.Timeout)
		if err != nil {
			t.Errorf("%s: decoration_config.timeout %q: %v (Prow's default would apply unseen)", j.Name, j.DecorationConfig.Timeout, err)
			return
		}
		if len(j.Spec.Containers) != 1 {
			t.Errorf("%s: want one container", j.Name)
			return
		}
		c := j.Spec.Containers[0]
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["cpu"] != c.Resources.Limits["cpu"] || c.Resources.Requests["memory"] != c.Resources.Limits["memory"] {
			t.Errorf("%s: resources: requests and limits of cpu and memory set and equal, as test-infra's jobs do (%v, %v)", j.Name, c.Resources.Requests, c.Resources.Limits)
		}
		cmd := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
		if strings.Contains(c.makeVar("GINKGO_ARGS"), "-p") || strings.Contains(c.makeVar("GINKGO_ARGS"), "procs") {
			t.Errorf("%s: GINKGO_ARGS %q: parallel processes come from KIND_PROCS (kind) or E2E_PROCS (process), which the Makefile matches with as many kind slots", j.Name, c.makeVar("GINKGO_ARGS"))
		}
		if v := c.makeVar("KIND_PROCS"); v != "" {
			procs, err := strconv.Atoi(v)
			cpus, cerr := strconv.Atoi(c.Resources.Requests["cpu"])
			switch {
			case err != nil || procs < 1:
				t.Errorf("%s: KIND_PROCS %q: want a positive number", j.Name, v)
			case cerr != nil || procs*cpusPerKindSpec > cpus:
				t.Errorf("%s: KIND_PROCS=%d with %s CPUs: each kind spec at once wants %d CPUs", j.Name, procs, c.Resources.Requests["cpu"], cpusPerKindSpec)
			}
		}
		provider := c.makeVar("PROVIDER")
		kind := provider == "kind" || !periodic
		if kind {
			if c.SecurityContext == nil || !c.SecurityContext.Privileged || j.Labels["preset-dind-enabled"] != "true" {
				t.Errorf("%s: kind needs a privileged container with Docker-in-Docker (preset-dind-enabled)", j.Name)
			}
			if !envValueTrue(c.env(RequireKindEnv)) {
				t.Errorf("%s: a kind job sets %s=1, or it passes by skipping when Docker cannot run kind", j.Name, RequireKindEnv)
			}
			if len(c.Command) == 0 || !strings.HasPrefix(c.Command[0], "wrapper.sh") {
				t.Errorf("%s: kind jobs run through wrapper.sh, which starts and cleans up dockerd", j.Name)
			}
		}

		if !periodic {
			// .ci/run is make test: the unit tests, then two Ginkgo suites
			// each bounded by FAST_TIMEOUT.
			if !slices.Contains(c.Command, ".ci/run") || !strings.Contains(string(ciRun), "make test") {
				t.Errorf("%s: runs %q, not .ci/run (make test)", j.Name, cmd)
			}
			fast, err := time.ParseDuration(c.makeVar("FAST_TIMEOUT"))
			if err != nil {
				t.Errorf("%s: FAST_TIMEOUT %q: %v", j.Name, c.makeVar("FAST_TIMEOUT"), err)
				return
			}
			unit := makeUnitTimeout(t, string(makefile))
			if worst := unit + 2*fast + decorationReserve; worst > decoration {
				t.Errorf("%s: unit tests (%s) and two suites of FAST_TIMEOUT %s, plus %s, exceed the decoration timeout %s", j.Name, unit, fast, decorationReserve, decoration)
			}
			return
		}

		if strings.HasPrefix(cmd, "make qualify") {
			// The qualification job (cmd/qualify) bounds itself with -timeout.
			if !strings.Contains(string(makefile), "\nqualify:") {
				t.Errorf("%s: runs make qualify, which the Makefile lacks", j.Name)
			}
			m := regexp.MustCompile(`-timeout=(\S+)`).FindStringSubmatch(c.makeVar("QUALIFY_ARGS"))
			if m == nil {
				t.Errorf("%s: QUALIFY_ARGS %q sets no -timeout: Prow, not qualify, would stop it and no report would be written", j.Name, c.makeVar("QUALIFY_ARGS"))
				return
			}
			if d, err := time.ParseDuration(m[1]); err != nil || d+decorationReserve > decoration {
				t.Errorf("%s: qualify's -timeout %s is not %s below the decoration timeout %s", j.Name, m[1], decorationReserve, decoration)
			}
			return
		}
		if !strings.HasPrefix(cmd, "make e2e") && !strings.HasPrefix(cmd, "wrapper.sh make e2e") {
			t.Errorf("%s: runs %q, not the make e2e target", j.Name, cmd)
		}
		ginkgo, err := time.ParseDuration(c.makeVar("GINKGO_TIMEOUT"))
		if err != nil {
			t.Errorf("%s: GINKGO_TIMEOUT %q: %v (the Makefile's default would outlive the job)", j.Name, c.makeVar("GINKGO_TIMEOUT"), err)
			return
		}
		if ginkgo+decorationReserve > decoration {
			t.Errorf("%s: Ginkgo's timeout %s is not %s below the decoration timeout %s: Prow, not Ginkgo, would stop it, and no spec would be reported", j.Name, ginkgo, decorationReserve, decoration)
		}

		specs := processSpecs
		if kind {
			specs = kindSpecs
			kindJobs++
		}
		filter := func([]string) bool { return true }
		if lf := c.makeVar("LABEL_FILTER"); lf != "" {
			if filter, err = types.ParseLabelFilter(lf); err != nil {
				t.Errorf("%s: LABEL_FILTER %q: %v", j.Name, lf, err)
				return
			}
		} else if kind {
			t.Errorf("%s: a kind job runs one shard: LABEL_FILTER", j.Name)
		}
		estimate, kit := processSetup, false
		if kind {
			estimate = coldSetup
		}
		var selected []string
		for _, s := range specs {
			if !filter(s.labels) {
				continue
			}
			selected = append(selected, s.name)
			if !kind {
				estimate += processSpecTime
				continue
			}
			selectedBy[s.name] = append(selectedBy[s.name], j.Name)
			estimate += kindSpecTime(s.labels)
			if slices.Contains(s.labels, "kubeadm-upgrade") && !kit {
				estimate, kit = estimate+upgradeKitSetup, true
			}
		}
		if len(selected) == 0 {
			t.Errorf("%s: LABEL_FILTER %q selects no %s spec", j.Name, c.makeVar("LABEL_FILTER"), provider)
		}
		if time.Duration(float64(estimate)*timeoutMargin) > ginkgo {
			t.Errorf("%s: its specs' worst measured time with a cold setup, %s, times %.2f exceeds Ginkgo's timeout %s", j.Name, estimate.Round(time.Minute), timeoutMargin, ginkgo)
		}
		t.Logf("%s: %d spec groups, estimate %s, ginkgo --timeout %s, decoration %s", j.Name, len(selected), estimate.Round(time.Minute), ginkgo, decoration)
	}
	for _, j := range periodics {
		check(j, true)
	}
	for _, j := range presubmits {
		check(j, false)
		if !j.AlwaysRun {
			t.Errorf("%s: a presubmit that does not always run guards nothing", j.Name)
		}
	}
	if kindJobs == 0 {
		t.Error("no periodic job runs the kind provider")
	}
	if len(presubmits) == 0 {
		t.Error("no presubmit runs .ci/run")
	}
	for _, r := range repos {
		if r != "etcd-upgrade-e2e/etcd-upgrade-e2e" {
			t.Errorf("presubmits for %s: want the repository the periodics check out", r)
		}
	}
	for _, s := range kindSpecs {
		if n := len(selectedBy[s.name]); n != 1 {
			t.Errorf("kind spec %s (labels %s) is run by %d kind jobs %v: the shards must select each exactly once", s.name, strings.Join(s.labels, ","), n, selectedBy[s.name])
		}
	}
}

var unitTimeoutRE = regexp.MustCompile(`(?m)^unit:\n\t\$\(GO\) test [^\n]*-timeout (\S+)`)

// makeUnitTimeout is the go test timeout of make unit.
func makeUnitTimeout(t *testing.T, makefile string) time.Duration {
	m := unitTimeoutRE.FindStringSubmatch(makefile)
	if m == nil {
		t.Error("Makefile: make unit has no go test -timeout")
		return 0
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Error(fmt.Errorf("make unit -timeout: %w", err))
	}
	return d
}
