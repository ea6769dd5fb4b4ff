package registry

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestACRPagination drives every combination of n and last through the
// handler, for the catalog and for a tag list. Both list the same three
// names, b, d and f (repositories b, d and f; tags b, d and f of d), so one
// table serves both.
func TestACRPagination(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	img := e.pushImage("d", "b")
	e.pushAs("d", "d", img)
	e.pushAs("d", "f", img)
	e.pushAs("b", "v1", img)
	e.pushAs("f", "v1", img)

	const invalid = `{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}` + "\n"
	tests := []struct {
		name     string
		query    string
		want     []string // the page, when the status is 200
		wantNext string   // query of the Link header; "" for none
		wantErr  bool     // 400 PAGINATION_NUMBER_INVALID
	}{
		{name: "n absent", query: "", want: []string{"b", "d", "f"}},
		{name: "n empty", query: "n=", want: []string{"b", "d", "f"}},
		{name: "n zero", query: "n=0", want: []string{}},
		{name: "n zero with last", query: "n=0&last=b", want: []string{}},
		{name: "n one", query: "n=1", want: []string{"b"}, wantNext: "last=b&n=1"},
		{name: "n two", query: "n=2", want: []string{"b", "d"}, wantNext: "last=d&n=2"},
		{name: "n exactly the count", query: "n=3", want: []string{"b", "d", "f"}},
		{name: "n above the count", query: "n=4", want: []string{"b", "d", "f"}},
		{name: "n above the maximum", query: "n=5000", want: []string{"b", "d", "f"}},
		{name: "n negative", query: "n=-1", wantErr: true},
		{name: "n non-numeric", query: "n=many", wantErr: true},
		{name: "n fractional", query: "n=1.5", wantErr: true},
		{name: "n overflowing", query: "n=99999999999999999999", wantErr: true},
		{name: "n negative with last", query: "n=-5&last=b", wantErr: true},
		{name: "last before the first", query: "last=a", want: []string{"b", "d", "f"}},
		{name: "last at the first", query: "last=b", want: []string{"d", "f"}},
		{name: "last between entries", query: "last=c", want: []string{"d", "f"}},
		{name: "last at the middle", query: "last=d", want: []string{"f"}},
		{name: "last at the end", query: "last=f", want: []string{}},
		{name: "last after the end", query: "last=g", want: []string{}},
		{name: "last before the first, n one", query: "last=a&n=1", want: []string{"b"}, wantNext: "last=b&n=1"},
		{name: "last between entries, n one", query: "last=c&n=1", want: []string{"d"}, wantNext: "last=d&n=1"},
		{name: "last at the first, n exactly the rest", query: "last=b&n=2", want: []string{"d", "f"}},
		{name: "last at the middle, n one", query: "last=d&n=1", want: []string{"f"}},
		{name: "last after the end, n one", query: "last=g&n=1", want: []string{}},
	}
	lists := []struct {
		name  string
		path  string
		names func(t *testing.T, body string) []string
	}{
		{"catalog", "/acr/v1/_catalog", func(t *testing.T, body string) []string {
			var b catalogBody
			require.NoError(t, json.Unmarshal([]byte(body), &b), body)
			require.NotNil(t, b.Repositories, "an empty page is [] rather than null: %s", body)
			return b.Repositories
		}},
		{"tags", "/acr/v1/d/_tags", func(t *testing.T, body string) []string {
			var b tagListBody
			require.NoError(t, json.Unmarshal([]byte(body), &b), body)
			require.NotNil(t, b.Tags, "an empty page is [] rather than null: %s", body)
			return tagNames(b)
		}},
	}
	for _, l := range lists {
		for _, tt := range tests {
			t.Run(l.name+"/"+tt.name, func(t *testing.T) {
				path := l.path
				if tt.query != "" {
					path += "?" + tt.query
				}
				r := e.do(http.MethodGet, path, nil, admin)
				if tt.wantErr {
					assert.Equal(t, http.StatusBadRequest, r.status)
					assert.Equal(t, invalid, r.body)
					assert.Empty(t, r.header.Get("Link"))
					return
				}
				require.Equal(t, http.StatusOK, r.status, r.body)
				assert.Equal(t, tt.want, l.names(t, r.body))
				wantLink := ""
				if tt.wantNext != "" {
					wantLink = "<" + l.path + "?" + tt.wantNext + `>; rel="next"`
				}
				assert.Equal(t, wantLink, r.header.Get("Link"))
			})
		}
	}
}

// pageAfter cuts one page of a list, in key order or in another order.
func TestPageAfter(t *testing.T) {
	key := func(s string) string { return s }
	byKey := []string{"b", "d", "f"}
	byTime := []string{"f", "b", "d"}
	tests := []struct {
		name       string
		items      []string
		last       string
		inKeyOrder bool
		n          int
		want       []string
		wantMore   bool
	}{
		{name: "from the start", items: byKey, n: 2, want: []string{"b", "d"}, wantMore: true},
		{name: "all on one page", items: byKey, n: 3, want: []string{"b", "d", "f"}},
		{name: "empty page", items: byKey, n: 0, want: []string{}},
		{name: "after an item", items: byKey, last: "b", inKeyOrder: true, n: 1, want: []string{"d"}, wantMore: true},
		{name: "after the last item", items: byKey, last: "f", inKeyOrder: true, n: 5, want: []string{}},
		{name: "after a missing key, in key order", items: byKey, last: "c", inKeyOrder: true, n: 5, want: []string{"d", "f"}},
		{name: "after a key past the end, in key order", items: byKey, last: "z", inKeyOrder: true, n: 5, want: []string{}},
		{name: "after an item, in another order", items: byTime, last: "f", n: 5, want: []string{"b", "d"}},
		{name: "after a missing key, in another order", items: byTime, last: "c", n: 5, want: []string{"f", "b", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, more := pageAfter(tt.items, key, tt.last, tt.inKeyOrder, tt.n)
			assert.Equal(t, tt.want, page)
			assert.Equal(t, tt.wantMore, more)
		})
	}
}
