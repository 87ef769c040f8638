package etcdbin

import (
	"os"
	"regexp"
	"strings"
)

// Some etcd modules are served by the Go module proxy but unknown to the Go
// checksum database: for go.etcd.io/etcd/etcdutl/v3@v3.5.20 the proxy serves
// the .info, .mod and .zip, while sum.golang.org's lookup answers 404, so
// every build that needs it stops at "verifying go.mod: ... 404 Not Found".
//
// The build module then turns the checksum database off for that one module
// path alone (GONOSUMDB=go.etcd.io/etcd/etcdutl/v3): every other module of
// the build is still verified against sum.golang.org, and the etcdutl module
// still comes from the proxy over TLS. It is decided per module version by
// asking (moduleState in modules.go), never assumed, and the build log says
// so.

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
