package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// prowJobs is the part of Prow's periodic job schema the harness relies on.
type prowJobs struct {
	Periodics []struct {
		Name             string            `json:"name"`
		Interval         string            `json:"interval"`
		Cron             string            `json:"cron"`
		Decorate         bool              `json:"decorate"`
		Labels           map[string]string `json:"labels"`
		DecorationConfig struct {
			Timeout string `json:"timeout"`
		} `json:"decoration_config"`
		Spec struct {
			Containers []struct {
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
			} `json:"containers"`
		} `json:"spec"`
	} `json:"periodics"`
}

// TestProwJobsLoad checks the periodic jobs in .ci/prow: decorated (so
// $ARTIFACTS is set and uploaded), scheduled, running a make target that
// exists, and for kind privileged Docker-in-Docker as kind jobs need.
func TestProwJobsLoad(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", ".ci", "prow", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no Prow job definitions in .ci/prow")
	}
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	kind := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var jobs prowJobs
		if err := yaml.Unmarshal(b, &jobs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, j := range jobs.Periodics {
			if !j.Decorate {
				t.Errorf("%s: not decorated: $ARTIFACTS would not be set or uploaded", j.Name)
			}
			if j.Interval == "" && j.Cron == "" {
				t.Errorf("%s: neither interval nor cron", j.Name)
			}
			if len(j.Spec.Containers) != 1 {
				t.Fatalf("%s: want one container", j.Name)
			}
			c := j.Spec.Containers[0]
			cmd := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
			if !strings.Contains(cmd, "make e2e") {
				t.Errorf("%s: runs %q, not the make e2e target", j.Name, cmd)
			}
			if !strings.Contains(string(makefile), "\ne2e:") {
				t.Error("Makefile has no e2e target")
			}
			if strings.Contains(cmd, "PROVIDER=kind") {
				kind = true
				if c.SecurityContext == nil || !c.SecurityContext.Privileged || j.Labels["preset-dind-enabled"] != "true" {
					t.Errorf("%s: kind needs a privileged container with Docker-in-Docker (preset-dind-enabled)", j.Name)
				}
				required := false
				for _, e := range c.Env {
					required = required || (e.Name == RequireKindEnv && envValueTrue(e.Value))
				}
				if !required {
					t.Errorf("%s: a kind job sets %s=1, or it passes by skipping when Docker cannot run kind", j.Name, RequireKindEnv)
				}
				if !strings.HasPrefix(c.Command[0], "wrapper.sh") {
					t.Errorf("%s: kind jobs run through wrapper.sh, which starts and cleans up dockerd", j.Name)
				}
			}
		}
	}
	if !kind {
		t.Error("no periodic job runs the kind provider")
	}
}
