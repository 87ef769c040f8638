package etcdbin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goModFor renders the throwaway module that builds one etcd release. etcd's
// own go.mod files carry replace directives, so `go install pkg@version`
// refuses them; requiring them from another module ignores those replaces
// and resolves every sibling module (api, client/pkg, client/v2 or v3, raft,
// pkg) at the versions the release pins.
func goModFor(v Version) string {
	server, etcdctl := v.modulePaths()
	return fmt.Sprintf("module etcdbuild\n\ngo 1.22\n\nrequire (\n\t%s %s\n\t%s %s\n)\n", server, v.Tag(), etcdctl, v.Tag())
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
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(goModFor(v)), 0o644); err != nil {
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
		if err := p.goRun(ctx, work, args...); err != nil {
			return err
		}
		p.logf("etcd %s:   go %s (%s)", v, strings.Join(args[:1], " "), since(start))
	}
	return nil
}

func (p *Provisioner) goRun(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, p.goBin, args...)
	cmd.Dir = dir
	// CGO off gives static binaries that also run inside FROM-scratch images;
	// GOTOOLCHAIN=local stops go from fetching another toolchain; the project's
	// own GOFLAGS (e.g. -mod=vendor) must not leak into the throwaway module.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, tail(buf.String(), 20))
	}
	return nil
}

// checkPublished asks the module proxy whether the release exists, so that
// 3.5.99 fails in seconds with a clear message instead of a build error.
func (p *Provisioner) checkPublished(ctx context.Context, v Version) error {
	server, _ := v.modulePaths()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.goBin, "list", "-m", "-json", server+"@"+v.Tag())
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if ctx.Err() != nil {
			return fmt.Errorf("etcd %s: the Go module proxy did not answer in time: %w", v, ctx.Err())
		}
		return fmt.Errorf("etcd %s does not exist: the Go module proxy has no %s@%s (%s)", v, server, v.Tag(), lastLine(msg))
	}
	if bytes.Contains(out, []byte(`"Error"`)) {
		return fmt.Errorf("etcd %s does not exist: the Go module proxy has no %s@%s (%s)", v, server, v.Tag(), lastLine(string(out)))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
