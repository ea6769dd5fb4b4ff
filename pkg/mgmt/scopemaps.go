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

// Scope maps (Microsoft.ContainerRegistry/registries/scopeMaps) group the
// repository actions a token may perform. ACR offers them, with tokens, in
// every SKU (Premium only while in preview, until 2023). Every registry has
// the five system-defined scope maps below; user-defined ones are stored.
//
// Choices where ACR's behaviour is not documented:
//   - A PUT of a system scope map's name is accepted when it names exactly
//     the system actions (exported templates redeploy them) and refused
//     with 400 otherwise; PATCH and DELETE of one are refused.
//   - Deleting a scope map that tokens use is allowed (az warns that the
//     tokens lose its permissions); they then grant nothing.
//   - Actions are validated: repositories/<name or wildcard>/<action> with
//     one of the five actions, or gateway/<name>/<config|message>/<read|write>.
const (
	scopeMapType = registryType + "/scopeMaps"
	tokenType    = registryType + "/tokens"
)

// systemScopeMap is one of ACR's built-in scope maps.
type systemScopeMap struct {
	name, description string
	actions           []string
}

// systemScopeMaps are the system-defined scope maps of every registry,
// with ACR's descriptions and actions.
var systemScopeMaps = []systemScopeMap{
	{"_repositories_admin", "Can perform all read, write and delete operations on the registry", []string{
		"repositories/*/metadata/read", "repositories/*/metadata/write",
		"repositories/*/content/read", "repositories/*/content/write", "repositories/*/content/delete",
	}},
	{"_repositories_pull", "Can pull any repository of the registry", []string{
		"repositories/*/content/read",
	}},
	{"_repositories_pull_metadata_read", "Can perform all read operations on the registry", []string{
		"repositories/*/content/read", "repositories/*/metadata/read",
	}},
	{"_repositories_push", "Can push to any repository of the registry", []string{
		"repositories/*/content/read", "repositories/*/content/write",
	}},
	{"_repositories_push_metadata_write", "Can perform all read and write operations on the registry", []string{
		"repositories/*/metadata/read", "repositories/*/metadata/write",
		"repositories/*/content/read", "repositories/*/content/write",
	}},
}

func findSystemScopeMap(name string) *systemScopeMap {
	for i := range systemScopeMaps {
		if strings.EqualFold(systemScopeMaps[i].name, name) {
			return &systemScopeMaps[i]
		}
	}
	return nil
}

type scopeMapJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	SystemData *systemDataJSON   `json:"systemData,omitempty"`
	Properties scopeMapPropsJSON `json:"properties"`
}

type scopeMapPropsJSON struct {
	Description       string   `json:"description,omitempty"`
	Type              string   `json:"type"` // SystemDefined, UserDefined
	CreationDate      string   `json:"creationDate"`
	ProvisioningState string   `json:"provisioningState"`
	Actions           []string `json:"actions"`
}

func scopeMapID(reg store.Registry, name string) string {
	return registryID(reg) + "/scopeMaps/" + name
}

func renderSystemScopeMap(reg store.Registry, m systemScopeMap) scopeMapJSON {
	return scopeMapJSON{
		ID:   scopeMapID(reg, m.name),
		Name: m.name,
		Type: scopeMapType,
		Properties: scopeMapPropsJSON{
			Description:       m.description,
			Type:              "SystemDefined",
			CreationDate:      formatZ(reg.CreatedAt),
			ProvisioningState: "Succeeded",
			Actions:           slices.Clone(m.actions),
		},
	}
}

func renderScopeMap(reg store.Registry, m store.ScopeMap) scopeMapJSON {
	return scopeMapJSON{
		ID:         scopeMapID(reg, m.Name),
		Name:       m.Name,
		Type:       scopeMapType,
		SystemData: childSystemData(m.CreatedBy, m.CreatedAt, m.LastModifiedBy, m.LastModifiedAt),
		Properties: scopeMapPropsJSON{
			Description:       m.Description,
			Type:              "UserDefined",
			CreationDate:      formatZ(m.CreatedAt),
			ProvisioningState: "Succeeded",
			Actions:           nonNil(m.Actions),
		},
	}
}

