package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/token"
)

// identityPath is the Azure Instance Metadata Service's managed-identity
// token endpoint. A service instance with a managed identity (a VM, a
// container group, an ACR task) asks it for tokens without any secret:
// being on the instance is the credential. acremu answers it for the
// sources that stand for such instances, --trusted-service-network, on
// every port:
//
//	GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/
//	Metadata: true
//
// optionally with client_id= or mi_res_id= (a user-assigned identity). The
// token is an ARM token for resource whose xms_mirid claim names the
// identity; a registry's /oauth2/exchange turns it into ACR tokens that
// carry the claim on, which is how a registry recognises a trusted service.
const identityPath = "/metadata/identity/oauth2/token"

func (s *Server) managedIdentityToken(w http.ResponseWriter, req *http.Request) {
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	c := s.clientOf(req)
	if !c.TrustedService {
		fail(http.StatusForbidden, "invalid_request",
			fmt.Sprintf("Identity not found: the source %s is no trusted-service instance (--trusted-service-network)", c.Source))
		return
	}
	if !strings.EqualFold(req.Header.Get("Metadata"), "true") {
		fail(http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	q := req.URL.Query()
	resource := q.Get("resource")
	if q.Get("api-version") == "" || resource == "" {
		fail(http.StatusBadRequest, "invalid_request", "Required query parameters api-version and resource not specified")
		return
	}
	// The system-assigned identity of the instance at this source, unless
	// the caller names a user-assigned one.
	instance := "aci-" + strings.NewReplacer(".", "-", ":", "-").Replace(c.Source.String())
	mirid := "/subscriptions/" + s.cfg.Subscription + "/resourceGroups/trusted-services/providers/Microsoft.ContainerInstance/containerGroups/" + instance
	if v := q.Get("mi_res_id"); v != "" {
		mirid = v
	}
	claims := s.managedIdentityClaims(mirid, q.Get("client_id"), resource)
	clientID := claims.AppID
	tok, err := s.signer.Sign(claims, mgmt.TokenTTL)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "the token could not be issued")
		return
	}
	ttl := int(mgmt.TokenTTL.Seconds())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{
		"access_token": tok, "client_id": clientID, "expires_in": strconv.Itoa(ttl),
		"expires_on": strconv.FormatInt(time.Now().Add(mgmt.TokenTTL).Unix(), 10), "ext_expires_in": strconv.Itoa(ttl),
		"not_before": strconv.FormatInt(time.Now().Unix(), 10), "resource": resource, "token_type": "Bearer",
	})
}

// managedIdentityClaims are the ARM token claims of the managed identity
// mirid for resource: its client ID is clientID, or one derived from
// mirid when the caller names none; its object ID is derived from both
// and is the token's subject.
func (s *Server) managedIdentityClaims(mirid, clientID, resource string) token.Claims {
	if clientID == "" {
		clientID = mgmt.DerivedUUID("managed identity client", mirid)
	}
	oid := mgmt.DerivedUUID("managed identity object", mirid, clientID)
	claims := token.Claims{GrantType: token.GrantARM, Tenant: s.cfg.Tenant, TenantID: s.cfg.Tenant,
		AppID: clientID, ObjectID: oid, ManagedIdentity: mirid}
	claims.Subject = oid
	claims.Audience = jwt.ClaimStrings{resource}
	return claims
}
