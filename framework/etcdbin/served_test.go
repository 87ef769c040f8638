package etcdbin

import (
	"strings"
	"testing"
)

func TestPatchRange(t *testing.T) {
	vs, err := PatchRange(MustParseVersion("3.5.15"), MustParseVersion("3.5.18"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.String())
	}
	if strings.Join(got, " ") != "3.5.15 3.5.16 3.5.17 3.5.18" {
		t.Errorf("PatchRange = %v", got)
	}
	if vs, err := PatchRange(MustParseVersion("3.6.4"), MustParseVersion("3.6.4")); err != nil || len(vs) != 1 {
		t.Errorf("one-version range = %v, %v", vs, err)
	}
	for _, tc := range []struct{ from, to, err string }{
		{"3.5.20", "3.6.1", "spans minors"},
		{"3.5.20", "3.5.19", "backwards"},
		{"3.6.0-rc.3", "3.6.4", "pre-releases"},
	} {
		if _, err := PatchRange(MustParseVersion(tc.from), MustParseVersion(tc.to)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("PatchRange(%s, %s) error = %v, want %q", tc.from, tc.to, err, tc.err)
		}
	}
}

func TestServedOnly(t *testing.T) {
	as := []Availability{
		{Version: MustParseVersion("3.5.25"), Served: true},
		{Version: MustParseVersion("3.5.26"), Why: "go: go.etcd.io/etcd/server/v3@v3.5.26: invalid version: unknown revision"},
		{Version: MustParseVersion("3.5.27"), Served: true},
	}
	got := ServedOnly(as)
	if len(got) != 2 || got[0].String() != "3.5.25" || got[1].String() != "3.5.27" {
		t.Errorf("ServedOnly = %v", got)
	}
}

