package portal

import (
	"errors"
	"net/http"
	"slices"
	"strings"
)

func (c *call) listRegistries() ([]regView, error) {
	regs, err := listAll[registryJSON](c.arm, c.arm.subPath()+"/providers/Microsoft.ContainerRegistry/registries", registryAPI)
	if err != nil {
		return nil, err
	}
	var out []regView
	for _, r := range regs {
		out = append(out, toView(r))
	}
	return out, nil
}

func (c *call) listGroups() ([]groupJSON, error) {
	return listAll[groupJSON](c.arm, c.arm.subPath()+"/resourcegroups", groupAPI)
}

type groupView struct {
	Name, Location string
	Registries     []string
}

type registriesView struct {
	Registries []regView
	Groups     []groupView
}

func (p *Portal) registriesPage(w http.ResponseWriter, r *http.Request, c *call) error {
	regs, err := c.listRegistries()
	if err != nil {
		return err
	}
	groups, err := c.listGroups()
	if err != nil {
		return err
	}
	v := registriesView{Registries: regs}
	for _, g := range groups {
		gv := groupView{Name: g.Name, Location: g.Location}
		for _, reg := range regs {
			if strings.EqualFold(reg.ResourceGroup, g.Name) {
				gv.Registries = append(gv.Registries, reg.Name)
			}
		}
		v.Groups = append(v.Groups, gv)
	}
	p.render(w, r, http.StatusOK, "registries", page{Title: "Container registries", CSRF: c.csrf, Flash: flash(r), Body: v})
	return nil
}

// createView is the create form; Errors maps a field to ARM's message.
type createView struct {
	Name, Group, Location, SKU string
	Groups                     []string
	SKUs                       []string
	Errors                     map[string]string
}

var skus = []string{"Basic", "Standard", "Premium"}

func (p *Portal) createPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return p.showCreate(w, r, c, http.StatusOK, createView{Location: "eastus", SKU: "Standard"}, "")
}

func (p *Portal) showCreate(w http.ResponseWriter, r *http.Request, c *call, status int, v createView, errMsg string) error {
	groups, err := c.listGroups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		v.Groups = append(v.Groups, g.Name)
	}
	v.SKUs = skus
	p.render(w, r, status, "create", page{
		Title: "Create container registry", CSRF: c.csrf, Error: errMsg,
		Crumbs: []crumb{{"Container registries", Prefix + "/"}}, Body: v,
	})
	return nil
}

// create creates the resource group when it does not exist, then the
// registry, as the portal's create blade does. The name is checked first,
// because a PUT on an existing name would replace that registry.
func (p *Portal) create(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	v := createView{
		Name:     strings.TrimSpace(f.Get("name")),
		Group:    strings.TrimSpace(f.Get("group")),
		Location: strings.TrimSpace(f.Get("location")),
		SKU:      f.Get("sku"),
		Errors:   map[string]string{},
	}
	for field, val := range map[string]string{"name": v.Name, "group": v.Group, "location": v.Location, "sku": v.SKU} {
		if msg := checkSegment(val); msg != "" {
			v.Errors[field] = msg
		}
	}
	if len(v.Errors) > 0 {
		return p.showCreate(w, r, c, http.StatusBadRequest, v, "")
	}
	var status nameStatusJSON
	err := c.arm.do(http.MethodPost, c.arm.subPath()+"/providers/Microsoft.ContainerRegistry/checkNameAvailability", registryAPI,
		map[string]string{"name": v.Name, "type": "Microsoft.ContainerRegistry/registries"}, &status)
	if err != nil {
		return p.createFailed(w, r, c, v, err)
	}
	if !status.NameAvailable {
		v.Errors["name"] = status.Message
		return p.showCreate(w, r, c, http.StatusBadRequest, v, "")
	}
	err = c.arm.do(http.MethodHead, c.arm.groupPath(v.Group), groupAPI, nil, nil)
	var ae *armError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		err = c.arm.do(http.MethodPut, c.arm.groupPath(v.Group), groupAPI, map[string]string{"location": v.Location}, nil)
	}
	if err != nil {
		return p.createFailed(w, r, c, v, err)
	}
	body := map[string]any{
		"location":   v.Location,
		"sku":        map[string]string{"name": v.SKU},
		"properties": map[string]any{"adminUserEnabled": false},
	}
	var reg registryJSON
	if err := c.arm.do(http.MethodPut, c.arm.registryPath(v.Group, v.Name), registryAPI, body, &reg); err != nil {
		return p.createFailed(w, r, c, v, err)
	}
	p.log.Info("portal created registry", "registry", reg.Name, "resourceGroup", v.Group)
	http.Redirect(w, r, registryURL(groupOf(reg.ID), reg.Name)+"?done=created", http.StatusSeeOther)
	return nil
}

