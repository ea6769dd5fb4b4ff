package portal

import "net/http"

// maxPages bounds how many nextLinks a list follows, so that a list whose
// links never end cannot hold a page request forever.
const maxPages = 100

// listAll GETs the ARM list at path and follows its nextLinks (at most
// maxPages of them), returning the items of every page in order.
func listAll[T any](c armClient, path, apiVersion string) ([]T, error) {
	var items []T
	var page listJSON[T]
	err := c.do(http.MethodGet, path, apiVersion, nil, &page)
	for followed := 0; err == nil; followed++ {
		items = append(items, page.Value...)
		if page.NextLink == "" || followed == maxPages {
			return items, nil
		}
		next := page.NextLink
		page = listJSON[T]{}
		err = c.follow(next, &page)
	}
	return nil, err
}
