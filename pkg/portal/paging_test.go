package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagedList serves a list of pages items long: page i holds the item i and,
// unless it is the last, a nextLink to page i+1 on another host (the
// portal must use only its path and query). failAt > 0 answers that page
// with an ARM error.
type pagedList struct {
	pages, failAt int
	requests      []string
}

func (l *pagedList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.requests = append(l.requests, r.URL.RequestURI())
	i, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if i == l.failAt && i > 0 {
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
		return
	}
	page := listJSON[int]{Value: []int{i}}
	if i+1 < l.pages {
		page.NextLink = fmt.Sprintf("https://elsewhere.example/list?page=%d&api-version=2023-07-01", i+1)
	}
	json.NewEncoder(w).Encode(page)
}

func TestListAllFollowsNextLinks(t *testing.T) {
	upTo := func(n int) []int {
		items := make([]int, n)
		for i := range items {
			items[i] = i
		}
		return items
	}
	tests := []struct {
		name         string
		pages        int
		failAt       int
		wantItems    []int
		wantRequests int
		wantErr      string
	}{
		{name: "one page", pages: 1, wantItems: []int{0}, wantRequests: 1},
		{name: "pages in order", pages: 3, wantItems: []int{0, 1, 2}, wantRequests: 3},
		{name: "every link followed up to the bound", pages: maxPages + 1, wantItems: upTo(maxPages + 1), wantRequests: maxPages + 1},
		{name: "links beyond the bound are not followed", pages: maxPages + 5, wantItems: upTo(maxPages + 1), wantRequests: maxPages + 1},
		{name: "a failing later page fails the list", pages: 3, failAt: 2, wantRequests: 3,
			wantErr: "ARM 429 TooManyRequests: slow down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := &pagedList{pages: tt.pages, failAt: tt.failAt}
			items, err := listAll[int](armClient{h: list, token: "t"}, "/list", registryAPI)
			require.Len(t, list.requests, tt.wantRequests)
			assert.Equal(t, "/list?api-version="+registryAPI, list.requests[0])
			if len(list.requests) > 1 {
				assert.Equal(t, "/list?page=1&api-version=2023-07-01", list.requests[1], "the nextLink's path and query")
			}
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.Nil(t, items)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantItems, items)
		})
	}
}