// createFields says which form field an ARM error code is about.
var createFields = map[string]string{
	"InvalidResourceName":     "name",
	"AlreadyInUse":            "name",
	"InvalidResourceGroup":    "group",
	"ResourceGroupNotFound":   "group",
	"InvalidSku":              "sku",
	"LocationRequired":        "location",
	"InvalidResourceLocation": "location",
	"InvalidLocation":         "location",
}

// createFailed shows an ARM validation error next to its field, or above
// the form; other failures become an error page.
func (p *Portal) createFailed(w http.ResponseWriter, r *http.Request, c *call, v createView, err error) error {
	var ae *armError
	if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized || ae.Status >= 500 {
		return err
	}
	if field, ok := createFields[ae.Code]; ok {
		v.Errors[field] = ae.Message
		return p.showCreate(w, r, c, ae.Status, v, "")
	}
	return p.showCreate(w, r, c, ae.Status, v, ae.Code+": "+ae.Message)
}

// checkSegment refuses values that would change the shape of an ARM path;
// everything else is ARM's to judge.
func checkSegment(v string) string {
	switch {
	case v == "":
		return "A value is required."
	case strings.ContainsAny(v, "/\\?#%") || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "The value contains characters that are not allowed here: / \\ ? # %."
	}
	return ""
}

// confirmView is the "type the name to delete" page.
type confirmView struct {
	Kind       string // "registry" or "resource group"
	Name       string
	Action     string // where the form posts
	Cancel     string
	Registries []string // what deleting a group deletes with it
	FieldError string
}

func (p *Portal) deleteGroupPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return p.showDeleteGroup(w, r, c, http.StatusOK, "")
}

func (p *Portal) showDeleteGroup(w http.ResponseWriter, r *http.Request, c *call, status int, fieldErr string) error {
	var g groupJSON
	if err := c.arm.do(http.MethodGet, c.arm.groupPath(routeParam(r, "rg")), groupAPI, nil, &g); err != nil {
		return err
	}
	regs, err := listAll[registryJSON](c.arm, c.arm.groupPath(g.Name)+"/providers/Microsoft.ContainerRegistry/registries", registryAPI)
	if err != nil {
		return err
	}
	v := confirmView{Kind: "resource group", Name: g.Name, Action: groupURL(g.Name) + "/delete", Cancel: Prefix + "/", FieldError: fieldErr}
	for _, reg := range regs {
		v.Registries = append(v.Registries, reg.Name)
	}
	slices.Sort(v.Registries)
	p.render(w, r, status, "confirm", page{
		Title: "Delete resource group " + g.Name, CSRF: c.csrf,
		Crumbs: []crumb{{"Container registries", Prefix + "/"}}, Body: v,
	})
	return nil
}

// deleteGroup deletes the group with its registries and their images, as
// az group delete does, once the user typed the group's name.
func (p *Portal) deleteGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	rg := routeParam(r, "rg")
	if !strings.EqualFold(strings.TrimSpace(r.PostForm.Get("confirm")), rg) {
		return p.showDeleteGroup(w, r, c, http.StatusBadRequest, "Type the resource group name to confirm the deletion.")
	}
	if err := c.arm.do(http.MethodDelete, c.arm.groupPath(rg), groupAPI, nil, nil); err != nil {
		return err
	}
	p.log.Info("portal deleted resource group", "resourceGroup", rg)
	http.Redirect(w, r, Prefix+"/?done=group-deleted", http.StatusSeeOther)
	return nil
}
