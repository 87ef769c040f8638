package etcdbin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/internal/logtail"
)

// goModFor renders the throwaway module that builds one etcd release. etcd's
// own go.mod files carry replace directives, so `go install pkg@version`
// refuses them; requiring them from another module ignores those replaces
// and resolves every sibling module (api, client/pkg, client/v2 or v3, raft,
// pkg) at the versions the release pins.
//
// etcdutl is pinned separately: 3.5's etcdctl links it, and the module proxy
// does not serve every etcdutl patch release (v3.5.24 is refused). An earlier
// etcdutl builds fine against the release's own server and api modules, which
// minimal version selection keeps at the release, so both binaries still
// report exactly the requested version (Verify checks it).
//
// When the proxy lacks the release's etcdctl module too, planBuild picks an
// earlier one (modules.go).
func goModFor(v Version, etcdutl string) string {
	return goModWith(v, buildPlan{etcdctl: choice{version: v.Tag()}, etcdutl: choice{version: etcdutl}})
}

const etcdutlModule = "go.etcd.io/etcd/etcdutl/v3"

const toolsGo = `//go:build tools

package etcdbuild

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
`

func (p *Provisioner) buildTo(ctx context.Context, v Version, out string) error {
	work, err := os.MkdirTemp("", "etcdbuild-"+v.Tag()+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	plan, err := p.planBuild(ctx, v)
	if err != nil {
		return err
	}
	noSumDB := plan.noSumDB()
	env := noSumDBEnv(noSumDB)
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(goModWith(v, plan)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(toolsGo), 0o644); err != nil {
		return err
	}
	server, etcdctl := v.modulePaths()
	steps := [][]string{
		{"mod", "tidy", "-e"},
		{"build", "-trimpath", "-o", filepath.Join(out, "etcd"), server},
		{"build", "-trimpath", "-o", filepath.Join(out, "etcdctl"), etcdctl},
	}
	for _, args := range steps {
		start := time.Now()
		for {
			err := p.goRun(ctx, work, env, args...)
			if err == nil {
				break
			}
			// A sibling etcd module (pkg, api, client, raft) of the release
			// may be unknown to the checksum database too: it is let
			// through by name, as etcdctl and etcdutl are; anything else
			// fails the build.
			// A checksum database lookup that answers 404 reads like a
			// refusal ("reading <sumdb lookup URL>: 404"), so it is told
			// apart first: 3.5.27's pkg/v3 failed as not served that way.
			mod, ok := unknownEtcdModule(err.Error())
			if !ok {
				if m := refusedEtcdRE.FindStringSubmatch(err.Error()); m != nil {
					return &NotServedError{Version: v, Module: m[1], Line: m[0]}
				}
				return err
			}
			if len(env) > 0 && strings.Contains(env[0], mod) {
				return err
			}
			p.logf("etcd %s: %s is unknown to the checksum database; the build turns it off for that module alone (GONOSUMDB)", v, mod)
			noSumDB = append(noSumDB, mod)
			env = noSumDBEnv(noSumDB)
		}
		p.logf("etcd %s:   go %s (%s)", v, strings.Join(args[:1], " "), since(start))
	}
	return nil
}

// refusedEtcdRE finds an etcd module of the release the proxy refuses.
var refusedEtcdRE = regexp.MustCompile(`(go\.etcd\.io/etcd/[^\s@:]+@v[^\s:]+): reading \S+: (?:403 Forbidden|404 Not Found|410 Gone)`)

// NotServedError says a release cannot be built because the proxy refuses
// one of its modules (measured: raft/v3@v3.5.31's zip answers 403 while
// server/v3@v3.5.31 is served).
type NotServedError struct {
	Version Version
	Module  string
	Line    string
}

func (e *NotServedError) Error() string {
	return fmt.Sprintf("etcd %s is not served whole by the Go module proxy: it refuses %s (%s)", e.Version, e.Module, e.Line)
}

// unknownEtcdRE finds the module of a go command's "unknown to the
// checksum database" error.
var unknownEtcdRE = regexp.MustCompile(`(go\.etcd\.io/etcd/[^\s@:]+)@v[^\s:]+: verifying (?:go\.mod|module)`)

// sumdbLookupRE finds an etcd module whose checksum database lookup
// answered 404 or 410, however the go command words the rest ("verifying
// module: ...", or a go build's import line with no "verifying").
var sumdbLookupRE = regexp.MustCompile(`reading \S*/lookup/(go\.etcd\.io/etcd/[^\s@:]+)@v[^\s:]+: (?:404 Not Found|410 Gone)`)

// unknownEtcdModule names the etcd module a go command error says the
// checksum database does not know; only etcd's own modules qualify.
func unknownEtcdModule(msg string) (string, bool) {
	if strings.Contains(msg, "SECURITY ERROR") || strings.Contains(msg, "checksum mismatch") {
		return "", false
	}
	if m := sumdbLookupRE.FindStringSubmatch(msg); m != nil {
		return m[1], true
	}
	if !sumdbUnknown(msg) {
		return "", false
	}
	m := unknownEtcdRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func (p *Provisioner) goRun(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, p.goBin, args...)
	cmd.Dir = dir
	// CGO off gives static binaries that also run inside FROM-scratch images;
	// GOTOOLCHAIN=local stops go from fetching another toolchain; the project's
	// own GOFLAGS (e.g. -mod=vendor) must not leak into the throwaway module.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.Env = append(cmd.Env, env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, logtail.Last(buf.String(), 20))
	}
	return nil
}

// checkPublished asks the module proxy whether the release exists and is
// served whole, so that 3.5.99 (or a release whose server zip the proxy
// refuses) fails in seconds with a clear message instead of a build error.
func (p *Provisioner) checkPublished(ctx context.Context, v Version) error {
	server, _ := v.modulePaths()
	st, line, err := p.moduleState(ctx, server, v.Tag())
	if err != nil {
		return fmt.Errorf("etcd %s: %w", v, err)
	}
	if st == modNotServed {
		return fmt.Errorf("etcd %s does not exist or is not served: the Go module proxy gives no %s@%s (%s)", v, server, v.Tag(), line)
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
