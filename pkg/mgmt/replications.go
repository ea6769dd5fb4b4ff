package mgmt

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

const replicationType = "Microsoft.ContainerRegistry/registries/replications"

// replicationJSON is a replication as ACR renders it.
type replicationJSON struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	Location   string              `json:"location"`
	Tags       map[string]string   `json:"tags"`
	SystemData *systemDataJSON     `json:"systemData,omitempty"`
	Properties replicationPropJSON `json:"properties"`
}

type replicationPropJSON struct {
	ProvisioningState     string                `json:"provisioningState"`
	Status                replicationStatusJSON `json:"status"`
	RegionEndpointEnabled *bool                 `json:"regionEndpointEnabled,omitempty"`
	ZoneRedundancy        string                `json:"zoneRedundancy,omitempty"`
}

type replicationStatusJSON struct {
	DisplayStatus string `json:"displayStatus"`
	Timestamp     string `json:"timestamp"`
}

// replicationInput is the body of a replication PUT (Replication) or
// PATCH (ReplicationUpdateParameters: tags and regionEndpointEnabled).
type replicationInput struct {
	Location   *string                `json:"location"`
	Tags       *map[string]string     `json:"tags"`
	Properties *replicationPropsInput `json:"properties"`
	readOnlyResource
}

type replicationPropsInput struct {
	RegionEndpointEnabled *bool           `json:"regionEndpointEnabled"`
	ZoneRedundancy        *string         `json:"zoneRedundancy"`
	ProvisioningState     json.RawMessage `json:"provisioningState"` // read-only
	Status                json.RawMessage `json:"status"`            // read-only
}

// Replication properties by api-version (see feature).
var (
	featRegionEndpoint     = feature{"2021-09-01", "2021-06-01"}
	featReplicationZoneRed = feature{"2021-09-01", "2020-11-01"}
)

// homeReplication is the replication ARM lists in the registry's own
// region: named after the region, created with the registry, not
// deletable.
func homeReplication(reg store.Registry) store.Replication {
	return store.Replication{
		Name: reg.Location, Location: reg.Location, RegionEndpointEnabled: true,
		ZoneRedundancy: reg.ZoneRedundancy, Tags: reg.Tags,
		CreatedAt: reg.CreatedAt, CreatedBy: reg.CreatedBy,
		LastModifiedAt: reg.CreatedAt, LastModifiedBy: reg.CreatedBy,
	}
}

// allReplications lists reg's replications, the home region's first.
func allReplications(reg store.Registry) []store.Replication {
	return append([]store.Replication{homeReplication(reg)}, reg.Replications...)
}

func renderReplication(reg store.Registry, rep store.Replication, apiVersion string) replicationJSON {
	tags := rep.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	out := replicationJSON{
		ID:       registryID(reg) + "/replications/" + rep.Name,
		Name:     rep.Name,
		Type:     replicationType,
		Location: rep.Location,
		Tags:     tags,
		Properties: replicationPropJSON{
			ProvisioningState: "Succeeded",
			Status:            replicationStatusJSON{"Ready", formatOffset(rep.LastModifiedAt)},
		},
	}
	if featSystemData.in(apiVersion) {
		out.SystemData = &systemDataJSON{
			CreatedBy: rep.CreatedBy, CreatedByType: "Application", CreatedAt: formatOffset(rep.CreatedAt),
			LastModifiedBy: rep.LastModifiedBy, LastModifiedByType: "Application", LastModifiedAt: formatOffset(rep.LastModifiedAt),
		}
	}
	if featRegionEndpoint.in(apiVersion) {
		out.Properties.RegionEndpointEnabled = &rep.RegionEndpointEnabled
	}
	if featReplicationZoneRed.in(apiVersion) {
		out.Properties.ZoneRedundancy = orDefault(rep.ZoneRedundancy, "Disabled")
	}
	return out
}

