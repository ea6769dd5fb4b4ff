package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The development identity and the default registry of acremu's embedded
// defaults (README).
const (
	subscription    = "11111111-1111-1111-1111-111111111111"
	clientID        = "33333333-3333-3333-3333-333333333333"
	clientSecret    = "acremu-dev-secret"
	resourceGroup   = "acremu"
	defaultRegistry = "myregistry"
	natAddress      = "203.0.113.10" // loopback clients as acremu's firewall sees them
	armAPIVersion   = "2023-07-01"
)

// armClient sends ARM requests to acremu's front end.
type armClient struct {
	base   string
	token  string
	client http.Client
}

func (a *armClient) bearer() (string, error) {
	if a.token != "" {
		return a.token, nil
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
		"scope": {"https://management.azure.com/.default"},
	}
	resp, err := a.client.PostForm(a.base+"/adfs/oauth2/token", form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("ARM token: status %d, %v", resp.StatusCode, err)
	}
	a.token = tok.AccessToken
	return a.token, nil
}

func registryPath(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerRegistry/registries/%s", subscription, resourceGroup, name)
}

// call sends an ARM request and returns status and body.
func (a *armClient) call(method, path string, body any) (int, []byte, error) {
	tok, err := a.bearer()
	if err != nil {
		return 0, nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path+"?api-version="+armAPIVersion, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// rules is the networkRuleSet PATCH body: default action Deny, with an IP
// rule for the NAT address when allow is set.
func rules(allow bool) map[string]any {
	ipRules := []any{}
	if allow {
		ipRules = append(ipRules, map[string]string{"action": "Allow", "value": natAddress})
	}
	return map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": ipRules}}}
}

func (a *armClient) setRules(name string, allow bool) error {
	status, body, err := a.call(http.MethodPatch, registryPath(name), rules(allow))
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("PATCH %s: %d %s", name, status, body)
	}
	return err
}

func (a *armClient) password(name string) (string, error) {
	status, body, err := a.call(http.MethodPost, registryPath(name)+"/listCredentials", nil)
	if err != nil {
		return "", err
	}
	var creds struct {
		Passwords []struct{ Value string } `json:"passwords"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &creds) != nil || len(creds.Passwords) == 0 {
		return "", fmt.Errorf("listCredentials %s: %d %s", name, status, body)
	}
	return creds.Passwords[0].Value, nil
}

func (a *armClient) createRegistry(name string) error {
	status, body, err := a.call(http.MethodPut, registryPath(name), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Premium"}})
	if err == nil && status != http.StatusOK && status != http.StatusCreated {
		err = fmt.Errorf("PUT %s: %d %s", name, status, body)
	}
	return err
}

// ruleChanges measures n times how long after ARM's 200 for a PATCH that
// removes the client's IP rule the registry answers 403, on a keep-alive
// connection opened before the change. It returns the latencies and how
// many times the very next request was already denied.
func (a *acremuServer) ruleChanges(n int) ([]time.Duration, int, error) {
	c, err := net.Dial("tcp", strings.TrimPrefix(a.base, "http://"))
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	probe := a.v2Request()
	send := func() (int, error) {
		if _, err := c.Write(probe.b); err != nil {
			return 0, err
		}
		return readResponse(br, false)
	}
	var lat []time.Duration
	next := 0
	for range n {
		if status, err := send(); err != nil || status != http.StatusOK {
			return nil, 0, fmt.Errorf("before the change: status %d, %v", status, err)
		}
		if err := a.arm.setRules(defaultRegistry, false); err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		for i := 0; ; i++ {
			status, err := send()
			if err != nil {
				return nil, 0, err
			}
			if status == http.StatusForbidden {
				lat = append(lat, time.Since(t0))
				if i == 0 {
					next++
				}
				break
			}
			if time.Since(t0) > 10*time.Second {
				return nil, 0, fmt.Errorf("no 403 within 10s of the rule change (status %d)", status)
			}
		}
		if err := a.arm.setRules(defaultRegistry, true); err != nil {
			return nil, 0, err
		}
	}
	return lat, next, nil
}
