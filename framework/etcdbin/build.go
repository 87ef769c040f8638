package etcdbin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
func goModFor(v Version, etcdutl string) string {
	server, etcdctl := v.modulePaths()
	mod := fmt.Sprintf("module etcdbuild\n\ngo 1.22\n\nrequire (\n\t%s %s\n\t%s %s\n)\n", server, v.Tag(), etcdctl, v.Tag())
	if etcdutl != "" && etcdutl != v.Tag() {
		// etcdctl's go.mod names etcdutl at the release; the replace keeps
		// go from asking the proxy for that go.mod at all.
		mod += fmt.Sprintf("\nreplace %s %s => %s %s\n", etcdutlModule, v.Tag(), etcdutlModule, etcdutl)
	}
	return mod
}

const etcdutlModule = "go.etcd.io/etcd/etcdutl/v3"

// etcdutlChoice is the etcdutl a 3.5 etcdctl links, and whether the
// checksum database knows it (see sumdb.go).
type etcdutlChoice struct {
	version string
	// noSumDB: the proxy serves this version but sum.golang.org has no
	// record of it; the build verifies every other module as usual.
	noSumDB bool
}

// etcdutlFor finds the etcdutl version to link into a 3.5 etcdctl: the
// release's own when served, else the nearest earlier patch that is.
func (p *Provisioner) etcdutlFor(ctx context.Context, v Version) (etcdutlChoice, error) {
	if v.Minor != 5 {
		return etcdutlChoice{}, nil
	}
	for patch := v.Patch; patch >= 0 && patch > v.Patch-12; patch-- {
		cand := Version{Major: v.Major, Minor: v.Minor, Patch: patch}
		if patch == v.Patch {
			cand.Pre = v.Pre
		}
		if p.published(ctx, etcdutlModule, cand.Tag()) != nil {
			continue
		}
		if cand != v {
			p.logf("etcd %s: the module proxy does not serve %s@%s; etcdctl links %s instead", v, etcdutlModule, v.Tag(), cand.Tag())
		}
		known, line, err := p.sumdbKnows(ctx, etcdutlModule, cand.Tag())
		if err != nil {
			return etcdutlChoice{}, fmt.Errorf("etcd %s: %w", v, err)
		}
		if !known {
			p.logf("etcd %s: the module proxy serves %s@%s but the checksum database has no record of it (%s); "+
				"building with GONOSUMDB=%s, every other module still verified", v, etcdutlModule, cand.Tag(), line, etcdutlModule)
		}
		return etcdutlChoice{version: cand.Tag(), noSumDB: !known}, nil
	}
	return etcdutlChoice{}, fmt.Errorf("no %s near %s is served by the module proxy", etcdutlModule, v.Tag())
}

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
	etcdutl, err := p.etcdutlFor(ctx, v)
	if err != nil {
		return err
	}
	var env []string
	if etcdutl.noSumDB {
		env = noSumDBEnv([]string{etcdutlModule})
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(goModFor(v, etcdutl.version)), 0o644); err != nil {
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
		if err := p.goRun(ctx, work, env, args...); err != nil {
			return err
		}
		p.logf("etcd %s:   go %s (%s)", v, strings.Join(args[:1], " "), since(start))
	}
	return nil
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

// checkPublished asks the module proxy whether the release exists, so that
// 3.5.99 fails in seconds with a clear message instead of a build error.
func (p *Provisioner) checkPublished(ctx context.Context, v Version) error {
	server, _ := v.modulePaths()
	err := p.published(ctx, server, v.Tag())
	var nf *notServedError
	if errors.As(err, &nf) {
		return fmt.Errorf("etcd %s does not exist: the Go module proxy has no %s@%s (%s)", v, server, v.Tag(), nf.msg)
	}
	if err != nil {
		return fmt.Errorf("etcd %s: %w", v, err)
	}
	return nil
}

type notServedError struct{ msg string }

func (e *notServedError) Error() string { return "not served: " + e.msg }

// published asks the module proxy (through go list) whether mod@version exists.
func (p *Provisioner) published(ctx context.Context, mod, version string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.goBin, "list", "-m", "-json", mod+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("the Go module proxy did not answer in time: %w", ctx.Err())
	}
	if err != nil || bytes.Contains(out, []byte(`"Error"`)) {
		return &notServedError{msg: lastLine(string(out))}
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
