package k8sbin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/fscache"
	"etcd-upgrade-e2e/framework/internal/logtail"
)

// Get returns the programs of release v, building them when the cache has
// no valid entry. One process builds a release at a time; the others wait.
func (b *Builder) Get(ctx context.Context, v Version) (Set, error) {
	if s, ok := b.fromCache(ctx, v); ok {
		return s, nil
	}
	lockCtx, cancel := context.WithTimeout(ctx, b.lockTimeout)
	defer cancel()
	unlock, err := fscache.Lock(lockCtx, filepath.Join(b.cacheDir, ".locks", v.String()+".lock"))
	if err != nil {
		return Set{}, fmt.Errorf("kubernetes %s: %w", v, err)
	}
	defer unlock()
	if s, ok := b.fromCache(ctx, v); ok { // another process built it meanwhile
		return s, nil
	}
	fscache.RemoveStaleTemps(b.cacheDir, v.String())
	dir := b.entryDir(v)
	_ = os.RemoveAll(dir) // an entry that failed verification

	start := time.Now()
	b.logf("kubernetes %s: building %s from the Go module proxy (about 5 min cold on 2 cores)", v, strings.Join(Programs(), ", "))
	if err := fscache.Install(dir, func(tmp string) error { return b.buildTo(ctx, v, tmp) }); err != nil {
		return Set{}, fmt.Errorf("kubernetes %s: build from the Go module proxy failed: %w", v, err)
	}
	s, err := b.verifyEntry(ctx, v, "build")
	if err != nil {
		_ = os.RemoveAll(dir)
		return Set{}, err
	}
	b.logf("kubernetes %s: built and verified in %s", v, since(start))
	return s, nil
}

// GetString parses s and calls Get.
func (b *Builder) GetString(ctx context.Context, s string) (Set, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return Set{}, err
	}
	return b.Get(ctx, v)
}

func (b *Builder) entryDir(v Version) string { return filepath.Join(b.cacheDir, v.String()) }

func (b *Builder) fromCache(ctx context.Context, v Version) (Set, bool) {
	if !fileExists(filepath.Join(b.entryDir(v), manifestFile)) {
		return Set{}, false
	}
	s, err := b.verifyEntry(ctx, v, "cache")
	if err != nil {
		b.logf("kubernetes %s: ignoring cache entry %s: %v", v, b.entryDir(v), err)
		return Set{}, false
	}
	return s, true
}

// manifestFile records how an entry was made and the sha256 of each program.
// It is written last, so an entry without it is incomplete.
const manifestFile = "manifest.json"

type manifest struct {
	Recipe    string            `json:"recipe"`
	Version   string            `json:"version"`
	GoVersion string            `json:"goVersion"`
	Sums      map[string]string `json:"sha256"`
}

// verifyEntry checks the manifest against the current recipe and asks kubeadm
// for its version: a binary built without the version ldflags reports
// v0.0.0-master and kubeadm would then refuse the cluster's version.
func (b *Builder) verifyEntry(ctx context.Context, v Version, source string) (Set, error) {
	dir := b.entryDir(v)
	raw, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return Set{}, err
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Set{}, fmt.Errorf("reading %s: %w", manifestFile, err)
	}
	if m.Recipe != recipe || m.Version != v.String() {
		return Set{}, fmt.Errorf("entry was made by recipe %s for %s, want %s for %s", m.Recipe, m.Version, recipe, v)
	}
	for _, p := range Programs() {
		if m.Sums[p] == "" || !fileExists(filepath.Join(dir, p)) {
			return Set{}, fmt.Errorf("entry lacks %s", p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "kubeadm"), "version", "-o", "short").CombinedOutput()
	if err != nil {
		return Set{}, fmt.Errorf("running kubeadm version: %w (%s)", err, strings.TrimSpace(string(out)))
	}
	if got := strings.TrimSpace(string(out)); got != v.String() {
		return Set{}, fmt.Errorf("kubeadm reports version %s, want %s", got, v)
	}
	return Set{Version: v, Dir: dir, Sums: m.Sums, Source: source}, nil
}

// GoMod renders the throwaway module: it requires k8s.io/kubernetes at v and
// replaces every staging module (read from Kubernetes' own go.mod) by its
// published version. goDirectives are the go and godebug lines of that
// go.mod, so the build gets the language version and GODEBUG defaults
// Kubernetes was released with.
func GoMod(v Version, staging []string, goDirectives []string) string {
	var sb strings.Builder
	sb.WriteString("module k8sbuild\n\n")
	for _, d := range goDirectives {
		sb.WriteString(d + "\n")
	}
	fmt.Fprintf(&sb, "\nrequire k8s.io/kubernetes %s\n\nreplace (\n", v)
	for _, m := range staging {
		fmt.Fprintf(&sb, "\t%s => %s %s\n", m, m, v.Staging())
	}
	sb.WriteString(")\n")
	return sb.String()
}