// The go command's own words, as measured on 2026-11-30 for
// go.etcd.io/etcd/etcdutl/v3@v3.5.20: served by the proxy, unknown to the
// checksum database.
func TestSumdbUnknown(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"go.etcd.io/etcd/etcdutl/v3@v3.5.20: verifying go.mod: go.etcd.io/etcd/etcdutl/v3@v3.5.20/go.mod: reading https://proxy.golang.org/sumdb/sum.golang.org/lookup/go.etcd.io/etcd/etcdutl/v3@v3.5.20: 404 Not Found", true},
		{"verifying module: example.com/m@v1.0.0: reading https://sum.golang.org/lookup/example.com/m@v1.0.0: 410 Gone", true},
		// A mismatch is a security error, never waved through.
		{"verifying go.etcd.io/etcd/etcdutl/v3@v3.5.20/go.mod: checksum mismatch\n\tdownloaded: h1:x\n\tsum.golang.org: h1:y\n\nSECURITY ERROR", false},
		// The proxy not serving the version at all is another case (the etcdutl fallback).
		{"go.etcd.io/etcd/etcdutl/v3@v3.5.24: reading https://proxy.golang.org/go.etcd.io/etcd/etcdutl/v3/@v/v3.5.24.info: 404 Not Found", false},
		{"dial tcp: lookup proxy.golang.org: no such host", false},
	} {
		if got := sumdbUnknown(tc.msg); got != tc.want {
			t.Errorf("sumdbUnknown(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
	t.Setenv("GONOSUMDB", "corp.example.com")
	if got := noSumDBEnv([]string{etcdutlModule}); len(got) != 1 || got[0] != "GONOSUMDB=corp.example.com,"+etcdutlModule {
		t.Errorf("noSumDBEnv = %v: must keep the user's GONOSUMDB", got)
	}
	if got := noSumDBEnv(nil); got != nil {
		t.Errorf("noSumDBEnv(nil) = %v", got)
	}
}

func TestParseRange(t *testing.T) {
	from, to, err := ParseRange("3.5.15..3.5.35")
	if err != nil || from.String() != "3.5.15" || to.String() != "3.5.35" {
		t.Errorf("ParseRange = %s, %s, %v", from, to, err)
	}
	for _, in := range []string{"3.5.15", "3.5.15..3.6.1", "3.5.x..3.5.20", "3.5.20..3.5.1"} {
		if _, _, err := ParseRange(in); err == nil {
			t.Errorf("ParseRange(%q) accepted", in)
		}
	}
}

// The proxy's answers as measured on 2026-11-30 (modules.go).
func TestClassifyDownload(t *testing.T) {
	for msg, want := range map[string]moduleState{
		"": modOK,
		"go.etcd.io/etcd/server/v3@v3.5.25: reading https://proxy.golang.org/go.etcd.io/etcd/server/v3/@v/v3.5.25.zip: 403 Forbidden\n\tserver response: This module version is not available.":                           modNotServed,
		"go.etcd.io/etcd/etcdctl/v3@v3.5.22: reading https://proxy.golang.org/go.etcd.io/etcd/etcdctl/v3/@v/v3.5.22.info: 403 Forbidden":                                                                                  modNotServed,
		"go.etcd.io/etcd/etcdutl/v3@v3.5.20: verifying go.mod: go.etcd.io/etcd/etcdutl/v3@v3.5.20/go.mod: reading https://proxy.golang.org/sumdb/sum.golang.org/lookup/go.etcd.io/etcd/etcdutl/v3@v3.5.20: 404 Not Found": modSumDBUnknown,
		"verifying go.etcd.io/etcd/etcdutl/v3@v3.5.20/go.mod: checksum mismatch\nSECURITY ERROR":                                                                                                                          "",
		"dial tcp: lookup proxy.golang.org: no such host": "",
	} {
		if got := classifyDownload(msg); got != want {
			t.Errorf("classifyDownload(%q) = %q, want %q", msg, got, want)
		}
	}
}

// A release whose etcdctl the proxy lacks builds the nearest earlier
// etcdctl, which links etcdutl at its own version unless that is missing too.
func TestGoModWithAnEarlierEtcdctl(t *testing.T) {
	v := MustParseVersion("3.5.22")
	mod := goModWith(v, buildPlan{etcdctl: choice{version: "v3.5.21"}, etcdutl: choice{version: "v3.5.21"}})
	for _, want := range []string{"go.etcd.io/etcd/server/v3 v3.5.22", "go.etcd.io/etcd/etcdctl/v3 v3.5.21"} {
		if !strings.Contains(mod, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, mod)
		}
	}
	if strings.Contains(mod, "replace") {
		t.Errorf("replace written though etcdutl is at etcdctl's version:\n%s", mod)
	}
	mod = goModWith(MustParseVersion("3.5.31"), buildPlan{etcdctl: choice{version: "v3.5.27"}, etcdutl: choice{version: "v3.5.24"}})
	if !strings.Contains(mod, "replace go.etcd.io/etcd/etcdutl/v3 v3.5.27 => go.etcd.io/etcd/etcdutl/v3 v3.5.24") {
		t.Errorf("etcdutl not replaced at etcdctl's version:\n%s", mod)
	}
	b := buildPlan{server: choice{module: "s", state: modOK}, etcdctl: choice{module: "c", state: modSumDBUnknown}, etcdutl: choice{module: "u", state: modSumDBUnknown}}
	if got := b.noSumDB(); len(got) != 2 || got[0] != "c" || got[1] != "u" {
		t.Errorf("noSumDB = %v", got)
	}
}

func TestUnknownEtcdModule(t *testing.T) {
	// measured 2026-11-30, building 3.5.27
	msg := "go mod tidy -e: exit status 1\ngo.etcd.io/etcd/pkg/v3@v3.5.27: verifying module: go.etcd.io/etcd/pkg/v3@v3.5.27: reading https://proxy.golang.org/sumdb/sum.golang.org/lookup/go.etcd.io/etcd/pkg/v3@v3.5.27: 404 Not Found"
	if mod, ok := unknownEtcdModule(msg); !ok || mod != "go.etcd.io/etcd/pkg/v3" {
		t.Errorf("unknownEtcdModule = %q, %v", mod, ok)
	}
	// measured 2026-11-30 on a cold machine, building 3.5.27: a go build's
	// line names no "verifying", and a refusal must not be read from it.
	built := "/root/go/pkg/mod/go.etcd.io/etcd/server/v3@v3.5.27/etcdserver/server.go:40:2: go.etcd.io/etcd/pkg/v3@v3.5.27: reading https://proxy.golang.org/sumdb/sum.golang.org/lookup/go.etcd.io/etcd/pkg/v3@v3.5.27: 404 Not Found"
	if mod, ok := unknownEtcdModule(built); !ok || mod != "go.etcd.io/etcd/pkg/v3" {
		t.Errorf("unknownEtcdModule(go build line) = %q, %v", mod, ok)
	}
	// Only etcd's own modules are let through.
	other := "golang.org/x/net@v0.1.0: verifying module: golang.org/x/net@v0.1.0: reading https://proxy.golang.org/sumdb/sum.golang.org/lookup/golang.org/x/net@v0.1.0: 404 Not Found"
	if _, ok := unknownEtcdModule(other); ok {
		t.Error("a third-party module let through")
	}
	if _, ok := unknownEtcdModule("go.etcd.io/etcd/pkg/v3@v3.5.27: verifying module: checksum mismatch\nSECURITY ERROR"); ok {
		t.Error("a checksum mismatch let through")
	}
}

func TestRefusedEtcdModule(t *testing.T) {
	// measured 2026-11-30, building 3.5.31
	msg := "/root/go/pkg/mod/go.etcd.io/etcd/server/v3@v3.5.31/etcdserver/raft.go:31:2: go.etcd.io/etcd/raft/v3@v3.5.31: reading https://proxy.golang.org/go.etcd.io/etcd/raft/v3/@v/v3.5.31.zip: 403 Forbidden"
	m := refusedEtcdRE.FindStringSubmatch(msg)
	if m == nil || m[1] != "go.etcd.io/etcd/raft/v3@v3.5.31" {
		t.Errorf("refusedEtcdRE = %q", m)
	}
	if refusedEtcdRE.MatchString("golang.org/x/net@v0.1.0: reading https://proxy.golang.org/golang.org/x/net/@v/v0.1.0.zip: 403 Forbidden") {
		t.Error("a third-party module's refusal counted as the release's")
	}
}