// findReplication returns the index of the replication named name in
// reg.Replications (-1: none), and whether name is the home replication.
func findReplication(reg store.Registry, name string) (i int, home bool) {
	if strings.EqualFold(name, reg.Location) {
		return -1, true
	}
	for i, r := range reg.Replications {
		if strings.EqualFold(r.Name, name) {
			return i, false
		}
	}
	return -1, false
}

func replicationNotFound(name string) error {
	return newError(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		replicationType, name)
}

// replicationKind describes a registry's replications, the home
// region's first, for every SKU (the Terraform provider lists them on
// every refresh).
var replicationKind = childKind[store.Registry, replicationJSON]{
	param:  "replication",
	parent: (*API).registryInTx,
	commit: commitRegistryRecord,
	one: func(_ *API, _ *store.Tx, r *http.Request, reg store.Registry, name string) (replicationJSON, error) {
		i, home := findReplication(reg, name)
		switch {
		case home:
			return renderReplication(reg, homeReplication(reg), state(r).apiVersion), nil
		case i < 0:
			return replicationJSON{}, replicationNotFound(name)
		}
		return renderReplication(reg, reg.Replications[i], state(r).apiVersion), nil
	},
	all: func(_ *API, _ *store.Tx, r *http.Request, reg store.Registry) ([]replicationJSON, error) {
		reps := allReplications(reg)
		out := make([]replicationJSON, len(reps))
		for i, rep := range reps {
			out[i] = renderReplication(reg, rep, state(r).apiVersion)
		}
		return out, nil
	},
}

func (a *API) listReplications(w http.ResponseWriter, r *http.Request) error {
	return replicationKind.list(a, w, r)
}

func (a *API) getReplication(w http.ResponseWriter, r *http.Request) error {
	return replicationKind.get(a, w, r)
}

// putReplication creates (201) or replaces (200) a replication of a
// Premium registry. One replication per region; the home region's is the
// registry's own and cannot be written.
func (a *API) putReplication(w http.ResponseWriter, r *http.Request) error {
	return a.writeReplication(w, r, true)
}

// patchReplication updates tags and regionEndpointEnabled.
func (a *API) patchReplication(w http.ResponseWriter, r *http.Request) error {
	return a.writeReplication(w, r, false)
}

func (a *API) writeReplication(w http.ResponseWriter, r *http.Request, put bool) error {
	name := pathParam(r, "replication")
	if err := validateReplicationName(name); err != nil {
		return err
	}
	var in replicationInput
	if err := decodeStrictBody(w, r, &in); err != nil {
		return err
	}
	appID := claimsFrom(r.Context()).AppID
	now := a.now().UTC()
	var regName string
	var rep store.Replication
	created, err := replicationKind.write(a, w, r, func(_ *store.Tx, reg *store.Registry) (replicationJSON, bool, error) {
		regName = reg.Name
		i, home := findReplication(*reg, name)
		switch {
		case home:
			return replicationJSON{}, false, badRequest("HomeReplicationNotModifiable",
				"The replication '%s' is the home region of registry '%s'; it is created and deleted with the registry and cannot be changed.", name, reg.Name)
		case i < 0 && !put:
			return replicationJSON{}, false, replicationNotFound(name)
		case reg.SKU != skuPremium:
			return replicationJSON{}, false, badRequest("GeoReplicationNotSupported",
				"Geo-replication is not supported for the SKU %s. It requires the Premium SKU.", reg.SKU)
		}
		created := i < 0
		if created {
			rep = store.Replication{Name: name, RegionEndpointEnabled: true, ZoneRedundancy: "Disabled", CreatedAt: now, CreatedBy: appID}
		} else {
			rep = reg.Replications[i]
		}
		if err := in.applyTo(&rep, *reg, put, created); err != nil {
			return replicationJSON{}, false, err
		}
		for j, other := range reg.Replications {
			if j != i && other.Location == rep.Location {
				return replicationJSON{}, false, newError(http.StatusConflict, "ReplicationAlreadyExists",
					"Registry '%s' already has the replication '%s' in location '%s'.", reg.Name, other.Name, rep.Location)
			}
		}
		rep.LastModifiedAt, rep.LastModifiedBy = now, appID
		reg.Replications = append([]store.Replication(nil), reg.Replications...)
		if created {
			reg.Replications = append(reg.Replications, rep)
		} else {
			reg.Replications[i] = rep
		}
		stamp(reg, appID, now)
		return renderReplication(*reg, rep, state(r).apiVersion), created, nil
	})
	if created {
		a.log.Info("replication created", "registry", regName, "replication", rep.Name, "location", rep.Location)
	}
	return err
}