// ToolsGo makes `go mod tidy` resolve the dependencies of every program.
func ToolsGo() string {
	var sb strings.Builder
	sb.WriteString("//go:build tools\n\npackage k8sbuild\n\nimport (\n")
	for _, p := range Programs() {
		fmt.Fprintf(&sb, "\t_ %q\n", "k8s.io/kubernetes/cmd/"+p)
	}
	sb.WriteString(")\n")
	return sb.String()
}

// LDFlags sets the version variables as Kubernetes' hack/lib/version.sh does,
// with a fixed build date so that two builds of one release are identical.
func LDFlags(v Version) string {
	vars := [][2]string{
		{"gitVersion", v.String()},
		{"gitMajor", fmt.Sprint(v.Major)},
		{"gitMinor", fmt.Sprint(v.Minor)},
		{"gitTreeState", "clean"},
		{"buildDate", "1970-01-01T00:00:00Z"},
	}
	flags := []string{"-s", "-w"}
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		for _, kv := range vars {
			flags = append(flags, fmt.Sprintf("-X %s.%s=%s", pkg, kv[0], kv[1]))
		}
	}
	return strings.Join(flags, " ")
}

var stagingRE = regexp.MustCompile(`^\s*(k8s\.io/[^\s]+)\s+=>\s+\./staging/`)

// ParseKubernetesGoMod extracts the staging module paths and the go/godebug
// directives from k8s.io/kubernetes' go.mod.
func ParseKubernetesGoMod(gomod []byte) (staging, goDirectives []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := sc.Text()
		if m := stagingRE.FindStringSubmatch(line); m != nil {
			staging = append(staging, m[1])
			continue
		}
		if strings.HasPrefix(line, "go ") || strings.HasPrefix(line, "godebug ") {
			goDirectives = append(goDirectives, strings.TrimSpace(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(staging) == 0 {
		return nil, nil, fmt.Errorf("no staging replace directives found")
	}
	sort.Strings(staging)
	return staging, goDirectives, nil
}

func (b *Builder) buildTo(ctx context.Context, v Version, out string) error {
	work, err := os.MkdirTemp("", "k8sbuild-"+v.String()+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	start := time.Now()
	gomod, err := b.kubernetesGoMod(ctx, v, work)
	if err != nil {
		return err
	}
	staging, directives, err := ParseKubernetesGoMod(gomod)
	if err != nil {
		return fmt.Errorf("k8s.io/kubernetes@%s go.mod: %w", v, err)
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(GoMod(v, staging, directives)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(ToolsGo()), 0o644); err != nil {
		return err
	}
	b.logf("kubernetes %s:   module with %d staging replaces (%s)", v, len(staging), since(start))

	start = time.Now()
	if _, err := b.goRun(ctx, work, "mod", "tidy", "-e"); err != nil {
		return err
	}
	b.logf("kubernetes %s:   go mod tidy (%s)", v, since(start))

	start = time.Now()
	args := []string{"build", "-trimpath", "-ldflags", LDFlags(v), "-o", out + string(os.PathSeparator)}
	for _, p := range Programs() {
		args = append(args, "k8s.io/kubernetes/cmd/"+p)
	}
	if _, err := b.goRun(ctx, work, args...); err != nil {
		return err
	}
	b.logf("kubernetes %s:   go build of %d programs (%s)", v, len(Programs()), since(start))

	goVersion, err := b.goRun(ctx, work, "env", "GOVERSION")
	if err != nil {
		return err
	}
	m := manifest{Recipe: recipe, Version: v.String(), GoVersion: strings.TrimSpace(goVersion), Sums: map[string]string{}}
	for _, p := range Programs() {
		sum, err := fscache.FileSHA256(filepath.Join(out, p))
		if err != nil {
			return err
		}
		m.Sums[p] = sum
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, manifestFile), raw, 0o644)
}

// kubernetesGoMod fetches k8s.io/kubernetes' go.mod through the module proxy.
func (b *Builder) kubernetesGoMod(ctx context.Context, v Version, dir string) ([]byte, error) {
	out, err := b.goRun(ctx, dir, "mod", "download", "-json", "k8s.io/kubernetes@"+v.String())
	if err != nil {
		return nil, fmt.Errorf("kubernetes %s is not available from the Go module proxy: %w", v, err)
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return nil, fmt.Errorf("go mod download: %w", err)
	}
	if info.Error != "" {
		return nil, fmt.Errorf("kubernetes %s: %s", v, info.Error)
	}
	return os.ReadFile(info.GoMod)
}

func (b *Builder) goRun(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.goBin, args...)
	cmd.Dir = dir
	// Static binaries also run in FROM-scratch images; GOTOOLCHAIN=local keeps
	// go from fetching another toolchain; the project's own GOFLAGS and
	// workspace must not leak into the throwaway module.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off", "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args[:1], " "), contextErr(ctx, err), logtail.Last(stderr.String()+stdout.String(), 20))
	}
	return stdout.String(), nil
}
