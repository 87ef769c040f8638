package dockercli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stand-in docker on PATH: the runner must find docker there, as the
// wrapper for daemons that refuse --privileged relies on.
func fakeDocker(t *testing.T, script string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestRun(t *testing.T) {
	fakeDocker(t, `echo "args: $*"; [ -n "$EXTRA" ] && echo "env: $EXTRA"; exit 0`)
	out, err := RunWith(context.Background(), Options{Env: []string{"EXTRA=1"}}, "image", "ls")
	if err != nil || !strings.Contains(out, "args: image ls") || !strings.Contains(out, "env: 1") {
		t.Fatalf("Run = %q, %v", out, err)
	}
}

func TestRunError(t *testing.T) {
	fakeDocker(t, `echo "Error: No such image: nope" >&2; exit 1`)
	_, err := Run(context.Background(), "image", "inspect", "nope")
	var de *Error
	if !errors.As(err, &de) || !de.NotFound() || !IsNotFound(err) {
		t.Fatalf("want a not-found *Error, got %v", err)
	}
	if !strings.Contains(err.Error(), "docker image inspect") || !strings.Contains(err.Error(), "No such image") {
		t.Fatalf("error does not quote docker: %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	fakeDocker(t, `sleep 5`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, "ps"); !errors.Is(err, context.Canceled) {
		t.Fatalf("want the context's error, got %v", err)
	}
}
