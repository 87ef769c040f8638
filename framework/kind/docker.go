package kind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	kindexec "sigs.k8s.io/kind/pkg/exec"

	"etcd-upgrade-e2e/framework/internal/dockercli"
	"etcd-upgrade-e2e/framework/internal/logtail"
)

// docker runs the docker CLI found on PATH (the wrapper that stands in for
// --privileged where the daemon refuses it, once dockerenv applied it).
func docker(ctx context.Context, args ...string) (string, error) {
	return dockercli.RunWith(ctx, dockercli.Options{ErrorLines: 10}, args...)
}

// nodeRun runs a command on a node and returns its combined output. Errors
// carry the command's last lines.
func nodeRun(ctx context.Context, n kindexec.Cmder, stdin io.Reader, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := n.CommandContext(ctx, name, args...).SetStdout(&out).SetStderr(&out)
	if stdin != nil {
		cmd.SetStdin(stdin)
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args[:min(len(args), 3)], " "), err, logtail.Last(out.String(), 10))
	}
	return out.String(), nil
}

// nodeOutput runs a command on a node and returns its stdout alone.
func nodeOutput(ctx context.Context, n kindexec.Cmder, name string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	if err := n.CommandContext(ctx, name, args...).SetStdout(&out).SetStderr(&errOut).Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args[:min(len(args), 3)], " "), err, logtail.Last(errOut.String(), 10))
	}
	return out.String(), nil
}

// runErrorOutput adds the output kind keeps in its RunError (kubeadm's
// own lines) to err, which otherwise only says "exit status 1".
func runErrorOutput(err error) error {
	if re := kindexec.RunErrorForError(err); re != nil && len(re.Output) > 0 {
		return fmt.Errorf("%w\n%s", err, logtail.Last(string(re.Output), 25))
	}
	return err
}
