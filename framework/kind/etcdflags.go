package kind

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// etcdFlagRenames are the etcd flags kubeadm 1.33 writes under the names
// etcd 3.6 deprecated and 3.7 removed, with the names kubeadm writes for
// etcd 3.6 and later (cmd/kubeadm/app/phases/etcd/local.go, 1.34).
var etcdFlagRenames = []struct{ old, new string }{
	{"--experimental-initial-corrupt-check=", "--feature-gates=InitialCorruptCheck="},
	{"--experimental-watch-progress-notify-interval=", "--watch-progress-notify-interval="},
}

// setManifestFlags gives the manifest's etcd command the flag names etcd v
// accepts, as kubeadm writes them for v: 3.7 knows only the new names, 3.5
// only the old. 3.6 takes both and its manifest is left as it is: the kind
// runs on 3.6 were measured with kubeadm 1.33's names.
func setManifestFlags(manifest string, v etcdbin.Version) string {
	for _, r := range etcdFlagRenames {
		switch {
		case v.Minor >= 7:
			manifest = replaceFlag(manifest, r.old, r.new)
		case v.Minor <= 5:
			manifest = replaceFlag(manifest, r.new, r.old)
		}
	}
	return manifest
}

// replaceFlag renames one flag of the YAML command list ("- --from=value").
func replaceFlag(manifest, from, to string) string {
	re := regexp.MustCompile(`(?m)^(\s*-\s*)` + regexp.QuoteMeta(from))
	return re.ReplaceAllString(manifest, "${1}"+strings.ReplaceAll(to, "$", "$$"))
}

// patchesDir holds the kubeadm patches of a joining node.
const patchesDir = "/kind/patches"

// joinFlagPatch is the kubeadm patch (target etcd, JSON patch) that gives a
// joining etcd v the flag names it accepts, or "" when kubeadm 1.33's own
// do. kubeadm sorts the etcd flags, so the renamed two are always
// command[5] and command[6] (after advertise-client-urls, cert-file,
// client-cert-auth, data-dir); each replacement is guarded by a test, so
// that another layout fails the join with kubeadm's own error instead of
// patching the wrong flag.
func joinFlagPatch(v etcdbin.Version) (string, error) {
	if v.Minor < 7 {
		return "", nil
	}
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	}
	var ops []op
	for i, r := range []struct{ old, new string }{
		{etcdFlagRenames[0].old + "true", etcdFlagRenames[0].new + "true"},
		{etcdFlagRenames[1].old + "5s", etcdFlagRenames[1].new + "5s"},
	} {
		path := fmt.Sprintf("/spec/containers/0/command/%d", 5+i)
		ops = append(ops, op{"test", path, r.old}, op{"replace", path, r.new})
	}
	b, err := json.Marshal(ops)
	return string(b), err
}
