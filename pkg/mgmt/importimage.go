package mgmt

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

// importImage (POST …/registries/{name}/importImage) copies an image, with
// every manifest an index names and every blob, from another registry of
// this emulator into the route's registry. acremu has no network: the
// source is one of its own registries, named by resource ID or by login
// server (registryUri). mgmt decodes and checks the request and resolves
// the source; the copy itself is the front end's (ImportHooks), which goes
// through both registries' data planes, firewalls included.
//
// What ACR does and acremu follows:
//   - The body is ImportImageParameters: source {resourceId | registryUri,
//     sourceImage, credentials {username, password}}, targetTags,
//     untaggedTargetRepositories, mode NoForce (the default) | Force.
//   - NoForce refuses before anything is copied when a target tag exists;
//     the message contains "already exists in target registry" (scripts
//     match on it).
//   - A failed copy is code InvalidParameters with "Operation
//     registries-<id> failed. Resource <target id> <detail>"; a source
//     firewall's 403 is quoted as "Invalid message Forbidden Forbidden
//     <the data plane's body>", as seen from ACR.
//
// Choices where ACR's behaviour is not documented, or cannot apply:
//   - ACR answers 202 with a Location to poll; acremu finishes the copy
//     before it answers and returns 200 with no body, which the spec
//     allows and every poller accepts. Failures are answered at once.
//   - The NoForce conflict is 409 Conflict.
//   - A registryUri that is no login server of this emulator is refused
//     (400 InvalidParameters): there is nothing else to import from.
//   - Without credentials, a source named by resource ID is read as the
//     caller (any ARM identity of the emulated subscription may), through
//     ACR's trusted-service path; one named by registryUri is read
//     anonymously, as ACR reads any registry URI without credentials.
//   - With credentials, the source is read with them, whichever way it is
//     named.

// ImportHooks is an optional extension of Hooks: when the Hooks value
// implements it, importImage is served; otherwise it is 404 like any
// unknown path. ImportImage runs without any store transaction open.
// An *ImportError it returns is answered as such; any other error is a
// 500.
type ImportHooks interface {
	ImportImage(ctx context.Context, op ImportOperation) error
}

// ImportOperation is a validated importImage request.
type ImportOperation struct {
	Target store.Registry
	Source store.Registry
	// SourceByResourceID says the source was named by resource ID (the
	// caller's identity reads it unless Credentials are given).
	SourceByResourceID bool
	// SourceImage is repository[:tag] or repository@digest, as sent.
	SourceImage string
	Credentials *ImportCredentials // nil: none were sent
	// TargetTags are repository[:tag] as sent; UntaggedRepositories get
	// the manifest without a tag.
	TargetTags           []string
	UntaggedRepositories []string
	Force                bool
	// Caller is the ARM identity that asked (the token's subject or app).
	Caller string
}

// ImportCredentials are the source credentials of the request.
type ImportCredentials struct {
	Username, Password string
}

// ImportError is a refused or failed import as the caller sees it. Failed
// marks an error of the copy itself, which ACR reports as a failed
// operation ("Operation registries-<id> failed. Resource <id> …").
type ImportError struct {
	Status  int
	Code    string
	Message string
	Failed  bool
	Cause   error // logged, never sent
}

func (e *ImportError) Error() string { return e.Code + ": " + e.Message }
func (e *ImportError) Unwrap() error { return e.Cause }

type importInput struct {
	Source *struct {
		ResourceID  *string `json:"resourceId"`
		RegistryURI *string `json:"registryUri"`
		SourceImage *string `json:"sourceImage"`
		Credentials *struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
		} `json:"credentials"`
	} `json:"source"`
	TargetTags                 []string `json:"targetTags"`
	UntaggedTargetRepositories []string `json:"untaggedTargetRepositories"`
	Mode                       *string  `json:"mode"`
}

func importInvalid(format string, args ...any) error {
	return badRequest("InvalidParameters", format, args...)
}

