package mgmt_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
)

// collect follows nextLink verbatim, as az does, and returns the names on
// every page and the number of pages.
func collect(t *testing.T, e *env, first string) ([]string, int) {
	t.Helper()
	var names []string
	pages := 0
	firstURL, err := url.Parse(first)
	require.NoError(t, err)
	for link := e.srv.URL + first; link != ""; pages++ {
		require.Less(t, pages, 20, "paging does not end")
		res := e.arm.Request(http.MethodGet, link, nil)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var page struct {
			Value []struct {
				Name string `json:"name"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		require.NoError(t, json.Unmarshal(res.Body, &page))
		for _, v := range page.Value {
			names = append(names, v.Name)
		}
		if page.NextLink != "" {
			require.True(t, strings.HasPrefix(page.NextLink, e.srv.URL+"/"), "absolute nextLink: %s", page.NextLink)
			u, err := url.Parse(page.NextLink)
			require.NoError(t, err)
			require.NotEmpty(t, u.Query().Get("$skiptoken"))
			for k, v := range firstURL.Query() {
				if k == "$skiptoken" {
					continue
				}
				require.Equal(t, v, u.Query()[k], "nextLink keeps %s", k)
			}
		}
		link = page.NextLink
	}
	return names, pages
}

func TestPaging(t *testing.T) {
	e := newEnv(t, func(c *mgmt.Config) { c.PageSize = 3 })
	var want []string
	for _, rg := range []string{"rg1", "rg2"} {
		e.mustGroup(rg)
	}
	for i := range 7 {
		name := fmt.Sprintf("Reg%02d0", i)
		e.mustRegistry([]string{"rg1", "rg2"}[i%2], name, "Basic", nil)
		want = append(want, name)
	}
	filter := url.Values{"$filter": {"resourceType eq 'Microsoft.ContainerRegistry/registries'"}}.Encode()
	tests := []struct {
		name      string
		path      string
		wantNames []string
		wantPages int
	}{
		{"registries by subscription", testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry), want, 3},
		{"registries by group", testarm.WithAPI(testarm.GroupPath("rg1")+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry),
			[]string{"Reg000", "Reg020", "Reg040", "Reg060"}, 2},
		{"generic resources keep the filter", testarm.WithAPI(testarm.SubscriptionPath+"/resources?"+filter, testarm.APIGroups), want, 3},
		{"resource groups", testarm.WithAPI(testarm.SubscriptionPath+"/resourcegroups", testarm.APIGroups), []string{"rg1", "rg2"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			names, pages := collect(t, e, tt.path)
			assert.Equal(t, tt.wantNames, names)
			assert.Equal(t, tt.wantPages, pages)
		})
	}

	t.Run("consistent while items are deleted", func(t *testing.T) {
		e := e.forTest(t)
		first := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry), nil)
		var page struct {
			NextLink string `json:"nextLink"`
		}
		require.NoError(t, json.Unmarshal(first.Body, &page))
		// Delete an item of the first page: the second page must not skip any.
		require.Equal(t, http.StatusOK, e.arm.Request(http.MethodDelete, testarm.WithAPI(testarm.RegistryPath("rg1", "Reg000"), testarm.APIRegistry), nil).Code)
		names, _ := collect(t, e, strings.TrimPrefix(page.NextLink, e.srv.URL))
		assert.Equal(t, []string{"Reg030", "Reg040", "Reg050", "Reg060"}, names)
	})

	t.Run("bad skip token", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/registries?$skiptoken=%25%25", testarm.APIRegistry), nil)
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "InvalidSkipToken", res.ErrCode(t))
	})
}
