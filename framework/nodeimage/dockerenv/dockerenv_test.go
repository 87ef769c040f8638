package dockerenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v, min string
		want   bool
	}{
		{"20.10.24+dfsg1", "20.10.0", true},
		{"28.2.2", "20.10.0", true},
		{"19.03.15", "20.10.0", false},
		{"20.10.0", "20.10.0", true},
		{"20.9.9", "20.10.0", false},
		{"", "20.10.0", false},
		{"garbage", "20.10.0", false},
	} {
		if got := AtLeast(tc.v, tc.min); got != tc.want {
			t.Errorf("AtLeast(%q, %q) = %v, want %v", tc.v, tc.min, got, tc.want)
		}
	}
}

func TestRunFlags(t *testing.T) {
	priv := strings.Join(RunFlags(true), " ")
	if !strings.HasPrefix(priv, "--privileged ") || strings.Contains(priv, "--cap-add") {
		t.Errorf("privileged flags = %s", priv)
	}
	unpriv := strings.Join(RunFlags(false), " ")
	for _, want := range []string{"--cap-add ALL", "--cap-drop SYS_RESOURCE", "systempaths=unconfined", "--device-cgroup-rule a *:* rwm", "seccomp=unconfined"} {
		if !strings.Contains(unpriv, want) {
			t.Errorf("unprivileged flags %q lack %q", unpriv, want)
		}
	}
	if strings.Contains(unpriv, "--privileged") {
		t.Errorf("unprivileged flags ask for --privileged: %s", unpriv)
	}
}

// fakeDocker writes a "docker" that prints its arguments one per line.
func fakeDocker(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docker")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWrapperRewritesPrivileged(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	real := fakeDocker(t)
	wrapper, err := WriteWrapper(t.TempDir(), real)
	if err != nil {
		t.Fatal(err)
	}
	call := func(args ...string) []string {
		out, err := exec.Command(wrapper, args...).Output()
		if err != nil {
			t.Fatalf("wrapper %v: %v", args, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}

	got := call("run", "--name", "n", "--privileged", "--security-opt", "seccomp=unconfined", "img:tag")
	want := append(append([]string{"run", "--name", "n"}, UnprivilegedRunFlags()...), "--security-opt", "seccomp=unconfined", "img:tag")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("run:\n got %q\nwant %q", got, want)
	}

	got = call("exec", "--privileged", "-i", "node", "cat", "/kind/version")
	if strings.Join(got, "|") != "exec|-i|node|cat|/kind/version" {
		t.Errorf("exec: got %q", got)
	}

	// other subcommands pass through untouched, arguments with spaces too
	got = call("inspect", "--format", "{{ .Name }} x", "--privileged")
	if strings.Join(got, "|") != "inspect|--format|{{ .Name }} x|--privileged" {
		t.Errorf("inspect: got %q", got)
	}
}

func TestWriteWrapperIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	p1, err := WriteWrapper(dir, "/usr/bin/docker")
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(p1)
	p2, err := WriteWrapper(dir, "/usr/bin/docker")
	if err != nil || p1 != p2 {
		t.Fatalf("second write: %s, %v", p2, err)
	}
	st2, _ := os.Stat(p2)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("an unchanged wrapper was rewritten")
	}
	if st2.Mode().Perm()&0o111 == 0 {
		t.Errorf("wrapper is not executable: %v", st2.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestPrependPath(t *testing.T) {
	got := prependPath("/w", "/usr/bin:/w:/bin::")
	if got != "/w:/usr/bin:/bin" {
		t.Errorf("prependPath = %q", got)
	}
}

func TestRealDockerSkipsWrappers(t *testing.T) {
	cache := t.TempDir()
	wrapperDir := filepath.Join(cache, "docker-wrapper", "abc")
	if _, err := WriteWrapper(wrapperDir, "/nonexistent/docker"); err != nil {
		t.Fatal(err)
	}
	real := fakeDocker(t)
	t.Setenv("PATH", wrapperDir+string(os.PathListSeparator)+filepath.Dir(real))
	got, err := realDocker(cache)
	if err != nil || got != real {
		t.Errorf("realDocker = %q, %v; want %q", got, err, real)
	}
}

func TestCheckWithoutDocker(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	st := Check(t.Context())
	if st.Usable() || !strings.Contains(st.Problem, "not installed") {
		t.Errorf("Check without docker = %+v", st)
	}
}

func TestDaemonError(t *testing.T) {
	out := "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: " +
		"unable to start container process: unable to apply caps: operation not permitted: unknown\n\nRun 'docker run --help' for more information"
	if got := daemonError(out); got != "unable to apply caps: operation not permitted" {
		t.Errorf("daemonError = %q", got)
	}
	if got := daemonError("something else\nlast"); got != "last" {
		t.Errorf("daemonError fallback = %q", got)
	}
}
