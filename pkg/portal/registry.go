package portal

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routeParam is a path parameter, decoded (the portal routes on the
// decoded path, so it never contains '/').
func routeParam(r *http.Request, name string) string { return chi.URLParam(r, name) }

// loadRegistry reads the registry named by the route from ARM.
func (c *call) loadRegistry(r *http.Request) (regView, error) {
	var reg registryJSON
	if err := c.arm.do(http.MethodGet, c.arm.registryPath(routeParam(r, "rg"), routeParam(r, "name")), registryAPI, nil, &reg); err != nil {
		return regView{}, err
	}
	return toView(reg), nil
}

// registryPage is the frame of a registry's blades: breadcrumb, title and
// left menu.
func registryPage(c *call, v regView, blade, title string) page {
	return page{
		Title:  v.Name + " | " + title,
		CSRF:   c.csrf,
		Crumbs: []crumb{{"Container registries", Prefix + "/"}, {v.Name, v.URL}},
		Reg:    &v,
		Blade:  blade,
	}
}

func (p *Portal) overviewPage(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := c.loadRegistry(r)
	if err != nil {
		return err
	}
	pg := registryPage(c, v, "overview", "Overview")
	pg.Flash = flash(r)
	p.render(w, r, http.StatusOK, "overview", pg)
	return nil
}

type passwordView struct {
	Name, Value string
	Shown       bool
}

type keysView struct {
	Username  string
	Passwords []passwordView
}

func (p *Portal) keysPage(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := c.loadRegistry(r)
	if err != nil {
		return err
	}
	kv := keysView{}
	if v.AdminUser {
		var creds credentialsJSON
		if err := c.arm.do(http.MethodPost, c.arm.registryPath(v.ResourceGroup, v.Name)+"/listCredentials", registryAPI, nil, &creds); err != nil {
			return err
		}
		kv.Username = creds.Username
		show := r.URL.Query().Get("show")
		for _, pw := range creds.Passwords {
			kv.Passwords = append(kv.Passwords, passwordView{Name: pw.Name, Value: pw.Value, Shown: pw.Name == show})
		}
	}
	pg := registryPage(c, v, "keys", "Access keys")
	pg.Flash = flash(r)
	pg.Body = kv
	p.render(w, r, http.StatusOK, "keys", pg)
	return nil
}

// keys switches the admin user on or off, or regenerates a password.
func (p *Portal) keys(w http.ResponseWriter, r *http.Request, c *call) error {
	rg, name := routeParam(r, "rg"), routeParam(r, "name")
	path := c.arm.registryPath(rg, name)
	var err error
	done := ""
	switch op := r.PostForm.Get("op"); {
	case op == "admin-on" || op == "admin-off":
		on := op == "admin-on"
		err = c.arm.do(http.MethodPatch, path, registryAPI, map[string]any{"properties": map[string]any{"adminUserEnabled": on}}, nil)
		done = "admin-disabled"
		if on {
			done = "admin-enabled"
		}
	case strings.HasPrefix(op, "regenerate:"):
		err = c.arm.do(http.MethodPost, path+"/regenerateCredential", registryAPI, map[string]string{"name": strings.TrimPrefix(op, "regenerate:")}, nil)
		done = "regenerated"
	default:
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Message: "Unknown action."}
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, registryURL(rg, name)+"/keys?done="+done, http.StatusSeeOther)
	return nil
}

func (p *Portal) deleteRegistryPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return p.showDeleteRegistry(w, r, c, http.StatusOK, "")
}

func (p *Portal) showDeleteRegistry(w http.ResponseWriter, r *http.Request, c *call, status int, fieldErr string) error {
	v, err := c.loadRegistry(r)
	if err != nil {
		return err
	}
	pg := registryPage(c, v, "", "Delete")
	pg.Body = confirmView{Kind: "registry", Name: v.Name, Action: v.URL + "/delete", Cancel: v.URL, FieldError: fieldErr}
	p.render(w, r, status, "confirm", pg)
	return nil
}

// deleteRegistry deletes the registry and its images once the user typed
// its name.
func (p *Portal) deleteRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	rg, name := routeParam(r, "rg"), routeParam(r, "name")
	if !strings.EqualFold(strings.TrimSpace(r.PostForm.Get("confirm")), name) {
		return p.showDeleteRegistry(w, r, c, http.StatusBadRequest, "Type the registry name to confirm the deletion.")
	}
	if err := c.arm.do(http.MethodDelete, c.arm.registryPath(rg, name), registryAPI, nil, nil); err != nil {
		return err
	}
	p.log.Info("portal deleted registry", "registry", name, "resourceGroup", rg)
	http.Redirect(w, r, Prefix+"/?done=registry-deleted", http.StatusSeeOther)
	return nil
}
