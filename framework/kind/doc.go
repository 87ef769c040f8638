// Package kind is the provider that runs each member as the etcd static pod
// of a kubeadm control-plane node in a kind cluster, made through kind's Go
// library (sigs.k8s.io/kind/pkg/cluster), not its CLI.
//
// How the contract maps onto kind:
//
//   - Init creates the whole HA control plane with kind: kubeadm init on the
//     first node, kubeadm join --control-plane on the others (learner, then
//     promoted: EtcdLearnerMode is on by default since 1.29). The runner's
//     Join calls during the build claim those nodes in order, so
//     upgrade.Run works unchanged; "create HA" is the Init step's time.
//   - Later Join calls add a node as Cluster API's Docker provider does: a
//     container from the same node image with kind's flags and labels
//     (io.x-k8s.kind.cluster, io.x-k8s.kind.role), the files kind copies
//     between control planes, etcd.local.imageTag set in the kubeadm-config
//     ConfigMap (as KubeadmControlPlane does for a new version), then
//     kubeadm join --control-plane; the node is added to kind's load
//     balancer afterwards.
//   - Remove takes the node out of the load balancer, runs kubeadm reset
//     (which removes its etcd member; the harness checks and finishes the
//     job through etcd if it did not), deletes the Node object and removes
//     the container.
//   - Upgrade rewrites /etc/kubernetes/manifests/etcd.yaml to the target
//     image (written beside the directory and renamed into it, as kubeadm
//     does); the kubelet restarts the pod on the same data dir.
//   - KubeadmUpgrade (cluster.KubeadmUpgrader, with WithUpgradeKit) is a real
//     Kubernetes upgrade: the next release's kubeadm copied in, `kubeadm
//     upgrade apply` on the first node and `kubeadm upgrade node` on the
//     others, then the new kubelet. Before the first node the release's
//     images are loaded into every node and etcd.local.imageTag is set to
//     the target (or removed, for kubeadm's own pin): kubeadm keeps a custom
//     tag across upgrades. Afterwards the node's manifests must show the new
//     kube-apiserver and etcd: kubeadm skips an etcd it judges newer.
//   - Stop/Kill/Start move the manifest aside (Kill first sends SIGKILL to
//     etcd) and back. Logs and evidence come from the kubelet's log file of
//     the latest etcd container, exited ones included; containers are read
//     through containerd's ctr, which kind's and the harness's node images
//     both have (the harness's have no crictl).
//   - Client and ClusterClient dial each node's etcd client port, published
//     on a loopback port of this host, with the cluster's etcd CA and the
//     healthcheck client certificate copied out of a node. Members advertise
//     node IPs, so clients never sync endpoints.
//   - CopyDataDir never restarts a member: the db comes from its snapshot
//     stream, the WAL and .snap files from a tar of /var/lib/etcd/member.
//   - Close exports every node's logs with kind's CollectLogs into
//     ArtifactsDir/logs, then deletes the cluster, its containers and its
//     docker network (one per cluster, named after it), also after a failed
//     create and after an interrupt; with keep it stays (KeepHints).
//
// Where an in-place restart's time goes (kind v0.30.0, kubeadm and kubelet
// v1.33.13, measured from the kubelet's journal): the kubelet sees the new
// manifest at once (inotify; fileCheckFrequency, 20 s, is only the periodic
// re-list and plays no part) and stops the old etcd within about a second.
// The new static pod then waits for the old one to terminate; the pod worker
// retries after a fixed 10 s backoff (kubelet backOffPeriod, not
// configurable). Before starting the new container the kubelet replaces the
// mirror pod through the API server. With kubeadm 1.33's default
// ControlPlaneKubeletLocalMode that is the node's own API server, whose only
// etcd (--etcd-servers=https://127.0.0.1:2379) is the one restarting: the
// request times out after ~34 s. Total: ~48 s. With WithKubeletLocalMode(false)
// the kubelets reach the API through kind's load balancer, which the harness
// configures to drop connections to an API server that fails its health
// check: 16-23 s per restart.
package kind
