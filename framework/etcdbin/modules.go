package etcdbin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The module proxy in front of this harness does not serve every module of
// every etcd release whole, and says so in different places: measured on
// 2026-11-30, go.etcd.io/etcd/server/v3@v3.5.25 has an .info but its .zip
// answers 403; etcdctl/v3 is refused for 3.5.22, 3.5.23, 3.5.25, 3.5.27 and
// 3.5.31; etcdutl/v3@v3.5.20 is served but unknown to the checksum
// database. `go list -m` only reads the .info, so a release it lists may
// still not build; `go mod download` fetches what a build fetches (the .mod
// and the .zip, verified against the checksum database) and is asked
// instead.

// moduleState is what the proxy and the checksum database say of one
// module version.
type moduleState string

const (
	modOK moduleState = "ok"
	// modSumDBUnknown: served whole, but the checksum database has no record.
	modSumDBUnknown moduleState = "served, unknown to the checksum database"
	modNotServed    moduleState = "not served"
)

// notServedMarks are the go command's words for a version the proxy will
// not give (it does not have it, or refuses it).
var notServedMarks = []string{"403 Forbidden", "404 Not Found", "410 Gone", "not available", "unknown revision", "invalid version"}

// classifyDownload reads `go mod download -json`'s Error field.
func classifyDownload(errMsg string) moduleState {
	switch {
	case errMsg == "":
		return modOK
	case sumdbUnknown(errMsg):
		return modSumDBUnknown
	}
	for _, m := range notServedMarks {
		if strings.Contains(errMsg, m) {
			return modNotServed
		}
	}
	return ""
}

// moduleState downloads mod@version as a build would and says what the
// proxy and the checksum database answered, with the go command's line.
// Anything else (no answer, no network) is an error.
func (p *Provisioner) moduleState(ctx context.Context, mod, version string) (moduleState, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.goBin, "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	out, runErr := cmd.Output()
	if ctx.Err() != nil {
		return "", "", fmt.Errorf("the Go module proxy did not answer in time: %w", ctx.Err())
	}
	var info struct{ Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		msg := string(out)
		if ee, ok := runErr.(*exec.ExitError); ok {
			msg += string(ee.Stderr)
		}
		if st := classifyDownload(msg); st == modNotServed {
			return st, lastLine(msg), nil
		}
		return "", "", fmt.Errorf("go mod download %s@%s: %v (%s)", mod, version, runErr, lastLine(msg))
	}
	st := classifyDownload(info.Error)
	if st == "" {
		return "", "", fmt.Errorf("go mod download %s@%s: %s", mod, version, info.Error)
	}
	return st, oneLine(info.Error), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// choice is the version of one etcd module a build uses.
type choice struct {
	module, version string
	state           moduleState
}

// nearestServed finds mod at v's patch, else the nearest earlier patch the
// proxy serves whole (at most 12 back).
func (p *Provisioner) nearestServed(ctx context.Context, mod string, v Version) (choice, error) {
	for patch := v.Patch; patch >= 0 && patch > v.Patch-12; patch-- {
		cand := Version{Major: v.Major, Minor: v.Minor, Patch: patch}
		if patch == v.Patch {
			cand.Pre = v.Pre
		}
		st, line, err := p.moduleState(ctx, mod, cand.Tag())
		if err != nil {
			return choice{}, err
		}
		if st == modNotServed {
			if cand == v {
				p.logf("etcd %s: the module proxy does not serve %s@%s whole (%s)", v, mod, cand.Tag(), line)
			}
			continue
		}
		if st == modSumDBUnknown {
			p.logf("etcd %s: the module proxy serves %s@%s but the checksum database has no record of it (%s); "+
				"the build turns the checksum database off for %s alone (GONOSUMDB), every other module still verified", v, mod, cand.Tag(), line, mod)
		}
		return choice{module: mod, version: cand.Tag(), state: st}, nil
	}
	return choice{}, fmt.Errorf("no %s at or before %s is served by the module proxy", mod, v.Tag())
}

// buildPlan is the module versions one release's build uses.
type buildPlan struct {
	server  choice
	etcdctl choice
	// etcdutl is set for 3.5 (its etcdctl links etcdutl).
	etcdutl choice
}

// noSumDB lists the modules the checksum database does not know.
func (b buildPlan) noSumDB() []string {
	var out []string
	for _, c := range []choice{b.server, b.etcdctl, b.etcdutl} {
		if c.state == modSumDBUnknown {
			out = append(out, c.module)
		}
	}
	return out
}

// planBuild picks the etcdctl (and, for 3.5, etcdutl) module versions. When
// the proxy does not serve the release's own etcdctl, the nearest earlier
// etcdctl is built against the release's own server, api and client
// modules (minimal version selection keeps them at the release, which is
// what etcdctl reports and Verify checks): etcdctl is the harness's tool,
// not what is being tested; the etcd binary is always the release's own.
func (p *Provisioner) planBuild(ctx context.Context, v Version) (buildPlan, error) {
	var b buildPlan
	serverMod, etcdctlMod := v.modulePaths()
	st, line, err := p.moduleState(ctx, serverMod, v.Tag())
	if err != nil {
		return b, fmt.Errorf("etcd %s: %w", v, err)
	}
	if st == modNotServed {
		return b, fmt.Errorf("etcd %s: the module proxy does not serve %s@%s whole (%s)", v, serverMod, v.Tag(), line)
	}
	if st == modSumDBUnknown {
		p.logf("etcd %s: %s@%s is unknown to the checksum database (%s); the build turns it off for that module alone", v, serverMod, v.Tag(), line)
	}
	b.server = choice{module: serverMod, version: v.Tag(), state: st}
	if b.etcdctl, err = p.nearestServed(ctx, etcdctlMod, v); err != nil {
		return b, fmt.Errorf("etcd %s: %w", v, err)
	}
	if b.etcdctl.version != v.Tag() {
		p.logf("etcd %s: etcdctl is built from %s@%s against the release's own modules", v, etcdctlMod, b.etcdctl.version)
	}
	if v.Minor == 5 {
		ctl, _ := ParseVersion(b.etcdctl.version)
		if b.etcdutl, err = p.nearestServed(ctx, etcdutlModule, ctl); err != nil {
			return b, fmt.Errorf("etcd %s: %w", v, err)
		}
		if b.etcdutl.version != b.etcdctl.version {
			p.logf("etcd %s: etcdctl links %s@%s", v, etcdutlModule, b.etcdutl.version)
		}
	}
	return b, nil
}

// goModWith renders the build module for release v with the plan's
// etcdctl and etcdutl.
func goModWith(v Version, b buildPlan) string {
	server, etcdctl := v.modulePaths()
	mod := fmt.Sprintf("module etcdbuild\n\ngo 1.22\n\nrequire (\n\t%s %s\n\t%s %s\n)\n", server, v.Tag(), etcdctl, b.etcdctl.version)
	if b.etcdutl.version != "" && b.etcdutl.version != b.etcdctl.version {
		// etcdctl's go.mod names etcdutl at its own version; the replace
		// keeps go from asking the proxy for that go.mod at all.
		mod += fmt.Sprintf("\nreplace %s %s => %s %s\n", etcdutlModule, b.etcdctl.version, etcdutlModule, b.etcdutl.version)
	}
	return mod
}