// applyTo validates in and writes it into rep. A PUT needs a location and
// cannot move an existing replication (ARM's InvalidResourceLocation);
// zoneRedundancy is set at creation only, as for registries.
func (in *replicationInput) applyTo(rep *store.Replication, reg store.Registry, put, created bool) error {
	if put {
		if in.Location == nil || normalizeLocation(*in.Location) == "" {
			return badRequest("LocationRequired", "The location property is required for this definition.")
		}
		if err := checkRegistryLocation(*in.Location); err != nil {
			return err
		}
		loc := normalizeLocation(*in.Location)
		switch {
		case loc == reg.Location:
			return badRequest("HomeReplicationNotModifiable",
				"Location '%s' is the home region of registry '%s', which always has a replication there.", loc, reg.Name)
		case !created && loc != rep.Location:
			return newError(http.StatusConflict, "InvalidResourceLocation",
				"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
				rep.Name, rep.Location, reg.ResourceGroup, loc)
		}
		rep.Location = loc
		rep.Tags = nil
		if created {
			rep.RegionEndpointEnabled = true
		}
	}
	if in.Tags != nil {
		rep.Tags = *in.Tags
	}
	if p := in.Properties; p != nil {
		if p.RegionEndpointEnabled != nil {
			rep.RegionEndpointEnabled = *p.RegionEndpointEnabled
		}
		if p.ZoneRedundancy != nil {
			v, err := enum("properties.zoneRedundancy", "InvalidZoneRedundancy", *p.ZoneRedundancy, "Enabled", "Disabled")
			if err != nil {
				return err
			}
			if !created && v != rep.ZoneRedundancy {
				return badRequest("ZoneRedundancyCannotBeChanged",
					"The zone redundancy of replication '%s' is set when it is created and cannot be changed.", rep.Name)
			}
			if !put {
				return badRequest("UnsupportedProperty", "The property 'properties.zoneRedundancy' cannot be updated with PATCH.")
			}
			rep.ZoneRedundancy = v
		}
	}
	return nil
}

// deleteReplication answers 200 when it deleted, 204 when there was
// nothing to delete; the home replication goes only with the registry.
func (a *API) deleteReplication(w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, "replication")
	appID := claimsFrom(r.Context()).AppID
	deleted, err := replicationKind.remove(a, w, r, func(_ *store.Tx, reg *store.Registry) (bool, error) {
		i, home := findReplication(*reg, name)
		switch {
		case home:
			return false, badRequest("HomeReplicationNotModifiable",
				"The replication '%s' is the home region of registry '%s'; delete the registry to delete it.", name, reg.Name)
		case i < 0:
			return false, nil
		}
		reg.Replications = append(append([]store.Replication(nil), reg.Replications[:i]...), reg.Replications[i+1:]...)
		stamp(reg, appID, a.now().UTC())
		return true, nil
	})
	if deleted {
		a.log.Info("replication deleted", "replication", name)
	}
	return err
}

// validateReplicationName applies ACR's rule: 5-50 alphanumeric characters.
func validateReplicationName(name string) error {
	ok := len(name) >= 5 && len(name) <= 50
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if !ok {
		return badRequest("InvalidResourceName",
			"The replication name '%s' is invalid. Replication names must be 5 to 50 characters long and may contain only alphanumeric characters.", name)
	}
	return nil
}
