// Package dockerenv checks the Docker daemon kind will use and prepares the
// process environment so that kind works on a daemon that refuses
// --privileged.
//
// kind passes --privileged to `docker run` (node containers) and `docker exec`
// (every command on a node), and finds docker on PATH. Some daemons cannot
// grant it: when dockerd's own capability bounding set lacks
// CAP_SYS_RESOURCE, runc fails with "unable to apply caps: operation not
// permitted". Every capability but that one, unconfined system paths and all
// devices are enough for nested containers, so a docker wrapper first on PATH
// replaces the flag; kind itself is not patched.
package dockerenv

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/internal/dockercli"
)

// MinServerVersion is the oldest daemon kind v0.30 works with: it runs nodes
// with --cgroupns=private, which needs API 1.41 (Docker 20.10).
const MinServerVersion = "20.10.0"

// Status describes the Docker daemon.
type Status struct {
	// Client is the docker command found on PATH ("" when none is).
	Client string
	// ServerVersion is the daemon's version ("" when it did not answer).
	ServerVersion string
	// Problem says why kind cannot run here; "" when it can.
	Problem string
}

// Usable reports whether kind can run on this daemon.
func (s Status) Usable() bool { return s.Problem == "" }

// Check asks docker for the daemon's version. A missing client, a daemon
// that does not answer and a daemon older than MinServerVersion are reported
// in Problem, so that kind specs are skipped with that reason.
func Check(ctx context.Context) Status {
	client, err := exec.LookPath("docker")
	if err != nil {
		return Status{Problem: "docker is not installed (no docker command on PATH)"}
	}
	s := Status{Client: client}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, client, "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		s.Problem = fmt.Sprintf("the Docker daemon does not answer: %s", firstLine(string(out), err))
		return s
	}
	s.ServerVersion = strings.TrimSpace(string(out))
	if !AtLeast(s.ServerVersion, MinServerVersion) {
		s.Problem = fmt.Sprintf("Docker %s is too old: kind needs %s or newer (--cgroupns=private)", s.ServerVersion, MinServerVersion)
	}
	return s
}

var leadingVersionRE = regexp.MustCompile(`^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// AtLeast compares the leading MAJOR.MINOR.PATCH of two docker versions such
// as "20.10.24+dfsg1" and "28.2.2".
func AtLeast(version, min string) bool {
	parse := func(s string) ([3]int, bool) {
		var v [3]int
		m := leadingVersionRE.FindStringSubmatch(strings.TrimSpace(s))
		if m == nil {
			return v, false
		}
		for i := 0; i < 3; i++ {
			v[i], _ = strconv.Atoi(m[i+1])
		}
		return v, true
	}
	a, ok := parse(version)
	if !ok {
		return false
	}
	b, _ := parse(min)
	for i := 0; i < 3; i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// UnprivilegedRunFlags stand in for --privileged on `docker run` where the
// daemon refuses it. kind adds seccomp=unconfined and apparmor=unconfined
// itself.
func UnprivilegedRunFlags() []string {
	return []string{
		"--cap-add", "ALL",
		"--cap-drop", "SYS_RESOURCE",
		"--security-opt", "systempaths=unconfined",
		"--device-cgroup-rule", "a *:* rwm",
	}
}

// RunFlags are the flags that give a build container what a kind node gets:
// --privileged where the daemon allows it, the stand-in otherwise.
func RunFlags(privileged bool) []string {
	flags := []string{"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"}
	if privileged {
		return append([]string{"--privileged"}, flags...)
	}
	return append(UnprivilegedRunFlags(), flags...)
}

// ProbePrivileged starts a container from image (a tiny local image whose
// entrypoint exits 0, e.g. the pause program with -v) with --privileged. It
// returns false with the daemon's answer when the daemon refuses the flag,
// and an error when even an ordinary container does not start.
func ProbePrivileged(ctx context.Context, image string, args ...string) (bool, string, error) {
	run := func(extra ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		argv := append(append([]string{"run", "--rm", "--network", "none"}, extra...), image)
		argv = append(argv, args...)
		out, err := dockercli.Run(ctx, argv...)
		var de *dockercli.Error
		if errors.As(err, &de) {
			out = de.Output
		}
		return strings.TrimSpace(out), err
	}
	out, err := run("--privileged")
	if err == nil {
		return true, "", nil
	}
	refusal := daemonError(out)
	if out, err := run(); err != nil {
		return false, refusal, fmt.Errorf("docker cannot start a container from %s at all: %w (%s)", image, err, out)
	}
	if out, err := run(UnprivilegedRunFlags()...); err != nil {
		return false, refusal, fmt.Errorf("the daemon refuses --privileged (%s) and also the stand-in flags %v: %w (%s)",
			refusal, UnprivilegedRunFlags(), err, out)
	}
	return false, refusal, nil
}

// daemonError picks the daemon's reason out of docker's output, e.g. "unable
// to apply caps: operation not permitted" from a long OCI runtime error.
func daemonError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.Contains(l, "Error") && !strings.Contains(l, "error") {
			continue
		}
		if i := strings.LastIndex(l, "unable to start container process: "); i >= 0 {
			l = l[i+len("unable to start container process: "):]
		}
		return strings.TrimSuffix(l, ": unknown")
	}
	return lastLine(out)
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return err.Error()
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// RemoveNetworkIfUnused deletes the docker network name when no container is
// attached to it: kind creates a shared "kind" network on first use and
// never deletes it. It reports whether the network is gone. A network that
// is in use (another cluster) is left alone; the daemon also refuses to
// delete one with endpoints, so a race costs nothing.
func RemoveNetworkIfUnused(ctx context.Context, name string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := dockercli.Run(ctx, "network", "inspect", "--format", "{{len .Containers}}", name)
	if err != nil {
		if dockercli.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
	if strings.TrimSpace(out) != "0" {
		return false, nil
	}
	if _, err := dockercli.Run(ctx, "network", "rm", name); err != nil {
		if strings.Contains(err.Error(), "active endpoints") {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
