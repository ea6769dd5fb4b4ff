package portal

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/acremu/acremu/pkg/firewall"
)

// networkForm is the Public access tab's state: what was saved, or what
// the user has changed but not yet saved.
type networkForm struct {
	Access          string   // accessAll, accessSelected or accessDisabled
	Rules           []string // address ranges in the table
	New             string   // the new-range field: addresses or ranges separated by commas or spaces
	ClientIP        bool     // "Add your client IP address" is checked
	ClientIPOffered bool     // the checkbox was on the page
	Trusted         bool     // allow trusted Microsoft services
}

// networkPatch is the ARM PATCH body the blade sends, the same properties
// az acr update and az acr network-rule change.
type networkPatch struct {
	Properties networkProps `json:"properties"`
}

type networkProps struct {
	PublicNetworkAccess      string          `json:"publicNetworkAccess"`
	NetworkRuleBypassOptions string          `json:"networkRuleBypassOptions"`
	NetworkRuleSet           *networkRuleSet `json:"networkRuleSet,omitempty"`
}

type networkRuleSet struct {
	DefaultAction string   `json:"defaultAction"`
	IPRules       []ipRule `json:"ipRules"`
}

// patch maps the blade's choice onto ACR's properties: All networks is
// publicNetworkAccess Enabled with defaultAction Allow, Selected networks
// is Enabled with Deny, Disabled is publicNetworkAccess Disabled (the rule
// set is left as stored). The address ranges are kept under All networks,
// so switching back to Selected networks finds them again.
func (f networkForm) patch() networkPatch {
	props := networkProps{PublicNetworkAccess: "Enabled", NetworkRuleBypassOptions: "None"}
	if f.Trusted {
		props.NetworkRuleBypassOptions = "AzureServices"
	}
	rules := make([]ipRule, 0, len(f.Rules))
	for _, v := range append(slices.Clone(f.Rules), splitEntries(f.New)...) {
		rules = append(rules, ipRule{Action: "Allow", Value: v})
	}
	switch f.Access {
	case accessDisabled:
		props.PublicNetworkAccess = "Disabled"
	case accessSelected:
		props.NetworkRuleSet = &networkRuleSet{DefaultAction: "Deny", IPRules: rules}
	default:
		props.NetworkRuleSet = &networkRuleSet{DefaultAction: "Allow", IPRules: rules}
	}
	return networkPatch{Properties: props}
}

func savedForm(v regView) networkForm {
	return networkForm{Access: v.Access, Rules: slices.Clone(v.Rules), Trusted: v.Trusted}
}

// parseNetworkForm reads the posted form and the action: "save", "add",
// or "remove:<range>".
func parseNetworkForm(f url.Values) (networkForm, string, error) {
	nf := networkForm{
		Access:          f.Get("access"),
		New:             strings.TrimSpace(f.Get("newrule")),
		ClientIP:        f.Get("clientip") == "on",
		ClientIPOffered: f.Get("clientipoffered") == "1",
		Trusted:         f.Get("trusted") == "on",
	}
	for _, v := range f["rule"] {
		if v = strings.TrimSpace(v); v != "" {
			nf.Rules = append(nf.Rules, v)
		}
	}
	if _, ok := accessLabels[nf.Access]; !ok {
		return nf, "", errors.New("choose All networks, Selected networks or Disabled")
	}
	op := f.Get("op")
	if op != "save" && op != "add" && !strings.HasPrefix(op, "remove:") {
		return nf, "", errors.New("unknown action")
	}
	return nf, op, nil
}

