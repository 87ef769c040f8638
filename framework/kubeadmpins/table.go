package kubeadmpins

import (
	"fmt"
	"path/filepath"
	"strings"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// DefaultCacheDir is where pins are kept: the harness cache's kubeadm-pins.
func DefaultCacheDir() string { return filepath.Join(etcdbin.DefaultCacheDir(), "kubeadm-pins") }

// Table renders pins as a Markdown table, with the releases the proxy did
// not serve.
func Table(pins []Pin, missing []Availability) string {
	var b strings.Builder
	b.WriteString("| Kubernetes | kubeadm's etcd | DefaultEtcdVersion | SupportedEtcdVersion | read from |\n|---|---|---|---|---|\n")
	for _, p := range pins {
		var sup []string
		for _, m := range p.Minors() {
			sup = append(sup, fmt.Sprintf("%d: %s", m, p.SupportedEtcdVersion[m]))
		}
		etcd := p.Etcd
		if !p.Listed {
			etcd += " (default: minor not listed)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", p.Kubernetes, etcd, p.DefaultEtcdVersion, strings.Join(sup, ", "), p.Source)
	}
	for _, a := range missing {
		fmt.Fprintf(&b, "| %s | not served by the Go module proxy: %s | | | |\n", a.Version, oneLine(a.Why))
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
