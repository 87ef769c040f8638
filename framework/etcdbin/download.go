package etcdbin

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// tarballName is the official release asset for this machine.
func tarballName(v Version) string {
	return fmt.Sprintf("etcd-%s-%s-%s.tar.gz", v.Tag(), runtime.GOOS, runtime.GOARCH)
}

// httpClient fails fast where there is no route or no DNS, so offline machines
// fall through to the build source within seconds.
var httpClient = &http.Client{
	Timeout: 5 * time.Minute,
	Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 20 * time.Second,
		Proxy:                 http.ProxyFromEnvironment,
	},
}

func (p *Provisioner) downloadTo(ctx context.Context, v Version, dir string) error {
	base := strings.TrimSuffix(p.downloadURL, "/") + "/" + v.Tag() + "/"
	sums, err := fetch(ctx, base+"SHA256SUMS")
	if err != nil {
		return err
	}
	name := tarballName(v)
	want, err := sumFor(string(sums), name)
	if err != nil {
		return err
	}
	tgz, err := fetch(ctx, base+name)
	if err != nil {
		return err
	}
	got := sha256.Sum256(tgz)
	if hex.EncodeToString(got[:]) != want {
		return fmt.Errorf("%s: sha256 %x does not match SHA256SUMS (%s)", name, got, want)
	}
	return extractBinaries(tgz, dir)
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 512<<20))
}

// sumFor finds name's digest in a sha256sum-style listing.
func sumFor(sums, name string) (string, error) {
	for _, line := range strings.Split(sums, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name {
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("SHA256SUMS has no entry for %s", name)
}

// extractBinaries writes etcd and etcdctl from a release tarball into dir.
func extractBinaries(tgz []byte, dir string) error {
	zr, err := gzip.NewReader(strings.NewReader(string(tgz)))
	if err != nil {
		return fmt.Errorf("reading tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	found := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tarball: %w", err)
		}
		base := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || (base != "etcd" && base != "etcdctl") {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, base), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		found[base] = true
	}
	if !found["etcd"] || !found["etcdctl"] {
		return fmt.Errorf("tarball lacks etcd or etcdctl (found %v)", found)
	}
	return nil
}
