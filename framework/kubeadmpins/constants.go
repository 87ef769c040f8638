// Package kubeadmpins reads the etcd version kubeadm pins for each
// Kubernetes patch release from the k8s.io/kubernetes module itself:
// cmd/kubeadm/app/constants/constants.go, parsed with go/parser. Nothing is
// typed in: every pin comes from the release's own source, fetched through
// the Go module proxy (checksum-verified by the go command), and is cached
// as a small JSON file so that a release is downloaded once.
package kubeadmpins

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// ConstantsFile is where kubeadm keeps its etcd pins in k8s.io/kubernetes.
const ConstantsFile = "cmd/kubeadm/app/constants/constants.go"

// Constants are the etcd values of one kubeadm's constants.go.
type Constants struct {
	// DefaultEtcdVersion is the etcd image tag kubeadm uses by default,
	// e.g. "3.5.24-0".
	DefaultEtcdVersion string `json:"defaultEtcdVersion"`
	// MinExternalEtcdVersion, where the file has it.
	MinExternalEtcdVersion string `json:"minExternalEtcdVersion,omitempty"`
	// SupportedEtcdVersion maps a Kubernetes minor to the etcd image tag
	// kubeadm deploys for a control plane of that minor.
	SupportedEtcdVersion map[int]string `json:"supportedEtcdVersion"`
}

// ParseConstants reads kubeadm's constants.go source. DefaultEtcdVersion
// and SupportedEtcdVersion must both be there, as string literals and a
// map literal of integer keys to string literals.
func ParseConstants(src []byte) (Constants, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, ConstantsFile, src, parser.SkipObjectResolution)
	if err != nil {
		return Constants{}, fmt.Errorf("parsing %s: %w", ConstantsFile, err)
	}
	var c Constants
	var errs []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || (gd.Tok != token.CONST && gd.Tok != token.VAR) {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				val := vs.Values[i]
				switch name.Name {
				case "DefaultEtcdVersion":
					c.DefaultEtcdVersion, err = stringLit(val)
				case "MinExternalEtcdVersion":
					c.MinExternalEtcdVersion, err = stringLit(val)
				case "SupportedEtcdVersion":
					c.SupportedEtcdVersion, err = minorMap(val)
				default:
					continue
				}
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s (%s): %v", name.Name, fset.Position(val.Pos()), err))
				}
			}
		}
	}
	if c.DefaultEtcdVersion == "" {
		errs = append(errs, "no DefaultEtcdVersion")
	}
	if len(c.SupportedEtcdVersion) == 0 {
		errs = append(errs, "no SupportedEtcdVersion")
	}
	if len(errs) > 0 {
		return Constants{}, fmt.Errorf("%s: %s", ConstantsFile, strings.Join(errs, "; "))
	}
	return c, nil
}

func stringLit(e ast.Expr) (string, error) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", fmt.Errorf("not a string literal")
	}
	return strconv.Unquote(bl.Value)
}

// minorMap reads map[uint8]string{33: "3.5.24-0", ...}.
func minorMap(e ast.Expr) (map[int]string, error) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, fmt.Errorf("not a map literal")
	}
	if mt, ok := cl.Type.(*ast.MapType); !ok || !isIdent(mt.Value, "string") {
		return nil, fmt.Errorf("not a map of strings")
	}
	out := map[int]string{}
	for _, el := range cl.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return nil, fmt.Errorf("element is not key: value")
		}
		k, ok := kv.Key.(*ast.BasicLit)
		if !ok || k.Kind != token.INT {
			return nil, fmt.Errorf("key is not an integer literal")
		}
		minor, err := strconv.Atoi(k.Value)
		if err != nil {
			return nil, err
		}
		v, err := stringLit(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("value of %d: %w", minor, err)
		}
		out[minor] = v
	}
	return out, nil
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// EtcdFor is the etcd image tag kubeadm deploys for a control plane of the
// given Kubernetes minor: SupportedEtcdVersion's entry, else (as kubeadm
// does, with a warning) DefaultEtcdVersion.
func (c Constants) EtcdFor(minor int) (tag string, listed bool) {
	if t, ok := c.SupportedEtcdVersion[minor]; ok {
		return t, true
	}
	return c.DefaultEtcdVersion, false
}

// Minors lists SupportedEtcdVersion's keys in order.
func (c Constants) Minors() []int {
	var out []int
	for m := range c.SupportedEtcdVersion {
		out = append(out, m)
	}
	sort.Ints(out)
	return out
}

// EtcdRelease strips kubeadm's image revision: "3.5.24-0" gives "3.5.24".
func EtcdRelease(tag string) string {
	if i := strings.LastIndex(tag, "-"); i > 0 {
		if _, err := strconv.Atoi(tag[i+1:]); err == nil {
			return tag[:i]
		}
	}
	return tag
}