func childSystemData(createdBy string, createdAt time.Time, modifiedBy string, modifiedAt time.Time) *systemDataJSON {
	if modifiedAt.IsZero() {
		modifiedAt, modifiedBy = createdAt, createdBy
	}
	return &systemDataJSON{
		CreatedBy: createdBy, CreatedByType: "Application", CreatedAt: formatOffset(createdAt),
		LastModifiedBy: modifiedBy, LastModifiedByType: "Application", LastModifiedAt: formatOffset(modifiedAt),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// validateChildName checks a scope map or token name: 5 to 50
// alphanumerics, hyphens and underscores, as ARM documents for both.
func validateChildName(kind, name string) error {
	ok := len(name) >= 5 && len(name) <= 50
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return badRequest("InvalidResourceName",
			"The %s name '%s' is invalid. It must be 5 to 50 characters long and may contain only alphanumeric characters, hyphens and underscores.", kind, name)
	}
	return nil
}

// validateActions checks a scope map's actions.
func validateActions(actions []string) error {
	if len(actions) == 0 {
		return badRequest("InvalidScopeMapActions", "The scope map must have at least one action, e.g. repositories/<repository>/content/read.")
	}
	for _, s := range actions {
		if pattern, _, ok := scopemap.ParseAction(s); ok {
			if !scopemap.ValidRepositoryPattern(pattern) {
				return badRequest("InvalidScopeMapActions",
					"The action '%s' names an invalid repository '%s'. Use a lower-case repository name, '<name>/*' for the repositories under it, or '*' for all of them.", s, pattern)
			}
			continue
		}
		if validGatewayAction(s) {
			continue
		}
		return badRequest("InvalidScopeMapActions",
			"The action '%s' is invalid. Valid actions are repositories/<repository>/{%s} and gateway/<connected registry>/{config/read,config/write,message/read,message/write}.",
			s, strings.Join(scopemap.ActionNames, ","))
	}
	return nil
}

func validGatewayAction(s string) bool {
	rest, ok := strings.CutPrefix(s, "gateway/")
	if !ok {
		return false
	}
	for _, a := range []string{"/config/read", "/config/write", "/message/read", "/message/write"} {
		if name, ok := strings.CutSuffix(rest, a); ok && name != "" && !strings.Contains(name, "/") {
			return true
		}
	}
	return false
}

func scopeMapNotFound(reg store.Registry, name string) error {
	return newError(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		scopeMapType, reg.Name, name, reg.ResourceGroup)
}

func systemScopeMapReadOnly(name string) error {
	return badRequest("SystemScopeMapCannotBeModified", "The scope map '%s' is system-defined and cannot be modified or deleted.", name)
}

type scopeMapInput struct {
	Properties *struct {
		Description *string   `json:"description"`
		Actions     *[]string `json:"actions"`
	} `json:"properties"`
}

// scopeMapKind describes a registry's scope maps: the system-defined
// ones, then the stored ones, listed in pages by name.
var scopeMapKind = childKind[store.Registry, scopeMapJSON]{
	param:   "scopemap",
	parent:  (*API).registryInTx,
	pageKey: func(m scopeMapJSON) string { return strings.ToLower(m.Name) },
	commit:  commitRegistryAuth,
	one: func(_ *API, tx *store.Tx, _ *http.Request, reg store.Registry, name string) (scopeMapJSON, error) {
		if sys := findSystemScopeMap(name); sys != nil {
			return renderSystemScopeMap(reg, *sys), nil
		}
		m, err := tx.ScopeMap(reg.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return scopeMapJSON{}, scopeMapNotFound(reg, name)
		}
		return renderScopeMap(reg, m), err
	},
	all: func(_ *API, tx *store.Tx, _ *http.Request, reg store.Registry) ([]scopeMapJSON, error) {
		var out []scopeMapJSON
		for _, m := range systemScopeMaps {
			out = append(out, renderSystemScopeMap(reg, m))
		}
		maps, err := tx.ScopeMaps(reg.ID)
		for _, m := range maps {
			out = append(out, renderScopeMap(reg, m))
		}
		return out, err
	},
}

func (a *API) listScopeMaps(w http.ResponseWriter, r *http.Request) error {
	return scopeMapKind.list(a, w, r)
}

func (a *API) getScopeMap(w http.ResponseWriter, r *http.Request) error {
	return scopeMapKind.get(a, w, r)
}

// putScopeMap creates (201) or replaces (200) a scope map, synchronously.
func (a *API) putScopeMap(w http.ResponseWriter, r *http.Request) error {
	return a.writeScopeMap(w, r, true)
}

// patchScopeMap changes the description or actions of a scope map.
func (a *API) patchScopeMap(w http.ResponseWriter, r *http.Request) error {
	return a.writeScopeMap(w, r, false)
}

func (a *API) writeScopeMap(w http.ResponseWriter, r *http.Request, put bool) error {
	name := pathParam(r, "scopemap")
	var in scopeMapInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	var desc *string
	var actions *[]string
	if in.Properties != nil {
		desc, actions = in.Properties.Description, in.Properties.Actions
	}
	if put && actions == nil {
		return badRequest("InvalidScopeMapActions", "The scope map must have at least one action, e.g. repositories/<repository>/content/read.")
	}
	if actions != nil {
		if err := validateActions(*actions); err != nil {
			return err
		}
	}
	if desc != nil && len(*desc) > 256 {
		return badRequest("InvalidScopeMapDescription", "The description of a scope map may have at most 256 characters.")
	}
	if sys := findSystemScopeMap(name); sys != nil {
		if !put || !sameActions(*actions, sys.actions) {
			return systemScopeMapReadOnly(sys.name)
		}
		reg, err := a.registryFromPath(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderSystemScopeMap(reg, *sys))
		return nil
	}
	if put {
		if err := validateChildName("scope map", name); err != nil {
			return err
		}
	}
	appID := claimsFrom(r.Context()).AppID
	now := a.now().UTC()
	created, err := scopeMapKind.write(a, w, r, func(tx *store.Tx, reg *store.Registry) (scopeMapJSON, bool, error) {
		created := false
		m, err := tx.ScopeMap(reg.ID, name)
		switch {
		case err == nil:
		case !errors.Is(err, store.ErrNotFound):
			return scopeMapJSON{}, false, err
		case !put:
			return scopeMapJSON{}, false, scopeMapNotFound(*reg, name)
		default:
			m = store.ScopeMap{RegistryID: reg.ID, Name: name, CreatedAt: now, CreatedBy: appID}
			created = true
		}
		if put {
			m.Description = ""
		}
		if desc != nil {
			m.Description = *desc
		}
		if actions != nil {
			m.Actions = slices.Clone(*actions)
		}
		m.LastModifiedAt, m.LastModifiedBy = now, appID
		return renderScopeMap(*reg, m), created, tx.PutScopeMap(m)
	})
	if created {
		a.log.Info("scope map created", "scopeMap", name, "actions", len(*actions))
	}
	return err
}

func sameActions(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// deleteScopeMap deletes a user-defined scope map: 200, or 204 when there
// is none, as ARM deletes answer.
func (a *API) deleteScopeMap(w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, "scopemap")
	if sys := findSystemScopeMap(name); sys != nil {
		return systemScopeMapReadOnly(sys.name)
	}
	_, err := scopeMapKind.remove(a, w, r, func(tx *store.Tx, reg *store.Registry) (bool, error) {
		return deletedFromStore(tx.DeleteScopeMap(reg.ID, name))
	})
	return err
}
