package tlsca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// names is what the server passes for --domain acremu.test.
var names = []string{"localhost", "127.0.0.1", "::1", "localhost", "acremu.test", "*.acremu.test", "*.*.data.acremu.test"}

func testCA(t *testing.T) *CA {
	t.Helper()
	ca, err := New(names)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// fakeConn is a connection that arrived on a given local address.
type fakeConn struct {
	net.Conn
	local net.Addr
}

func (c fakeConn) LocalAddr() net.Addr { return c.local }

func helloTo(sni, local string) *tls.ClientHelloInfo {
	h := &tls.ClientHelloInfo{ServerName: sni}
	if local != "" {
		h.Conn = fakeConn{local: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local))}
	}
	return h
}

func (ca *CA) cached() int {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return len(ca.leaves)
}

// verify checks that c is a server certificate for host signed by ca.
func verify(ca *CA, c *tls.Certificate, host string) error {
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		ic, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		inter.AddCert(ic)
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestNewCA(t *testing.T) {
	ca := testCA(t)
	c := ca.cert
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero {
		t.Errorf("CA constraints: IsCA=%v BasicConstraintsValid=%v MaxPathLenZero=%v; want all true", c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA KeyUsage = %v; want CertSign", c.KeyUsage)
	}
	now := time.Now()
	if c.NotBefore.After(now) || c.NotAfter.Before(now.AddDate(9, 0, 0)) {
		t.Errorf("CA validity %s..%s; want from before now for about 10 years", c.NotBefore, c.NotAfter)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if b, _ := pem.Decode(ca.CertPEM()); b == nil || !bytes.Equal(b.Bytes, c.Raw) {
		t.Errorf("CertPEM does not hold the CA certificate")
	}
}

func TestLoadOrCreatePersistsTheCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := LoadOrCreate(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s mode = %v; want 0600", KeyFile, perm)
	}
	again, err := LoadOrCreate(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.CertPEM(), again.CertPEM()) {
		t.Errorf("reloaded CA differs from the created one")
	}
	// The reloaded key signs leaves that the first CA's pool trusts.
	c, err := again.GetCertificate(helloTo("localhost", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(first, c, "localhost"); err != nil {
		t.Errorf("leaf of reloaded CA: %v", err)
	}
}

func TestLoadOrCreateRejectsBrokenFiles(t *testing.T) {
	other, err := New(names)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"garbage key", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, KeyFile), []byte("not a key\n"), 0o600)
		}, "ca.key holds no PEM data"},
		{"truncated key", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, KeyFile))
			os.WriteFile(filepath.Join(dir, KeyFile), b[:len(b)/2], 0o600)
		}, "ca.key holds no PEM data"},
		{"empty key", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, KeyFile), nil, 0o600) }, "ca.key holds no PEM data"},
		{"missing key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, KeyFile)) }, "ca.key"},
		{"garbage cert", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, CertFile), []byte("junk"), 0o644) }, "ca.crt holds no PEM data"},
		{"certificate of another CA", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, CertFile), other.CertPEM(), 0o644) }, "private key does not match public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreate(dir, names); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			ca, err := LoadOrCreate(dir, names)
			if err == nil {
				t.Fatalf("LoadOrCreate = %v, nil; want an error", ca)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadOrCreate error = %q; want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestLeafVerifiesForServedNames(t *testing.T) {
	tests := []struct {
		name       string
		sni, local string // the ClientHello's SNI, the connection's local address
		host       string // what the client verifies
		wantOwn    bool   // a leaf of its own rather than the default one
	}{
		{"localhost", "localhost", "127.0.0.1:443", "localhost", false},
		{"trailing dot and case", "LocalHost.", "127.0.0.1:443", "localhost", false},
		{"IPv4 loopback without SNI", "", "127.0.0.1:443", "127.0.0.1", false},
		{"IPv6 loopback without SNI", "", "[::1]:443", "::1", false},
		{"IPv4 loopback on a dual-stack listener", "", "[::ffff:127.0.0.1]:443", "127.0.0.1", false},
		{"the domain itself", "acremu.test", "127.0.0.1:443", "acremu.test", false},
		{"a registry under the domain", "contoso.acremu.test", "127.0.0.1:443", "contoso.acremu.test", true},
		{"a registry's data endpoint", "contoso.westeurope.data.acremu.test", "127.0.0.1:443", "contoso.westeurope.data.acremu.test", true},
		{"a data endpoint in mixed case", "Contoso.EastUS.Data.acremu.test.", "127.0.0.1:443", "contoso.eastus.data.acremu.test", true},
		{"a LAN address the listener is bound to", "", "192.0.2.10:443", "192.0.2.10", true},
		{"another loopback address", "", "127.0.0.2:443", "127.0.0.2", true},
		{"an address in SNI is ignored for the local one", "198.51.100.1", "192.0.2.10:443", "192.0.2.10", true},
		{"no connection and no SNI", "", "", "localhost", false},
	}
	ca := testCA(t)
	def, err := ca.GetCertificate(helloTo("", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ca.GetCertificate(helloTo(tt.sni, tt.local))
			if err != nil {
				t.Fatal(err)
			}
			if err := verify(ca, c, tt.host); err != nil {
				t.Errorf("GetCertificate(%q, %s) does not verify for %s: %v", tt.sni, tt.local, tt.host, err)
			}
			if own := c != def; own != tt.wantOwn {
				t.Errorf("GetCertificate(%q, %s) is its own leaf = %v; want %v", tt.sni, tt.local, own, tt.wantOwn)
			}
			again, _ := ca.GetCertificate(helloTo(tt.sni, tt.local))
			if again != c {
				t.Errorf("GetCertificate(%q, %s) issued twice; want the cached leaf", tt.sni, tt.local)
			}
		})
	}
}

