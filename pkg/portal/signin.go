package portal

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// signinTTL bounds how long a sign-in form may sit before it is sent.
const signinTTL = 30 * time.Minute

type signinView struct {
	ClientID                 string
	Next                     string
	Token                    string // the form's CSRF token
	HintClientID, HintSecret string
}

func (p *Portal) signinPage(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := p.sessions.fromRequest(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	p.showSignin(w, r, http.StatusOK, "", "", next)
	return nil
}

// showSignin renders the sign-in form with a fresh nonce cookie; the form's
// CSRF token is derived from it (double submit), so a sign-in cannot be
// posted from another site either.
func (p *Portal) showSignin(w http.ResponseWriter, r *http.Request, status int, clientID, errMsg, next string) {
	nonce := randomID()
	http.SetCookie(w, cookie(r, p.sessions.signin, nonce, signinTTL))
	p.render(w, r, status, "signin", page{
		Title: "Sign in",
		Flash: flash(r),
		Error: errMsg,
		Body: signinView{
			ClientID: clientID, Next: next, Token: p.sessions.csrf("signin", nonce),
			HintClientID: p.cfg.HintClientID, HintSecret: p.cfg.HintSecret,
		},
	})
}

// signin checks the service principal's credentials and starts a session
// holding the ARM token they earn. A wrong secret changes nothing.
func (p *Portal) signin(w http.ResponseWriter, r *http.Request) error {
	nonce, err := r.Cookie(p.sessions.signin)
	if err != nil {
		return &pageError{Status: http.StatusForbidden, Title: "Request refused",
			Message: "The sign-in form has expired or cookies are disabled. Reload the sign-in page and try again."}
	}
	if err := p.checkPost(w, r, "signin", nonce.Value); err != nil {
		return err
	}
	next := safeNext(r.PostForm.Get("next"))
	clientID := strings.TrimSpace(r.PostForm.Get("client_id"))
	tok, ttl, err := p.cfg.SignIn(clientID, r.PostForm.Get("client_secret"))
	if err != nil {
		p.log.Info("portal sign-in failed", "clientId", clientID)
		p.showSignin(w, r, http.StatusUnauthorized, clientID, "Sign-in failed: the client ID or the client secret is wrong.", next)
		return nil
	}
	ttl = min(ttl, p.cfg.MaxSession)
	value, err := p.sessions.seal(session{ID: randomID(), Token: tok, Expires: p.now().Add(ttl)})
	if err != nil {
		return err
	}
	http.SetCookie(w, cookie(r, p.sessions.signin, "", 0))
	http.SetCookie(w, cookie(r, p.sessions.name, value, ttl))
	p.log.Info("portal sign-in", "clientId", clientID)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (p *Portal) signout(w http.ResponseWriter, r *http.Request, c *call) error {
	p.sessions.revoke(c.sess)
	http.SetCookie(w, cookie(r, p.sessions.name, "", 0))
	http.Redirect(w, r, Prefix+"/signin?done=signed-out", http.StatusSeeOther)
	return nil
}

// safeNext keeps the post-sign-in redirect inside the portal.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(u.Path, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(u.Path, Prefix+"/signin") {
		return Prefix + "/"
	}
	return u.RequestURI()
}

// flashes are the confirmations a redirect after a change may ask for;
// only these fixed texts can appear, never text from the URL.
var flashes = map[string]string{
	"created":             "The registry was created.",
	"network-saved":       "Saved the network settings.",
	"connection-approved": "The private endpoint connection is approved.",
	"connection-rejected": "The private endpoint connection is rejected.",
	"admin-enabled":       "The admin user is enabled.",
	"admin-disabled":      "The admin user is disabled.",
	"regenerated":         "The password was regenerated.",
	"registry-deleted":    "The registry was deleted.",
	"group-deleted":       "The resource group and its registries were deleted.",
	"signed-out":          "You have signed out.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }
