package kind

import (
	"encoding/json"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
)

const manifest133 = `spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://172.18.0.3:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --experimental-initial-corrupt-check=true
    - --experimental-watch-progress-notify-interval=5s
    - --initial-advertise-peer-urls=https://172.18.0.3:2380
    image: registry.k8s.io/etcd:3.6.16-0
`

func TestSetManifestFlags(t *testing.T) {
	to37 := setManifestFlags(manifest133, etcdbin.MustParseVersion("3.7.3"))
	for _, want := range []string{"    - --feature-gates=InitialCorruptCheck=true\n", "    - --watch-progress-notify-interval=5s\n"} {
		if !strings.Contains(to37, want) {
			t.Errorf("3.7 manifest lacks %q:\n%s", want, to37)
		}
	}
	if strings.Contains(to37, "experimental") {
		t.Errorf("3.7 manifest keeps a flag 3.7 removed:\n%s", to37)
	}
	if got := setManifestFlags(manifest133, etcdbin.MustParseVersion("3.6.16")); got != manifest133 {
		t.Errorf("a 3.6 manifest changed:\n%s", got)
	}
	if back := setManifestFlags(to37, etcdbin.MustParseVersion("3.5.21")); back != manifest133 {
		t.Errorf("back to 3.5 the old names are not restored:\n%s", back)
	}
}

func TestJoinFlagPatch(t *testing.T) {
	if p, err := joinFlagPatch(etcdbin.MustParseVersion("3.6.16")); err != nil || p != "" {
		t.Fatalf("3.6 join patched: %q %v", p, err)
	}
	p, err := joinFlagPatch(etcdbin.MustParseVersion("3.7.3"))
	if err != nil {
		t.Fatal(err)
	}
	var ops []map[string]string
	if err := json.Unmarshal([]byte(p), &ops); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"test /spec/containers/0/command/5 --experimental-initial-corrupt-check=true",
		"replace /spec/containers/0/command/5 --feature-gates=InitialCorruptCheck=true",
		"test /spec/containers/0/command/6 --experimental-watch-progress-notify-interval=5s",
		"replace /spec/containers/0/command/6 --watch-progress-notify-interval=5s",
	}
	if len(ops) != len(want) {
		t.Fatalf("ops %v", ops)
	}
	for i, o := range ops {
		if got := o["op"] + " " + o["path"] + " " + o["value"]; got != want[i] {
			t.Errorf("op %d = %q, want %q", i, got, want[i])
		}
	}
	// The indices the patch tests are those of kubeadm 1.33's manifest.
	lines := strings.Split(manifest133, "\n")
	for i, o := range ops {
		if i%2 == 1 {
			continue
		}
		idx := int(o["path"][len(o["path"])-1] - '0')
		if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[3+idx]), "-")); got != o["value"] {
			t.Errorf("command[%d] of kubeadm's manifest is %q, the patch tests %q", idx, got, o["value"])
		}
	}
}
