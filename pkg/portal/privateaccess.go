package portal

import (
	"errors"
	"net/http"
	"strings"
)

// The Networking blade's Private access tab: the registry's private
// endpoint connections, read and changed through ARM as
// `az acr private-endpoint-connection list/approve/reject` do.

// peConnectionJSON is the part of a privateEndpointConnection the tab shows.
type peConnectionJSON struct {
	Name       string `json:"name"`
	Properties struct {
		PrivateEndpoint struct {
			ID string `json:"id"`
		} `json:"privateEndpoint"`
		State struct {
			Status      string `json:"status"`
			Description string `json:"description"`
		} `json:"privateLinkServiceConnectionState"`
	} `json:"properties"`
}

// connectionView is one row of the connections table.
type connectionView struct {
	Name          string
	Endpoint      string // the private endpoint's name
	EndpointGroup string // its resource group
	Status        string
	Description   string
	CanApprove    bool // only a pending connection can be approved
	CanReject     bool // a pending or approved one can be rejected
}

func toConnectionView(c peConnectionJSON) connectionView {
	v := connectionView{Name: c.Name, Status: c.Properties.State.Status, Description: c.Properties.State.Description}
	id := c.Properties.PrivateEndpoint.ID
	v.Endpoint = id[strings.LastIndex(id, "/")+1:]
	segs := strings.Split(id, "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "resourceGroups") {
			v.EndpointGroup = segs[i+1]
		}
	}
	v.CanApprove = strings.EqualFold(v.Status, "Pending")
	v.CanReject = v.CanApprove || strings.EqualFold(v.Status, "Approved")
	return v
}

// connections lists the registry's private endpoint connections.
func (c *call) connections(v regView) ([]connectionView, error) {
	conns, err := listAll[peConnectionJSON](c.arm, c.arm.registryPath(v.ResourceGroup, v.Name)+"/privateEndpointConnections", registryAPI)
	if err != nil {
		return nil, err
	}
	out := []connectionView{}
	for _, pc := range conns {
		out = append(out, toConnectionView(pc))
	}
	return out, nil
}

// connectionActions maps the tab's buttons to the state they ask ARM for.
var connectionActions = map[string]struct{ status, done string }{
	"approve": {"Approved", "connection-approved"},
	"reject":  {"Rejected", "connection-rejected"},
}

// maxDescription bounds the description sent with an approval or rejection.
const maxDescription = 140

// privateAccess approves or rejects one connection with one ARM PUT of its
// privateLinkServiceConnectionState. An ARM error (a rejected connection
// cannot be approved again, the connection is gone) comes back on the tab.
func (p *Portal) privateAccess(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := c.loadRegistry(r)
	if err != nil {
		return err
	}
	action, ok := connectionActions[r.PostForm.Get("op")]
	name := r.PostForm.Get("connection")
	desc := strings.TrimSpace(r.PostForm.Get("description"))
	switch {
	case !ok:
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Message: "Unknown action."}
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\"):
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Message: "The form names no valid connection."}
	case len(desc) > maxDescription:
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Message: "The description is longer than 140 characters."}
	}
	body := map[string]any{"properties": map[string]any{"privateLinkServiceConnectionState": map[string]string{
		"status": action.status, "description": desc}}}
	err = c.arm.do(http.MethodPut, c.arm.registryPath(v.ResourceGroup, v.Name)+"/privateEndpointConnections/"+name, registryAPI, body, nil)
	if err == nil {
		p.log.Info("portal changed a private endpoint connection", "registry", v.Name, "connection", name, "status", action.status)
		http.Redirect(w, r, v.URL+"/networking?tab=private&done="+action.done, http.StatusSeeOther)
		return nil
	}
	var ae *armError
	if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized || ae.Status >= 500 {
		return err
	}
	pg := registryPage(c, v, "networking", "Networking")
	nv := p.networkView(r, v, savedForm(v))
	nv.Tab = "private"
	if nv.Connections, err = c.connections(v); err != nil {
		return err
	}
	pg.Error = ae.Code + ": " + ae.Message
	pg.Body = nv
	p.render(w, r, ae.Status, "networking", pg)
	return nil
}
