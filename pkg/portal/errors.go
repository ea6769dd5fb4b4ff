package portal

import (
	"errors"
	"net/http"
	"net/url"
)

// pageError is an error shown as a page.
type pageError struct {
	Status         int
	Title, Message string
}

func (e *pageError) Error() string { return e.Title + ": " + e.Message }

var (
	errPageNotFound = &pageError{Status: http.StatusNotFound, Title: "Page not found", Message: "There is no portal page at this address."}
	errForbidden    = &pageError{Status: http.StatusForbidden, Title: "Request refused",
		Message: "The form was not sent from this portal page, or it has expired. Nothing was changed; reload the page and try again."}
)

// writeError is the one place handler errors become responses. Without a
// session (or when ARM no longer accepts the session's token) a page
// request is sent to sign-in and anything else gets a 401; ARM errors show
// ARM's code and message.
func (p *Portal) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *armError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		err = errNoSession
	}
	if errors.Is(err, errNoSession) {
		http.SetCookie(w, cookie(r, p.sessions.name, "", 0))
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, Prefix+"/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		p.render(w, r, http.StatusUnauthorized, "error", page{Title: "Sign in required",
			Body: &pageError{Title: "Sign in required", Message: "Your session has ended. Nothing was changed; sign in again."}})
		return
	}
	var pe *pageError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &ae):
		pe = &pageError{Status: ae.Status, Title: ae.Code, Message: ae.Message}
	default:
		p.log.Error("portal request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{Status: http.StatusInternalServerError, Title: "Internal error", Message: "The request failed; the acremu log has the details."}
	}
	p.render(w, r, pe.Status, "error", page{Title: pe.Title, Body: pe})
}
