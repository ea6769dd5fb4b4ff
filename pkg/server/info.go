package server

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acremu/acremu/pkg/tlsca"
)

// Info describes a running server for the start-up banner.
type Info struct {
	Listeners []string // front-end addresses as bound
	CAPath    string   // CA certificate file ("" when in memory or user-supplied)
	CAURL     string   // where the CA certificate can be downloaded
	Default   *RegistryInfo
}

// RegistryInfo is what a user needs to log in to a registry.
type RegistryInfo struct {
	Name, LoginServer, Username string
	Passwords                   [2]string
}

// Info returns the banner facts.
func (s *Server) Info() Info {
	var info Info
	for _, p := range s.front {
		info.Listeners = append(info.Listeners, p.lns[0].Addr().String())
	}
	if s.ca != nil && !s.cfg.InMemory {
		info.CAPath = filepath.Join(s.cfg.DataDir, tlsca.CertFile)
	}
	if s.ca != nil {
		info.CAURL = "http://" + net.JoinHostPort(s.cfg.PublicHost, strconv.Itoa(s.frontPort)) + "/_acremu/ca.crt"
	}
	if s.cfg.DefaultRegistry != "" {
		if sr := s.regs.Load().byName[strings.ToLower(s.cfg.DefaultRegistry)]; sr != nil {
			info.Default = &RegistryInfo{Name: sr.rec.Name, LoginServer: s.loginServer(sr.rec), Username: sr.rec.Name, Passwords: sr.rec.Passwords}
		}
	}
	return info
}

// FrontPort is the port of the first front-end listener.
func (s *Server) FrontPort() int { return s.frontPort }

// CA returns acremu's certificate authority (nil with --tls-cert).
func (s *Server) CA() *tlsca.CA { return s.ca }
