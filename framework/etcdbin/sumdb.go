package etcdbin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Some etcd modules are served by the Go module proxy but unknown to the Go
// checksum database: for go.etcd.io/etcd/etcdutl/v3@v3.5.20 the proxy serves
// the .info, .mod and .zip, while sum.golang.org's lookup answers 404, so
// every build that needs it stops at "verifying go.mod: ... 404 Not Found".
// (etcd pushed the etcdutl/v3.5.20 tag after the release; the proxy fetched
// it, the checksum database never recorded it.)
//
// The build module then turns the checksum database off for that one module
// path alone (GONOSUMDB=go.etcd.io/etcd/etcdutl/v3): every other module of
// the build is still verified against sum.golang.org, and the etcdutl module
// still comes from the proxy over TLS. It is decided per version by asking
// (sumdbKnows), never assumed, and the build log says so.

// sumdbUnknownRE is how the go command reports a module version the
// checksum database does not know: the lookup URL answered 404 or 410.
var sumdbUnknownRE = regexp.MustCompile(`verifying (?:go\.mod|module): .*(?:sumdb|sum\.golang\.org).*(?:404 Not Found|410 Gone)`)

// sumdbUnknown says whether a go command error says the checksum database
// has no record of the module version (as opposed to a mismatch, which is a
// security error, or a network failure).
func sumdbUnknown(msg string) bool {
	if strings.Contains(msg, "SECURITY ERROR") || strings.Contains(msg, "checksum mismatch") {
		return false
	}
	return sumdbUnknownRE.MatchString(msg)
}

// sumdbKnows asks the go command to download mod@version with checksum
// verification on (go mod download verifies against the checksum database
// even when the module cache already holds the files). It answers false,
// with the go command's own line, when the database has no record; any
// other failure is an error.
func (p *Provisioner) sumdbKnows(ctx context.Context, mod, version string) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.goBin, "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	out, runErr := cmd.Output()
	if ctx.Err() != nil {
		return false, "", fmt.Errorf("the Go module proxy did not answer in time: %w", ctx.Err())
	}
	var info struct{ Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return false, "", fmt.Errorf("go mod download %s@%s: %v (%s)", mod, version, runErr, lastLine(string(out)))
	}
	switch {
	case info.Error == "":
		return true, "", nil
	case sumdbUnknown(info.Error):
		return false, info.Error, nil
	default:
		return false, "", fmt.Errorf("go mod download %s@%s: %s", mod, version, info.Error)
	}
}

// noSumDBEnv is the environment that turns the checksum database off for
// the given module paths alone, keeping what the user's GONOSUMDB names.
func noSumDBEnv(mods []string) []string {
	if len(mods) == 0 {
		return nil
	}
	if own := os.Getenv("GONOSUMDB"); own != "" {
		mods = append([]string{own}, mods...)
	}
	return []string{"GONOSUMDB=" + strings.Join(mods, ",")}
}
