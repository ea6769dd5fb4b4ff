package mgmt

import (
	"encoding/base64"
	"net/http"
	"sort"
)

// list is ARM's collection envelope.
type list[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// paginate returns the page of items that the request's $skiptoken
// selects. Items are ordered by key (a lower-cased name); the skip token is
// the last key of the previous page, so paging stays consistent while
// items come and go. nextLink is absolute, built from the request's scheme
// and host, and keeps the other query parameters ($filter, api-version),
// because clients follow it verbatim.
func paginate[T any](a *API, r *http.Request, items []T, key func(T) string) (list[T], error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return list[T]{}, badRequest("InvalidSkipToken", "The $skiptoken '%s' is invalid.", tok)
		}
		after := string(raw)
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	end := min(start+a.cfg.PageSize, len(items))
	page := list[T]{Value: append([]T{}, items[start:end]...)}
	if end < len(items) {
		q := r.URL.Query()
		q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1]))))
		page.NextLink = baseURL(r) + state(r).path + "?" + q.Encode()
	}
	return page, nil
}
