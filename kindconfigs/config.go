// Package kindconfigs renders the kind cluster configuration the harness
// creates its Kubernetes 1.33 HA control planes from: a kind.x-k8s.io/v1alpha4
// Cluster with kubeadm patches that select the etcd image and flags, and the
// kubelet settings this kind of host needs. example-ha.yaml beside this file
// is one rendering, for use with the kind CLI.
package kindconfigs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"text/template"
	"time"
)

//go:embed cluster.yaml.tmpl
var clusterTemplate string

// Defaults of the rendered configuration.
const (
	DefaultEtcdImageRepository = "registry.k8s.io"
	DefaultControlPlanes       = 3
	DefaultSnapshotCount       = 100
	// The kubelet's own defaults; see Config.FileCheckFrequency.
	DefaultFileCheckFrequency = 20 * time.Second
	DefaultSyncFrequency      = time.Minute
)

// Config is what one cluster is rendered from.
type Config struct {
	// Name is the kind cluster name; empty leaves it to kind's CLI flag.
	Name string
	// ControlPlanes is the number of control-plane nodes kind creates.
	ControlPlanes int
	// EtcdImageRepository and EtcdImageTag select kubeadm's etcd image
	// (registry.k8s.io/etcd:<version>-0).
	EtcdImageRepository string
	EtcdImageTag        string
	// SnapshotCount is etcd's --snapshot-count.
	SnapshotCount int
	// FileCheckFrequency is how often the kubelet lists the static pod
	// directory in addition to watching it with inotify.
	FileCheckFrequency time.Duration
	// SyncFrequency is the kubelet's period of full pod resyncs.
	SyncFrequency time.Duration
	// KubeletLocalAPIServer keeps kubeadm's ControlPlaneKubeletLocalMode
	// (on by default in 1.33): each control-plane kubelet talks to its own
	// node's API server. Off, it talks to the control-plane endpoint (kind's
	// load balancer), as before kubeadm 1.31.
	KubeletLocalAPIServer bool
}

// Default returns the configuration of a 3-control-plane cluster at the
// given etcd version.
func Default(etcdVersion string) Config {
	return Config{
		ControlPlanes:         DefaultControlPlanes,
		EtcdImageRepository:   DefaultEtcdImageRepository,
		EtcdImageTag:          EtcdImageTag(etcdVersion),
		SnapshotCount:         DefaultSnapshotCount,
		FileCheckFrequency:    DefaultFileCheckFrequency,
		SyncFrequency:         DefaultSyncFrequency,
		KubeletLocalAPIServer: true,
	}
}

// EtcdImageTag is kubeadm's tag for an etcd version: "3.5.17" -> "3.5.17-0".
// This and EtcdImageRef are the one place etcd image names are built.
func EtcdImageTag(version string) string {
	if len(version) > 0 && version[0] == 'v' {
		version = version[1:]
	}
	return version + "-0"
}

// EtcdImageRef is kubeadm's etcd image for an etcd version:
// "registry.k8s.io/etcd:3.5.17-0".
func EtcdImageRef(version string) string {
	return DefaultEtcdImageRepository + "/etcd:" + EtcdImageTag(version)
}

// kind's rule for cluster names (it names containers and hosts after them).
var nameRE = regexp.MustCompile(`^[a-z0-9.-]+$`)

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Validate rejects a configuration kind or kubeadm would refuse later.
func (c Config) Validate() error {
	var errs []error
	if c.Name != "" && !nameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("cluster name %q: kind accepts only lower-case letters, digits, '.' and '-'", c.Name))
	}
	if c.ControlPlanes < 1 {
		errs = append(errs, fmt.Errorf("%d control planes: need at least one", c.ControlPlanes))
	}
	if c.EtcdImageRepository == "" {
		errs = append(errs, errors.New("no etcd image repository"))
	}
	if !tagRE.MatchString(c.EtcdImageTag) {
		errs = append(errs, fmt.Errorf("etcd image tag %q is not a valid image tag", c.EtcdImageTag))
	}
	if c.SnapshotCount < 1 {
		errs = append(errs, fmt.Errorf("snapshot count %d: must be positive", c.SnapshotCount))
	}
	if c.FileCheckFrequency <= 0 || c.SyncFrequency <= 0 {
		errs = append(errs, fmt.Errorf("kubelet periods must be positive (fileCheckFrequency %s, syncFrequency %s)", c.FileCheckFrequency, c.SyncFrequency))
	}
	return errors.Join(errs...)
}

// Render returns the kind Cluster configuration.
func Render(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("kind config: %w", err)
	}
	t, err := template.New("cluster").Option("missingkey=error").Parse(clusterTemplate)
	if err != nil {
		return nil, fmt.Errorf("kind config template: %w", err)
	}
	data := struct {
		Config
		ControlPlanes      []int
		FileCheckFrequency string
		SyncFrequency      string
	}{
		Config:             c,
		ControlPlanes:      make([]int, c.ControlPlanes),
		FileCheckFrequency: c.FileCheckFrequency.String(),
		SyncFrequency:      c.SyncFrequency.String(),
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("rendering kind config: %w", err)
	}
	return buf.Bytes(), nil
}

// Example is the configuration example-ha.yaml is rendered from: three
// control planes at etcd 3.5.17, the etcd Kubernetes 1.33 planned to ship.
func Example() Config {
	c := Default("3.5.17")
	c.Name = "etcdup-example"
	return c
}
