package kind

import (
	"context"
	"encoding/json"
	"fmt"

	kindexec "sigs.k8s.io/kind/pkg/exec"
	"sigs.k8s.io/yaml"
)

// kubectl runs kubectl on a control-plane node with the admin kubeconfig.
func kubectl(ctx context.Context, n kindexec.Cmder, args ...string) (string, error) {
	return nodeOutput(ctx, n, "kubectl", append([]string{"--kubeconfig=/etc/kubernetes/admin.conf"}, args...)...)
}

// setClusterEtcdTag sets etcd.local.imageTag in the kubeadm-config
// ConfigMap, so that the etcd static pod of the next `kubeadm join
// --control-plane` (or `kubeadm upgrade`) runs that image, as Cluster API's
// KubeadmControlPlane does for a new version; an empty tag removes it. It
// returns the tag that was set before.
func setClusterEtcdTag(ctx context.Context, n kindexec.Cmder, tag string) (string, error) {
	raw, err := kubectl(ctx, n, "-n", "kube-system", "get", "configmap", "kubeadm-config", "-o", "jsonpath={.data.ClusterConfiguration}")
	if err != nil {
		return "", fmt.Errorf("reading the kubeadm-config ConfigMap: %w", err)
	}
	updated, old, err := withEtcdTag(raw, tag)
	if err != nil {
		return "", err
	}
	if old == tag {
		return old, nil
	}
	patch, err := json.Marshal(map[string]any{"data": map[string]string{"ClusterConfiguration": updated}})
	if err != nil {
		return "", err
	}
	if _, err := kubectl(ctx, n, "-n", "kube-system", "patch", "configmap", "kubeadm-config", "--type=merge", "--patch", string(patch)); err != nil {
		return "", fmt.Errorf("updating the kubeadm-config ConfigMap: %w", err)
	}
	return old, nil
}

// withEtcdTag returns the ClusterConfiguration document with
// etcd.local.imageTag set to tag (removed when tag is empty: kubeadm then
// runs its own pin), and the tag it had.
func withEtcdTag(clusterConfig, tag string) (string, string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(clusterConfig), &doc); err != nil {
		return "", "", fmt.Errorf("parsing ClusterConfiguration: %w", err)
	}
	if doc["kind"] != "ClusterConfiguration" {
		return "", "", fmt.Errorf("kubeadm-config holds a %v, not a ClusterConfiguration", doc["kind"])
	}
	etcd, _ := doc["etcd"].(map[string]any)
	local, _ := etcd["local"].(map[string]any)
	if local == nil {
		return "", "", fmt.Errorf("ClusterConfiguration has no local etcd: %v", doc["etcd"])
	}
	old, _ := local["imageTag"].(string)
	if tag == "" {
		delete(local, "imageTag")
	} else {
		local["imageTag"] = tag
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", "", err
	}
	return string(out), old, nil
}
