// Package tlsca is acremu's private certificate authority: a CA generated
// once and kept with the rest of the state, and the server certificates it
// issues for the names and addresses acremu serves, so every acremu port can
// speak TLS without any set-up beyond trusting one CA file.
//
// Only served names get a certificate of their own: the configured names,
// one label under a configured wildcard ("*.D"), as many labels as a
// configured pattern has stars ("*.*.data.D"), and the local address a
// client connected to. Every other SNI name gets the default certificate,
// so a client cannot make the CA mint and keep certificates for arbitrary
// names.
package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// File names of the CA inside a directory.
const (
	CertFile = "ca.crt"
	KeyFile  = "ca.key"
)

// MaxLeaves bounds the certificates a CA keeps besides the default one.
// Once it is reached, names without a cached certificate get the default
// certificate, which still covers them through its wildcard names.
const MaxLeaves = 1024

// leafLifetime is the validity of issued server certificates; a cached
// certificate is replaced once less than leafRenewBefore of it remains.
const (
	leafLifetime    = 365 * 24 * time.Hour
	leafRenewBefore = 24 * time.Hour
)

// CA issues server certificates.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	names   []string // names every leaf covers

	exact     map[string]bool     // configured DNS names, lower-cased
	wildcards []wildcard          // each configured "*.d" and "*.*.d"
	ips       map[netip.Addr]bool // configured addresses, unmapped
	maxLeaves int                 // MaxLeaves; tests lower it
	now       func() time.Time    // time.Now; tests replace it

	mu     sync.Mutex
	def    *tls.Certificate            // default leaf: the configured names
	leaves map[string]*tls.Certificate // by served SNI name or local address
}

// New generates a fresh CA in memory. names are the DNS names and addresses
// that every leaf certificate covers (e.g. localhost, 127.0.0.1, ::1); an
// entry "*.D" also lets clients ask, by SNI, for a certificate naming
// exactly one label under D. An entry with more leading stars ("*.*.D") is
// a pattern only: clients may ask for a certificate naming exactly that
// many labels under D, but no leaf lists the pattern itself, since an X.509
// wildcard covers a single label.
func New(names []string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "acremu local CA", Organization: []string{"acremu"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return newCA(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, names), nil
}

func newCA(cert *x509.Certificate, certPEM []byte, key *ecdsa.PrivateKey, names []string) *CA {
	ca := &CA{
		cert:      cert,
		certPEM:   certPEM,
		key:       key,
		exact:     map[string]bool{},
		ips:       map[netip.Addr]bool{},
		maxLeaves: MaxLeaves,
		now:       time.Now,
		leaves:    map[string]*tls.Certificate{},
	}
	for _, n := range names {
		n = normalize(n)
		if n == "" {
			continue
		}
		if ip, err := netip.ParseAddr(n); err == nil {
			ip = ip.Unmap()
			if ca.ips[ip] {
				continue
			}
			ca.ips[ip] = true
			ca.names = append(ca.names, ip.String())
			continue
		}
		if ca.exact[n] {
			continue
		}
		ca.exact[n] = true
		w, ok := parseWildcard(n)
		if ok {
			ca.wildcards = append(ca.wildcards, w)
		}
		if !ok || w.labels == 1 {
			ca.names = append(ca.names, n)
		}
	}
	return ca
}

// wildcard is a configured "*.d" (labels 1) or "*.*.d" (labels 2, …):
// a name of exactly that many labels before suffix ".d" is served.
type wildcard struct {
	labels int
	suffix string
}

func parseWildcard(name string) (wildcard, bool) {
	w := wildcard{}
	for {
		rest, ok := strings.CutPrefix(name, "*.")
		if !ok {
			break
		}
		w.labels++
		name = rest
	}
	if w.labels == 0 || name == "" || strings.Contains(name, "*") {
		return wildcard{}, false
	}
	w.suffix = "." + name
	return w, true
}

// matches reports whether name is exactly w.labels valid labels before
// w.suffix.
func (w wildcard) matches(name string) bool {
	head, ok := strings.CutSuffix(name, w.suffix)
	if !ok {
		return false
	}
	for i := 1; i < w.labels; i++ {
		label, rest, ok := strings.Cut(head, ".")
		if !ok || !validLabel(label) {
			return false
		}
		head = rest
	}
	return validLabel(head)
}

// LoadOrCreate loads the CA from dir, or creates it there on first use.
func LoadOrCreate(dir string, names []string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		ca, err := New(names)
		if err != nil {
			return nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// The key first: a crash between the two writes leaves no cert
		// without its key, so the next start regenerates both.
		if err := writeFileSync(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			return nil, err
		}
		if err := writeFileSync(certPath, ca.certPEM, 0o644); err != nil {
			return nil, err
		}
		return ca, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	cert, key, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsca: CA in %s (%s, %s): %w; remove both files to create a new CA", dir, CertFile, KeyFile, err)
	}
	return newCA(cert, certPEM, key, names), nil
}

// parsePair parses and checks a stored CA certificate and its key.
func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if b, _ := pem.Decode(keyPEM); b == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM data", KeyFile)
	}
	if b, _ := pem.Decode(certPEM); b == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM data", CertFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not an ECDSA key", KeyFile)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	if !cert.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", CertFile)
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, nil, fmt.Errorf("%s expired on %s", CertFile, cert.NotAfter.Format(time.DateOnly))
	}
	return cert, key, nil
}

