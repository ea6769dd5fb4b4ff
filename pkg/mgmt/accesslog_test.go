package mgmt_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAccessLog(t *testing.T) {
	var buf lockedBuffer
	e := newEnv(t, func(c *mgmt.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	res := e.arm.Do(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/resourceGroups/nothere", testarm.APIGroups), nil,
		http.Header{"Authorization": {"Bearer " + e.token}, "X-Ms-Correlation-Request-Id": {"corr-1"}, "User-Agent": {"tool/1.0"}})
	assert.Equal(t, http.StatusNotFound, res.Code)
	logs := buf.String()
	assert.Contains(t, logs, `msg="arm request" method=GET path=/subscriptions/`+testarm.Subscription+`/resourceGroups/nothere status=404`)
	assert.Contains(t, logs, "correlationId=corr-1")
	assert.Contains(t, logs, `userAgent=tool/1.0`)
	assert.NotContains(t, logs, testarm.ClientSecret, "token requests' bodies are never logged")
}
