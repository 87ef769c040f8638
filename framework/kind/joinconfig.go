package kind

import (
	"bytes"
	"text/template"
)

// bootstrapToken is the token kind's kubeadm init creates for joins
// (sigs.k8s.io/kind/pkg/cluster/internal/kubeadm.Token, not importable).
const bootstrapToken = "abcdef.0123456789abcdef"

// joinConfigPath is where kind keeps a node's kubeadm configuration.
const joinConfigPath = "/kind/kubeadm.conf"

// joinData is what a control-plane JoinConfiguration is rendered from.
type joinData struct {
	Cluster  string // kind cluster name
	Node     string // node (container) name, also the etcd member name
	NodeIP   string
	Endpoint string // control-plane endpoint: kind's load balancer
	// Patches is kubeadm's patches directory, "" for none.
	Patches string
}

// joinTemplate is the JoinConfiguration kind writes for a secondary control
// plane, in kubeadm's v1beta4 form (kubeletExtraArgs as name/value pairs).
// Preflight is skipped as kind does: the images are preloaded and the node
// is a container.
const joinTemplate = `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
controlPlane:
  localAPIEndpoint:
    advertiseAddress: "{{ .NodeIP }}"
    bindPort: 6443
nodeRegistration:
  name: "{{ .Node }}"
  criSocket: "unix:///run/containerd/containerd.sock"
  kubeletExtraArgs:
  - name: node-ip
    value: "{{ .NodeIP }}"
  - name: provider-id
    value: "kind://docker/{{ .Cluster }}/{{ .Node }}"
discovery:
  bootstrapToken:
    apiServerEndpoint: "{{ .Endpoint }}"
    token: "` + bootstrapToken + `"
    unsafeSkipCAVerification: true
skipPhases:
- preflight
{{- if .Patches }}
patches:
  directory: "{{ .Patches }}"
{{- end }}
`

func renderJoinConfig(d joinData) (string, error) {
	t, err := template.New("join").Option("missingkey=error").Parse(joinTemplate)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", err
	}
	return buf.String(), nil
}
