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

// tagsAfter drops the tags up to and including last. A last that is not a
// tag continues after its place in name order, or from the start in time
// order, where it has no place.
func tagsAfter(tags []tagInfo, last string, byName bool) []tagInfo {
	if last == "" {
		return tags
	}
	if i := slices.IndexFunc(tags, func(t tagInfo) bool { return t.name == last }); i >= 0 {
		return tags[i+1:]
	}
	if byName {
		i, _ := slices.BinarySearchFunc(tags, last, func(t tagInfo, s string) int { return cmp.Compare(t.name, s) })
		return tags[i:]
	}
	return tags
}