func TestUnservedNamesGetTheDefaultLeaf(t *testing.T) {
	ca := testCA(t)
	def, err := ca.GetCertificate(helloTo("localhost", "127.0.0.1:443"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sni := range []string{
		"evil.example.org",
		"deep.contoso.acremu.test",              // two labels under the wildcard
		"contoso.data.acremu.test",              // one label under the data pattern: the wildcard's, but "data" is taken
		"a.contoso.westeurope.data.acremu.test", // three labels under the data pattern
		"contoso..data.acremu.test",
		"contoso.-x.data.acremu.test",
		"contoso.acremu.test.evil.example",
		".acremu.test",
		"-x.acremu.test",
		"under_score.acremu.test",
		"localhost.localdomain",
	} {
		c, err := ca.GetCertificate(helloTo(sni, "127.0.0.1:443"))
		if err != nil {
			t.Fatal(err)
		}
		if c != def {
			t.Errorf("GetCertificate(%q) issued a leaf; want the default one", sni)
		}
		// The default leaf names no unserved host (Go's verifier lets the
		// wildcard cover "under_score.acremu.test", so that one is skipped).
		if err := verify(ca, c, sni); err == nil && !strings.HasSuffix(sni, ".acremu.test") {
			t.Errorf("default leaf verifies for unserved %q", sni)
		}
	}
	if n := ca.cached(); n != 0 {
		t.Errorf("cached leaves = %d; want 0", n)
	}
}

func TestLeafCacheIsBounded(t *testing.T) {
	ca := testCA(t)
	ca.maxLeaves = 3
	def, err := ca.GetCertificate(helloTo("", ""))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		sni := fmt.Sprintf("r%d.acremu.test", i)
		c, err := ca.GetCertificate(helloTo(sni, ""))
		if err != nil {
			t.Fatal(err)
		}
		if own := c != def; own != (i < 3) {
			t.Errorf("GetCertificate(%q) is its own leaf = %v; want %v", sni, own, i < 3)
		}
		// Past the bound the default leaf's wildcard still covers the name.
		if err := verify(ca, c, sni); err != nil {
			t.Errorf("GetCertificate(%q): %v", sni, err)
		}
	}
	if n := ca.cached(); n != 3 {
		t.Errorf("cached leaves = %d; want 3", n)
	}
	// Cached names keep their leaf.
	c, _ := ca.GetCertificate(helloTo("r0.acremu.test", ""))
	if c == def {
		t.Errorf("GetCertificate(r0.acremu.test) lost its cached leaf")
	}
}

func TestLeafValidity(t *testing.T) {
	ca := testCA(t)
	now := time.Now()
	for _, sni := range []string{"localhost", "contoso.acremu.test"} {
		c, err := ca.GetCertificate(helloTo(sni, ""))
		if err != nil {
			t.Fatal(err)
		}
		l := c.Leaf
		if l.NotBefore.After(now) || l.NotAfter.Before(now.AddDate(0, 11, 0)) || l.NotAfter.After(now.AddDate(1, 0, 1)) {
			t.Errorf("%s: validity %s..%s; want from before now for about a year", sni, l.NotBefore, l.NotAfter)
		}
		if l.IsCA || len(l.ExtKeyUsage) != 1 || l.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
			t.Errorf("%s: IsCA=%v ExtKeyUsage=%v; want a server-only leaf", sni, l.IsCA, l.ExtKeyUsage)
		}
		if l.NotAfter.After(ca.cert.NotAfter) {
			t.Errorf("%s: leaf outlives its CA", sni)
		}
	}
}

