package mgmt

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/scopemap"
	"github.com/acremu/acremu/pkg/store"
)

// Tokens (Microsoft.ContainerRegistry/registries/tokens) are usernames
// with up to two passwords whose permissions are those of one scope map.
// Passwords are made only by generateCredentials, which shows them once;
// GET lists their names, creation times and expiries, never the values.
//
// Choices where ACR's behaviour is not documented:
//   - scopeMapId must name an existing scope map of the same registry
//     (400 otherwise).
//   - credentials.passwords in a PUT or PATCH keeps the listed passwords
//     and removes the others (az acr token credential delete); it never
//     creates one.
//   - certificates are accepted and ignored.

// ResolvedToken is a token with the actions of its scope map (none when
// the scope map was deleted).
type ResolvedToken struct {
	store.Token
	Actions []string
}

// ResolveTokens returns the tokens of registry regID with their scope
// maps' actions.
func ResolveTokens(tx *store.Tx, regID string) ([]ResolvedToken, error) {
	toks, err := tx.Tokens(regID)
	if err != nil {
		return nil, err
	}
	out := make([]ResolvedToken, len(toks))
	for i, t := range toks {
		out[i].Token = t
		if sys := findSystemScopeMap(t.ScopeMap); sys != nil {
			out[i].Actions = slices.Clone(sys.actions)
			continue
		}
		m, err := tx.ScopeMap(regID, t.ScopeMap)
		switch {
		case err == nil:
			out[i].Actions = m.Actions
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	return out, nil
}

// commitAuth runs change on the route's registry in one transaction and,
// in the same transaction, prepares the data plane for the registry's
// tokens as they then are; the prepared change goes live after the commit.
func (a *API) commitAuth(r *http.Request, change func(tx *store.Tx, reg store.Registry) error) error {
	return a.commitAuthIn(func(tx *store.Tx) (store.Registry, error) {
		reg, err := a.registryInTx(tx, r)
		if err != nil {
			return reg, err
		}
		return reg, change(tx, reg)
	})
}

// commitAuthIn runs change, which returns the registry whose tokens or
// scope maps it changed, as commitAuth does.
func (a *API) commitAuthIn(change func(tx *store.Tx) (store.Registry, error)) error {
	var prepared PreparedChange
	err := a.commit(func(tx *store.Tx) error {
		reg, err := change(tx)
		if err != nil {
			return err
		}
		prepared, err = a.prepareDataPlane(tx, reg)
		return err
	}, func() {
		if prepared.Apply != nil {
			prepared.Apply()
		}
	})
	if err != nil && prepared.Discard != nil {
		prepared.Discard()
	}
	return err
}

type tokenJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	SystemData *systemDataJSON `json:"systemData,omitempty"`
	Properties tokenPropsJSON  `json:"properties"`
}

type tokenPropsJSON struct {
	CreationDate      string               `json:"creationDate"`
	ProvisioningState string               `json:"provisioningState"`
	ScopeMapID        string               `json:"scopeMapId"`
	Status            string               `json:"status"`
	Credentials       tokenCredentialsJSON `json:"credentials"`
}

type tokenCredentialsJSON struct {
	Certificates []struct{}          `json:"certificates"`
	Passwords    []tokenPasswordJSON `json:"passwords"`
}

type tokenPasswordJSON struct {
	CreationTime string `json:"creationTime"`
	Expiry       string `json:"expiry,omitempty"`
	Name         string `json:"name"`
	Value        string `json:"value,omitempty"` // only from generateCredentials
}

func renderTokenPassword(p store.TokenPassword, value string) tokenPasswordJSON {
	out := tokenPasswordJSON{CreationTime: formatOffset(p.CreatedAt), Name: p.Name, Value: value}
	if p.Expiry != nil {
		out.Expiry = formatZ(*p.Expiry)
	}
	return out
}

func renderToken(reg store.Registry, t store.Token) tokenJSON {
	pw := []tokenPasswordJSON{}
	for _, p := range t.Passwords {
		pw = append(pw, renderTokenPassword(p, ""))
	}
	return tokenJSON{
		ID:         registryID(reg) + "/tokens/" + t.Name,
		Name:       t.Name,
		Type:       tokenType,
		SystemData: childSystemData(t.CreatedBy, t.CreatedAt, t.LastModifiedBy, t.LastModifiedAt),
		Properties: tokenPropsJSON{
			CreationDate:      formatZ(t.CreatedAt),
			ProvisioningState: "Succeeded",
			ScopeMapID:        scopeMapID(reg, t.ScopeMap),
			Status:            t.Status,
			Credentials:       tokenCredentialsJSON{Certificates: []struct{}{}, Passwords: pw},
		},
	}
}

func tokenNotFound(reg store.Registry, name string) error {
	return newError(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		tokenType, reg.Name, name, reg.ResourceGroup)
}

type tokenInput struct {
	Properties *struct {
		ScopeMapID  *string `json:"scopeMapId"`
		Status      *string `json:"status"`
		Credentials *struct {
			Passwords *[]struct {
				Name *string `json:"name"`
			} `json:"passwords"`
		} `json:"credentials"`
	} `json:"properties"`
}

// childName returns the last segment of id when id is
// <registry id>/<kind>/<name> (case-insensitive), else "".
func childName(reg store.Registry, kind, id string) string {
	prefix := registryID(reg) + "/" + kind + "/"
	if len(id) <= len(prefix) || !strings.EqualFold(id[:len(prefix)], prefix) {
		return ""
	}
	name := id[len(prefix):]
	if strings.Contains(name, "/") {
		return ""
	}
	return name
}

// resolveScopeMap returns the spelling of the scope map id names.
func resolveScopeMap(tx *store.Tx, reg store.Registry, id string) (string, error) {
	name := childName(reg, "scopeMaps", id)
	if name == "" {
		return "", badRequest("InvalidScopeMapId",
			"The scope map id '%s' is invalid. It must be the resource id of a scope map of registry '%s', e.g. %s.", id, reg.Name, scopeMapID(reg, "_repositories_pull"))
	}
	if sys := findSystemScopeMap(name); sys != nil {
		return sys.name, nil
	}
	m, err := tx.ScopeMap(reg.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", badRequest("ScopeMapNotFound", "The scope map '%s' does not exist in registry '%s'.", name, reg.Name)
	}
	return m.Name, err
}

// tokenKind describes a registry's tokens, listed in pages by name.
var tokenKind = childKind[store.Registry, tokenJSON]{
	param:   "token",
	parent:  (*API).registryInTx,
	pageKey: func(t tokenJSON) string { return strings.ToLower(t.Name) },
	commit:  commitRegistryAuth,
	one: func(_ *API, tx *store.Tx, _ *http.Request, reg store.Registry, name string) (tokenJSON, error) {
		t, err := tx.Token(reg.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return tokenJSON{}, tokenNotFound(reg, name)
		}
		return renderToken(reg, t), err
	},
	all: func(_ *API, tx *store.Tx, _ *http.Request, reg store.Registry) ([]tokenJSON, error) {
		var out []tokenJSON
		toks, err := tx.Tokens(reg.ID)
		for _, t := range toks {
			out = append(out, renderToken(reg, t))
		}
		return out, err
	},
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	return tokenKind.list(a, w, r)
}

func (a *API) getToken(w http.ResponseWriter, r *http.Request) error {
	return tokenKind.get(a, w, r)
}

func (a *API) putToken(w http.ResponseWriter, r *http.Request) error {
	return a.writeToken(w, r, true)
}

func (a *API) patchToken(w http.ResponseWriter, r *http.Request) error {
	return a.writeToken(w, r, false)
}

// writeToken creates (201) or replaces (200) a token on PUT, or changes its
// scope map, status or passwords on PATCH, synchronously.
func (a *API) writeToken(w http.ResponseWriter, r *http.Request, put bool) error {
	name := pathParam(r, "token")
	if put {
		if err := validateChildName("token", name); err != nil {
			return err
		}
	}
	var in tokenInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	var scopeMap, status *string
	var keep []string
	keepGiven := false
	if p := in.Properties; p != nil {
		scopeMap, status = p.ScopeMapID, p.Status
		if p.Credentials != nil && p.Credentials.Passwords != nil {
			keepGiven = true
			for _, pw := range *p.Credentials.Passwords {
				if pw.Name == nil || !validTokenPasswordName(*pw.Name) {
					return badRequest("InvalidPasswordName", "Token password names are 'password1' and 'password2'.")
				}
				keep = append(keep, strings.ToLower(*pw.Name))
			}
		}
	}
	if status != nil {
		switch strings.ToLower(*status) {
		case "enabled", "disabled":
		default:
			return badRequest("InvalidTokenStatus", "The token status '%s' is invalid. Allowed values are 'enabled' and 'disabled'.", *status)
		}
	}
	if put && scopeMap == nil {
		return badRequest("InvalidScopeMapId", "The token must name a scope map (properties.scopeMapId).")
	}
	appID := claimsFrom(r.Context()).AppID
	now := a.now().UTC()
	var out tokenJSON
	created, err := tokenKind.write(a, w, r, func(tx *store.Tx, reg *store.Registry) (tokenJSON, bool, error) {
		created := false
		t, err := tx.Token(reg.ID, name)
		switch {
		case err == nil:
		case !errors.Is(err, store.ErrNotFound):
			return tokenJSON{}, false, err
		case !put:
			return tokenJSON{}, false, tokenNotFound(*reg, name)
		default:
			t = store.Token{RegistryID: reg.ID, Name: name, Status: "enabled", CreatedAt: now, CreatedBy: appID}
			created = true
		}
		if scopeMap != nil {
			if t.ScopeMap, err = resolveScopeMap(tx, *reg, *scopeMap); err != nil {
				return tokenJSON{}, false, err
			}
		}
		switch {
		case status != nil:
			t.Status = strings.ToLower(*status)
		case put:
			t.Status = "enabled"
		}
		if keepGiven {
			t.Passwords = slices.DeleteFunc(t.Passwords, func(p store.TokenPassword) bool {
				return !slices.Contains(keep, strings.ToLower(p.Name))
			})
		}
		t.LastModifiedAt, t.LastModifiedBy = now, appID
		out = renderToken(*reg, t)
		return out, created, tx.PutToken(t)
	})
	if created {
		a.log.Info("token created", "token", name, "scopeMap", out.Properties.ScopeMapID)
	}
	return err
}

// deleteToken deletes a token: 200, or 204 when there is none. Its
// passwords stop working at once.
func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, "token")
	_, err := tokenKind.remove(a, w, r, func(tx *store.Tx, reg *store.Registry) (bool, error) {
		return deletedFromStore(tx.DeleteToken(reg.ID, name))
	})
	return err
}

