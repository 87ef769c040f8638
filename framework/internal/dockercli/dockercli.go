// Package dockercli runs the docker CLI found on PATH: the one runner every
// package of the harness talks to Docker through. It finds docker on PATH on
// purpose: where the daemon refuses --privileged, a wrapper put first on
// PATH stands in for it (framework/nodeimage/dockerenv).
package dockercli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"etcd-upgrade-e2e/framework/internal/logtail"
)

// Error is a docker command that failed, with what docker said last.
type Error struct {
	Args []string
	Err  error
	// Output is the end of docker's stderr and stdout.
	Output string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("docker %s: %v", strings.Join(e.Args[:min(len(e.Args), 2)], " "), e.Err)
	if e.Output != "" {
		s += "\n" + e.Output
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// NotFound says docker answered that the object (image, container, network)
// does not exist.
func (e *Error) NotFound() bool {
	out := strings.ToLower(e.Output)
	return strings.Contains(out, "no such ") || strings.Contains(out, "not found")
}

// IsNotFound says err is a docker command whose object does not exist.
func IsNotFound(err error) bool {
	de, ok := err.(*Error)
	return ok && de.NotFound()
}

// Options change how a command runs.
type Options struct {
	Stdin io.Reader
	// Env is added to the environment (e.g. DOCKER_BUILDKIT=0).
	Env []string
	// ErrorLines is how many of docker's last lines an error quotes; 0
	// means 15.
	ErrorLines int
}

// Run runs docker with args and returns its stdout.
func Run(ctx context.Context, args ...string) (string, error) {
	return RunWith(ctx, Options{}, args...)
}

// RunWith runs docker with args and options and returns its stdout. When
// ctx ends first, the error is ctx's.
func RunWith(ctx context.Context, o Options, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	if len(o.Env) > 0 {
		cmd.Env = append(cmd.Environ(), o.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin = o.Stdin
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		n := o.ErrorLines
		if n == 0 {
			n = 15
		}
		return stdout.String(), &Error{Args: args, Err: err, Output: logtail.Last(strings.TrimSpace(stderr.String()+"\n"+stdout.String()), n)}
	}
	return stdout.String(), nil
}