// splitEntries splits the new-range field into its entries.
func splitEntries(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// isClientRule reports whether rule names exactly the client address.
func isClientRule(rule, ip string) bool { return rule == ip || rule == ip+"/32" }

// withClientIP applies the checkbox: checked adds the client address (once),
// unchecked removes it, as the portal's checkbox does.
func withClientIP(rules []string, ip string, checked bool) []string {
	has := slices.ContainsFunc(rules, func(r string) bool { return isClientRule(r, ip) })
	switch {
	case checked && !has:
		return append(rules, ip)
	case !checked && has:
		return slices.DeleteFunc(rules, func(r string) bool { return isClientRule(r, ip) })
	}
	return rules
}

// clientInfo is the browser's address as the firewall sees it, and
// whether it can be an IP rule.
type clientInfo struct {
	IP    string
	Offer bool
	Note  string
}

func (p *Portal) clientInfo(r *http.Request) clientInfo {
	c := p.cfg.ClientOf(r)
	ci := clientInfo{IP: c.Addr.String()}
	switch {
	case !c.Addr.IsValid():
		ci.Note = "acremu cannot tell your client address."
	default:
		if err := firewall.CheckPublic(netip.PrefixFrom(c.Addr, c.Addr.BitLen())); err != nil {
			ci.Note = "Your client address " + ci.IP + " cannot be an IP rule: " + err.Error() + "."
		} else {
			ci.Offer = true
		}
	}
	if c.Network != "" {
		ci.Note = strings.TrimSpace("Your browser is in the virtual network '" + c.Network + "': a registry with an approved private endpoint from it admits it whatever its rules; any other judges its address " + ci.IP + ". " + ci.Note)
	}
	return ci
}

type ruleRow struct{ Value, Error string }

// networkView is the Networking blade.
type networkView struct {
	Tab           string // "public" or "private"
	Form          networkForm
	Rows          []ruleRow
	NewError      string
	Client        clientInfo
	ClientChecked bool
	Unsaved       bool
	Activity      *Activity
	Connections   []connectionView // the Private access tab's table
}

func (p *Portal) networkView(r *http.Request, v regView, f networkForm) networkView {
	nv := networkView{Tab: "public", Form: f, Client: p.clientInfo(r)}
	if r.URL.Query().Get("tab") == "private" {
		nv.Tab = "private"
	}
	for _, rule := range f.Rules {
		nv.Rows = append(nv.Rows, ruleRow{Value: rule})
		if nv.Client.Offer && isClientRule(rule, nv.Client.IP) {
			nv.ClientChecked = true
		}
	}
	saved := savedForm(v)
	nv.Unsaved = f.Access != saved.Access || f.Trusted != saved.Trusted || f.New != "" || !slices.Equal(f.Rules, saved.Rules)
	if p.cfg.Activity != nil {
		if a, ok := p.cfg.Activity(v.Name); ok {
			nv.Activity = &a
		}
	}
	return nv
}

func (p *Portal) networkingPage(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := c.loadRegistry(r)
	if err != nil {
		return err
	}
	pg := registryPage(c, v, "networking", "Networking")
	pg.Flash = flash(r)
	nv := p.networkView(r, v, savedForm(v))
	if nv.Tab == "private" && v.Premium {
		if nv.Connections, err = c.connections(v); err != nil {
			return err
		}
	}
	pg.Body = nv
	p.render(w, r, http.StatusOK, "networking", pg)
	return nil
}

// networking handles the blade's buttons. Add and delete change only the
// pending table (the page comes back with the change, unsaved); Save sends
// one ARM PATCH, and an ARM error comes back next to the field it is about
// with nothing saved.
func (p *Portal) networking(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := c.loadRegistry(r)
	if err != nil {
		return err
	}
	f, op, err := parseNetworkForm(r.PostForm)
	if err != nil {
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Message: "The form is invalid: " + err.Error() + "."}
	}
	client := p.clientInfo(r)
	if client.Offer && f.ClientIPOffered {
		f.Rules = withClientIP(f.Rules, client.IP, f.ClientIP)
	}
	pg := registryPage(c, v, "networking", "Networking")
	switch {
	case op == "add":
		for _, e := range splitEntries(f.New) {
			if !slices.Contains(f.Rules, e) {
				f.Rules = append(f.Rules, e)
			}
		}
		f.New = ""
	case strings.HasPrefix(op, "remove:"):
		if i := slices.Index(f.Rules, strings.TrimPrefix(op, "remove:")); i >= 0 {
			f.Rules = slices.Delete(f.Rules, i, i+1)
		}
	default:
		err := c.arm.do(http.MethodPatch, c.arm.registryPath(v.ResourceGroup, v.Name), registryAPI, f.patch(), nil)
		if err == nil {
			p.log.Info("portal saved network settings", "registry", v.Name, "access", f.Access)
			http.Redirect(w, r, v.URL+"/networking?done=network-saved", http.StatusSeeOther)
			return nil
		}
		var ae *armError
		if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized || ae.Status >= 500 {
			return err
		}
		nv := p.networkView(r, v, f)
		pg.Error = placeError(&nv, ae)
		pg.Body = nv
		p.render(w, r, ae.Status, "networking", pg)
		return nil
	}
	pg.Body = p.networkView(r, v, f)
	p.render(w, r, http.StatusOK, "networking", pg)
	return nil
}

// placeError puts an ARM error next to the field it is about: the address
// range it names, else the new-range field for rule errors and the quota;
// anything else is returned for the top of the page.
func placeError(nv *networkView, ae *armError) string {
	switch ae.Code {
	case "InvalidIpRule":
		for i, row := range nv.Rows {
			if strings.Contains(ae.Message, "'"+row.Value+"'") {
				nv.Rows[i].Error = ae.Message
				return "Nothing was saved: an address range is invalid."
			}
		}
		nv.NewError = ae.Message
		return "Nothing was saved: an address range is invalid."
	case "QuotaExceeded":
		nv.NewError = ae.Message
		return "Nothing was saved: too many address ranges."
	}
	return ae.Code + ": " + ae.Message
}