func TestExpiringLeavesAreReissued(t *testing.T) {
	ca := testCA(t)
	old, err := ca.GetCertificate(helloTo("contoso.acremu.test", ""))
	if err != nil {
		t.Fatal(err)
	}
	oldDef, _ := ca.GetCertificate(helloTo("", ""))
	ca.now = func() time.Time { return old.Leaf.NotAfter.Add(-time.Hour) }
	c, err := ca.GetCertificate(helloTo("contoso.acremu.test", ""))
	if err != nil {
		t.Fatal(err)
	}
	if c == old || !c.Leaf.NotAfter.After(old.Leaf.NotAfter) {
		t.Errorf("leaf about to expire was not replaced")
	}
	if def, _ := ca.GetCertificate(helloTo("", "")); def == oldDef {
		t.Errorf("default leaf about to expire was not replaced")
	}
}

func TestLeavesNeverOutliveTheCA(t *testing.T) {
	ca := testCA(t)
	ca.now = func() time.Time { return ca.cert.NotAfter.Add(-30 * 24 * time.Hour) }
	c, err := ca.GetCertificate(helloTo("localhost", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Leaf.NotAfter.Equal(ca.cert.NotAfter) {
		t.Errorf("leaf NotAfter = %s; want the CA's %s", c.Leaf.NotAfter, ca.cert.NotAfter)
	}
}

func TestGetCertificateConcurrently(t *testing.T) {
	ca := testCA(t)
	hellos := []*tls.ClientHelloInfo{
		helloTo("", "127.0.0.1:443"),
		helloTo("localhost", ""),
		helloTo("a.acremu.test", ""),
		helloTo("b.acremu.test", ""),
		helloTo("", "192.0.2.10:443"),
		helloTo("evil.example.org", ""),
	}
	got := make([][]*tls.Certificate, 8)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for _, h := range hellos {
				c, err := ca.GetCertificate(h)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], c)
			}
		})
	}
	wg.Wait()
	for g := range got[1:] {
		for i := range hellos {
			if got[g+1][i] != got[0][i] {
				t.Errorf("hello %d: goroutines got different certificates; want one cached leaf", i)
			}
		}
	}
	if n := ca.cached(); n != 3 {
		t.Errorf("cached leaves = %d; want 3", n)
	}
}

// TestTLSHandshake serves TLS on loopback and connects by name and address.
func TestTLSHandshake(t *testing.T) {
	ca := testCA(t)
	for _, network := range []struct{ listen, dial string }{
		{"127.0.0.1:0", "127.0.0.1"},
		{"127.0.0.1:0", "localhost"},
		{"[::1]:0", "::1"},
	} {
		t.Run(network.dial, func(t *testing.T) {
			ln, err := net.Listen("tcp", network.listen)
			if err != nil {
				t.Skipf("no %s: %v", network.listen, err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				tc := tls.Server(c, &tls.Config{GetCertificate: ca.GetCertificate})
				tc.Handshake()
				tc.Write([]byte("ok"))
			}()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			c, err := tls.Dial("tcp", net.JoinHostPort(network.dial, port), &tls.Config{RootCAs: ca.Pool(), ServerName: network.dial})
			if err != nil {
				t.Fatalf("handshake with %s: %v", network.dial, err)
			}
			defer c.Close()
			b := make([]byte, 2)
			if _, err := c.Read(b); err != nil || string(b) != "ok" {
				t.Errorf("Read = %q, %v; want ok", b, err)
			}
		})
	}
}

// A pattern of more than one star names no leaf: an X.509 wildcard covers
// one label, and some verifiers refuse a certificate listing "*.*.d".
func TestMultiLabelPatternsAreNotListed(t *testing.T) {
	ca := testCA(t)
	for _, hello := range []*tls.ClientHelloInfo{helloTo("", ""), helloTo("contoso.westeurope.data.acremu.test", "127.0.0.1:443")} {
		c, err := ca.GetCertificate(hello)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range leaf.DNSNames {
			if strings.Count(n, "*") > 1 {
				t.Errorf("leaf for %q lists the pattern %q", hello.ServerName, n)
			}
		}
	}
}

func TestParseWildcard(t *testing.T) {
	tests := []struct {
		in   string
		want wildcard
		ok   bool
	}{
		{"*.acremu.test", wildcard{1, ".acremu.test"}, true},
		{"*.*.data.acremu.test", wildcard{2, ".data.acremu.test"}, true},
		{"acremu.test", wildcard{}, false},
		{"*.", wildcard{}, false},
		{"*.a*.test", wildcard{}, false},
		{"x.*.test", wildcard{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseWildcard(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseWildcard(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
