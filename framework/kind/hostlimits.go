package kind

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Host limits kind documents for clusters of several nodes ("Pod errors due
// to too many open files"): every node runs systemd, containerd and a
// kubelet, each holding inotify instances of the host's root user. With
// the common default of 128 instances, a fourth control plane's systemd
// fails with "Failed to create control group inotify object: Too many open
// files".
var inotifyLimits = []struct {
	path string
	min  int
}{
	{"/proc/sys/fs/inotify/max_user_instances", 512},
	{"/proc/sys/fs/inotify/max_user_watches", 524288},
}

// EnsureHostLimits checks the host's inotify limits and, when raise is set
// (the harness runs as root), raises those below kind's recommendation. It
// returns what it changed, and a problem when a limit is too low and stays
// so.
func EnsureHostLimits(raise bool) (changed []string, problem string) {
	for _, l := range inotifyLimits {
		raw, err := os.ReadFile(l.path)
		if err != nil {
			continue // not Linux, or hidden: nothing to check
		}
		cur, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || cur >= l.min {
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(l.path, "/proc/sys/"), "/", ".")
		if raise {
			if err := os.WriteFile(l.path, []byte(strconv.Itoa(l.min)), 0o644); err == nil {
				changed = append(changed, fmt.Sprintf("%s %d -> %d", name, cur, l.min))
				continue
			}
		}
		return changed, fmt.Sprintf("%s is %d; kind clusters of several nodes need %d (sysctl -w %s=%d)", name, cur, l.min, name, l.min)
	}
	return changed, ""
}
