package etcdbin

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/coreos/go-semver/semver"
)

// Version is one etcd release, e.g. 3.5.17 or 3.6.0-rc.3.
type Version struct {
	Major, Minor, Patch int
	Pre                 string // "rc.3", "" for a release
}

// preRE is the form of etcd's pre-releases.
var preRE = regexp.MustCompile(`^(?:alpha|beta|rc)\.\d+$`)

// ParseVersion accepts "3.5.17" or "v3.5.17" (and pre-releases such as
// "3.6.0-rc.3") and rejects releases the harness does not support: etcd 3.5
// and 3.6 take part in the 3.5 → 3.6 membership story, and 3.7 (which no
// longer reads a v2store) in where that story leads.
func ParseVersion(s string) (Version, error) {
	sv, err := semver.NewVersion(strings.TrimPrefix(s, "v"))
	if err != nil || sv.Metadata != "" || (sv.PreRelease != "" && !preRE.MatchString(string(sv.PreRelease))) {
		return Version{}, fmt.Errorf("malformed etcd version %q: want MAJOR.MINOR.PATCH such as 3.5.21 or v3.6.5", s)
	}
	v := Version{Major: int(sv.Major), Minor: int(sv.Minor), Patch: int(sv.Patch), Pre: string(sv.PreRelease)}
	if v.Major != 3 || v.Minor < 5 || v.Minor > 7 {
		return Version{}, fmt.Errorf("etcd %s is not supported: the harness covers etcd 3.5.x, 3.6.x and 3.7.x", v)
	}
	return v, nil
}

// MustParseVersion is ParseVersion for constants in scenario tables.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String gives the version without a leading v, as reports write it.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Tag gives the git tag and Go module version: v3.5.17.
func (v Version) Tag() string { return "v" + v.String() }

// MinorString gives "3.5".
func (v Version) MinorString() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or 1. A pre-release sorts before its release;
// pre-releases compare as strings, which orders alpha < beta < rc.
func (v Version) Compare(o Version) int {
	for _, d := range []int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	switch {
	case v.Pre == o.Pre:
		return 0
	case v.Pre == "":
		return 1
	case o.Pre == "":
		return -1
	case v.Pre < o.Pre:
		return -1
	default:
		return 1
	}
}

// Less reports v < o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// modulePaths names the Go packages of the etcd and etcdctl binaries.
func (v Version) modulePaths() (server, etcdctl string) {
	return "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3"
}

// parseReported extracts the version from `etcd --version` output, whose first
// line is "etcd Version: 3.5.17" (etcdctl: "etcdctl version: 3.5.17").
var reportedRE = regexp.MustCompile(`(?im)^etcd(?:ctl)? version:\s*(\S+)`)

func parseReported(out string) (string, error) {
	m := reportedRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no version line in %q", firstLine(out))
	}
	return m[1], nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
