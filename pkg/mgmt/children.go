package mgmt

import (
	"errors"
	"net/http"

	"github.com/acremu/acremu/pkg/store"
)

// childKind is one kind of child resource: a registry's scope maps,
// tokens, replications and private endpoint connections, a resource
// group's virtual networks and private endpoints, a virtual network's
// subnets. Their handlers share one shape, kept here: the route's parent
// is read first (its 404 comes before the child's), then the child, in one
// transaction; a PUT or PATCH answers 201 when it created the child and
// 200 otherwise; a DELETE answers 200 when it deleted something and 204
// when there was nothing. The kind supplies what differs: its parent, how
// its children are read and rendered, and how a change is committed.
//
// P is the parent's record, J the child's JSON rendering.
type childKind[P, J any] struct {
	// param is the route parameter that names the child.
	param string
	// parent reads the route's parent, or returns its 404.
	parent func(a *API, tx *store.Tx, r *http.Request) (P, error)
	// one renders p's child called name, or returns its 404.
	one func(a *API, tx *store.Tx, r *http.Request, p P, name string) (J, error)
	// all renders every child of p.
	all func(a *API, tx *store.Tx, r *http.Request, p P) ([]J, error)
	// pageKey orders a list into pages (paginate); nil lists every child
	// on one page in the order all returns them.
	pageKey func(J) string
	// commit runs change in one write transaction. change returns the
	// parent and whether it changed it, for kinds whose children live in
	// the parent's record. nil for a kind whose writes are committed by
	// hand.
	commit func(a *API, change func(tx *store.Tx) (P, bool, error)) error
}

// get answers a GET of the route's child.
func (k childKind[P, J]) get(a *API, w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, k.param)
	var out J
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		p, err := k.parent(a, tx, r)
		if err != nil {
			return err
		}
		out, err = k.one(a, tx, r, p, name)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// list answers a GET of the route's collection in ARM's {"value":[…]}
// envelope, paged when the kind has a pageKey.
func (k childKind[P, J]) list(a *API, w http.ResponseWriter, r *http.Request) error {
	var items []J
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		p, err := k.parent(a, tx, r)
		if err != nil {
			return err
		}
		items, err = k.all(a, tx, r, p)
		return err
	})
	if err != nil {
		return err
	}
	if items == nil {
		items = []J{}
	}
	page := list[J]{Value: items}
	if k.pageKey != nil {
		if page, err = paginate(a, r, items, k.pageKey); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// write commits a PUT or PATCH of the route's child: change applies the
// request to the parent read in the same transaction and returns the
// child's rendering and whether it created the child. It answers 201 or
// 200 with that rendering, and reports whether the child was created.
func (k childKind[P, J]) write(a *API, w http.ResponseWriter, r *http.Request, change func(tx *store.Tx, p *P) (out J, created bool, err error)) (bool, error) {
	var out J
	var created bool
	err := k.commit(a, func(tx *store.Tx) (P, bool, error) {
		p, err := k.parent(a, tx, r)
		if err != nil {
			return p, false, err
		}
		out, created, err = change(tx, &p)
		return p, err == nil, err
	})
	if err != nil {
		return false, err
	}
	answerWrite(w, created, out)
	return created, nil
}

// remove commits a DELETE of the route's child: del deletes it from the
// parent read in the same transaction and reports whether there was
// anything to delete. It answers 200 or 204, and reports which.
func (k childKind[P, J]) remove(a *API, w http.ResponseWriter, r *http.Request, del func(tx *store.Tx, p *P) (deleted bool, err error)) (bool, error) {
	var deleted bool
	err := k.commit(a, func(tx *store.Tx) (P, bool, error) {
		p, err := k.parent(a, tx, r)
		if err != nil {
			return p, false, err
		}
		deleted, err = del(tx, &p)
		return p, deleted, err
	})
	if err != nil {
		return false, err
	}
	answerDelete(w, deleted)
	return deleted, nil
}

// deletedFromStore turns the result of a store delete into remove's:
// ErrNotFound means there was nothing to delete.
func deletedFromStore(err error) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// answerWrite answers a PUT or PATCH: 201 Created when it created the
// resource, 200 otherwise.
func answerWrite[J any](w http.ResponseWriter, created bool, out J) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// answerDelete answers a DELETE as ARM does: 200 when it deleted the
// resource, 204 when there was none.
func answerDelete(w http.ResponseWriter, deleted bool) {
	status := http.StatusNoContent
	if deleted {
		status = http.StatusOK
	}
	writeEmpty(w, status)
}

// commitPlain is the commit of kinds the data plane does not see.
func commitPlain[P any](a *API, change func(tx *store.Tx) (P, bool, error)) error {
	return a.commit(func(tx *store.Tx) error {
		_, _, err := change(tx)
		return err
	}, nil)
}

// commitRegistryRecord is the commit of kinds stored in the registry's
// own record: the registry is stored, and its data plane prepared, when
// change changed it.
func commitRegistryRecord(a *API, change func(tx *store.Tx) (store.Registry, bool, error)) error {
	_, _, err := a.commitRegistry(change)
	return err
}

// commitRegistryAuth is the commit of the registry's tokens and scope
// maps: the data plane is prepared with the registry's tokens as the
// change leaves them.
func commitRegistryAuth(a *API, change func(tx *store.Tx) (store.Registry, bool, error)) error {
	return a.commitAuthIn(func(tx *store.Tx) (store.Registry, error) {
		reg, _, err := change(tx)
		return reg, err
	})
}