func (a *API) importImage(w http.ResponseWriter, r *http.Request) error {
	ih, ok := a.cfg.Hooks.(ImportHooks)
	if !ok {
		return newError(http.StatusNotFound, "NotFound", "The requested resource path '%s' was not found.", state(r).path)
	}
	var in importInput
	if err := decodeStrictBody(w, r, &in); err != nil {
		return err
	}
	op, err := a.importOperation(r, in)
	if err != nil {
		return err
	}
	if err := ih.ImportImage(r.Context(), op); err != nil {
		var ie *ImportError
		if !errors.As(err, &ie) {
			return internalError(err)
		}
		msg := ie.Message
		if ie.Failed {
			msg = "Operation registries-" + newUUID() + " failed. Resource " + registryID(op.Target) + " " + msg
		}
		return &armError{status: ie.Status, code: ie.Code, message: msg, cause: ie.Cause}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// importOperation validates in and resolves the target and the source.
func (a *API) importOperation(r *http.Request, in importInput) (ImportOperation, error) {
	var op ImportOperation
	src := in.Source
	switch {
	case src == nil:
		return op, importInvalid("The source of the image is required (source).")
	case src.SourceImage == nil || strings.TrimSpace(*src.SourceImage) == "":
		return op, importInvalid("The source image is required (source.sourceImage).")
	case (src.ResourceID == nil || *src.ResourceID == "") == (src.RegistryURI == nil || *src.RegistryURI == ""):
		return op, importInvalid("Exactly one of source.resourceId and source.registryUri is required.")
	}
	op.SourceImage = strings.TrimSpace(*src.SourceImage)
	if c := src.Credentials; c != nil {
		if c.Password == nil || *c.Password == "" {
			return op, importInvalid("The source credentials need a password (source.credentials.password).")
		}
		op.Credentials = &ImportCredentials{Password: *c.Password}
		if c.Username != nil {
			op.Credentials.Username = *c.Username
		}
	}
	switch {
	case in.Mode == nil || strings.EqualFold(*in.Mode, "NoForce"):
	case strings.EqualFold(*in.Mode, "Force"):
		op.Force = true
	default:
		return op, importInvalid("The mode '%s' is not valid: it must be NoForce or Force.", *in.Mode)
	}
	for _, t := range in.TargetTags {
		if strings.TrimSpace(t) == "" {
			return op, importInvalid("A target tag is empty (targetTags).")
		}
	}
	for _, t := range in.UntaggedTargetRepositories {
		if strings.TrimSpace(t) == "" {
			return op, importInvalid("A target repository is empty (untaggedTargetRepositories).")
		}
	}
	op.TargetTags, op.UntaggedRepositories = in.TargetTags, in.UntaggedTargetRepositories
	if len(op.TargetTags) == 0 && len(op.UntaggedRepositories) == 0 {
		// As the spec says for a tag left out: the source names the target.
		op.TargetTags = []string{strings.SplitN(op.SourceImage, "@", 2)[0]}
	}
	claims := claimsFrom(r.Context())
	op.Caller = claims.Subject
	if op.Caller == "" {
		op.Caller = claims.AppID
	}

	err := a.cfg.Store.View(func(tx *store.Tx) error {
		var err error
		if op.Target, err = a.registryInTx(tx, r); err != nil {
			return err
		}
		if src.ResourceID != nil && *src.ResourceID != "" {
			op.SourceByResourceID = true
			op.Source, err = a.importSourceByID(tx, *src.ResourceID)
			return err
		}
		op.Source, err = a.importSourceByURI(tx, *src.RegistryURI)
		return err
	})
	return op, err
}

// importSourceByID resolves a registry resource ID of this subscription.
func (a *API) importSourceByID(tx *store.Tx, id string) (store.Registry, error) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	notFound := importInvalid("The source registry '%s' could not be found in the subscription.", id)
	if len(parts) != 8 || !strings.EqualFold(parts[0], "subscriptions") || !strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") || !strings.EqualFold(parts[5], registryProvider) ||
		!strings.EqualFold(parts[6], "registries") {
		return store.Registry{}, importInvalid("The source resource ID '%s' is not the ID of a container registry.", id)
	}
	if !strings.EqualFold(parts[1], a.cfg.Subscription) {
		return store.Registry{}, notFound
	}
	g, err := tx.ResourceGroup(a.cfg.Subscription, parts[3])
	if errors.Is(err, store.ErrNotFound) {
		return store.Registry{}, notFound
	} else if err != nil {
		return store.Registry{}, err
	}
	reg, err := a.lookupRegistry(tx, g, parts[7])
	var ae *armError
	if errors.As(err, &ae) && ae.status == http.StatusNotFound {
		return store.Registry{}, notFound
	}
	return reg, err
}

// importSourceByURI finds the registry whose login server is uri (an
// https:// prefix and a trailing slash are allowed).
func (a *API) importSourceByURI(tx *store.Tx, uri string) (store.Registry, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(uri), "https://"), "http://"), "/")
	regs, err := tx.Registries(a.cfg.Subscription, "")
	if err != nil {
		return store.Registry{}, err
	}
	for _, reg := range regs {
		if strings.EqualFold(a.cfg.Hooks.LoginServer(reg), host) {
			return reg, nil
		}
	}
	return store.Registry{}, importInvalid("The source registry '%s' is not a registry of this emulator; acremu imports only from its own registries.", uri)
}
