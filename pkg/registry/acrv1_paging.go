package registry

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

const (
	acrPageDefault = 100               // page size when n is absent
	acrPageMax     = catalogMaxEntries // larger n are cut to this
)

var errPaginationInvalid = &regError{Status: http.StatusBadRequest, Code: codePaginationNumberInvalid, Message: "invalid number of results requested"}

// pageSize reads n: absent gives acrPageDefault, more than acrPageMax
// gives acrPageMax, 0 an empty page; a negative or non-numeric n is
// PAGINATION_NUMBER_INVALID.
func pageSize(q url.Values) (int, error) {
	s := q.Get("n")
	if s == "" {
		return acrPageDefault, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errPaginationInvalid
	}
	return min(n, acrPageMax), nil
}

// setNextLink sets the Link header of a page that has a successor, in the
// format of distribution's /v2/_catalog, which az follows.
func setNextLink(w http.ResponseWriter, path string, q url.Values) {
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode()))
}

// pageAfter returns the page of items after the one whose key is last, at
// most n of them, and whether more follow. A last that is no item's key
// continues after its place when the items are in key order, or from the
// start otherwise, where it has no place. n=0 asks for an empty page,
// which has no successor: a next link would repeat the same request
// forever.
func pageAfter[T any](items []T, key func(T) string, last string, inKeyOrder bool, n int) (page []T, more bool) {
	if last != "" {
		if i := slices.IndexFunc(items, func(it T) bool { return key(it) == last }); i >= 0 {
			items = items[i+1:]
		} else if inKeyOrder {
			i, _ := slices.BinarySearchFunc(items, last, func(it T, s string) int { return cmp.Compare(key(it), s) })
			items = items[i:]
		}
	}
	more = n > 0 && len(items) > n
	return items[:min(n, len(items))], more
}