var tokenPasswordNames = []string{"password1", "password2"}

func validTokenPasswordName(n string) bool {
	return slices.Contains(tokenPasswordNames, strings.ToLower(n))
}

// parseExpiry reads an ISO 8601 time as clients send it: RFC 3339 with any
// fraction, or without a zone (UTC), or a date alone.
func parseExpiry(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest("InvalidExpiry", "The expiry '%s' is not a valid ISO 8601 date and time.", s)
}

// generateCredentials makes new passwords for a token: password1 or
// password2 when name says which, both otherwise, with the optional
// expiry. The answer, {"username","passwords":[{…,"value"}]}, is the only
// place the values ever appear; the old passwords stop working at once.
func (a *API) generateCredentials(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		TokenID *string `json:"tokenId"`
		Expiry  *string `json:"expiry"`
		Name    *string `json:"name"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	names := tokenPasswordNames
	if in.Name != nil {
		if !validTokenPasswordName(*in.Name) {
			return badRequest("InvalidPasswordName", "The password name '%s' is invalid. Allowed values are 'password1' and 'password2'.", *in.Name)
		}
		names = []string{strings.ToLower(*in.Name)}
	}
	var expiry *time.Time
	if in.Expiry != nil && *in.Expiry != "" {
		t, err := parseExpiry(*in.Expiry)
		if err != nil {
			return err
		}
		expiry = &t
	}
	if in.TokenID == nil || *in.TokenID == "" {
		return badRequest("InvalidTokenId", "The tokenId property is required.")
	}
	now := a.now().UTC()
	appID := claimsFrom(r.Context()).AppID
	var out struct {
		Username  string              `json:"username"`
		Passwords []tokenPasswordJSON `json:"passwords"`
	}
	err := a.commitAuth(r, func(tx *store.Tx, reg store.Registry) error {
		name := childName(reg, "tokens", *in.TokenID)
		if name == "" {
			return badRequest("InvalidTokenId", "The token id '%s' is invalid. It must be the resource id of a token of registry '%s'.", *in.TokenID, reg.Name)
		}
		t, err := tx.Token(reg.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return tokenNotFound(reg, name)
		} else if err != nil {
			return err
		}
		out.Username = t.Name
		for _, n := range names {
			value := newPassword()
			p := store.TokenPassword{Name: n, Hash: scopemap.HashPassword(value), CreatedAt: now, Expiry: expiry}
			t.Passwords = slices.DeleteFunc(t.Passwords, func(old store.TokenPassword) bool { return strings.EqualFold(old.Name, n) })
			t.Passwords = append(t.Passwords, p)
			out.Passwords = append(out.Passwords, renderTokenPassword(p, value))
		}
		slices.SortFunc(t.Passwords, func(x, y store.TokenPassword) int { return strings.Compare(x.Name, y.Name) })
		t.LastModifiedAt, t.LastModifiedBy = now, appID
		return tx.PutToken(t)
	})
	if err != nil {
		return err
	}
	a.log.Info("token passwords generated", "token", out.Username, "passwords", names)
	writeJSON(w, http.StatusOK, out)
	return nil
}