func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CertPEM returns the CA certificate in PEM form (what clients must trust).
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Pool returns a cert pool holding the CA, for Go clients in tests.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// GetCertificate is a tls.Config.GetCertificate. It returns:
//   - for an SNI name one label under a configured wildcard, a leaf that
//     also names it exactly (clients such as OpenSSL refuse a wildcard
//     directly under a one-label domain), issued on first use and cached;
//   - without SNI, for a connection to a local address the default leaf
//     does not cover (a LAN address, say), a leaf that also names that
//     address, issued on first use and cached;
//   - otherwise the default leaf, which covers the configured names: a
//     configured name, an unserved name and a loopback address all get it.
//
// At most MaxLeaves certificates are cached; past that the default leaf is
// returned.
func (ca *CA) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	key := ca.leafKey(hello)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if key == "" {
		return ca.defaultLeafLocked()
	}
	if c, ok := ca.leaves[key]; ok && ca.fresh(c) {
		return c, nil
	} else if !ok && len(ca.leaves) >= ca.maxLeaves {
		return ca.defaultLeafLocked()
	}
	c, err := ca.issue(append(ca.names[:len(ca.names):len(ca.names)], key))
	if err != nil {
		return nil, err
	}
	ca.leaves[key] = c
	return c, nil
}

// leafKey is the served name or address hello needs a leaf of its own for,
// or "" for the default leaf.
func (ca *CA) leafKey(hello *tls.ClientHelloInfo) string {
	name := normalize(hello.ServerName)
	if name == "" || isIP(name) {
		// No SNI (or, against RFC 6066, an address in it): the client
		// dialled an address, the one the connection arrived on.
		if hello.Conn == nil {
			return ""
		}
		ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
		if err != nil {
			return ""
		}
		ip := ap.Addr().Unmap().WithZone("")
		if !ip.IsValid() || ip.IsUnspecified() || ca.ips[ip] {
			return ""
		}
		return ip.String()
	}
	if ca.exact[name] {
		return ""
	}
	for _, w := range ca.wildcards {
		if w.matches(name) {
			return name
		}
	}
	return ""
}

func (ca *CA) defaultLeafLocked() (*tls.Certificate, error) {
	if ca.def != nil && ca.fresh(ca.def) {
		return ca.def, nil
	}
	c, err := ca.issue(ca.names)
	if err != nil {
		return nil, err
	}
	ca.def = c
	return c, nil
}

// fresh reports whether c is valid long enough to keep serving it.
func (ca *CA) fresh(c *tls.Certificate) bool {
	return ca.now().Before(c.Leaf.NotAfter.Add(-leafRenewBefore))
}

func (ca *CA) issue(names []string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: firstOr(names, "acremu")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	// A leaf outliving its CA would fail verification after the CA expires.
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// normalize lower-cases a name and drops a trailing dot and IPv6 brackets.
func normalize(name string) string {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	return name
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// validLabel reports whether s is one DNS label (letters, digits, hyphens;
// 1 to 63 characters; no leading or trailing hyphen).
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func firstOr(s []string, def string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return def
}

func randSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
