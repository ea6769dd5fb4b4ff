package scopemap

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseAction(t *testing.T) {
	tests := []struct {
		in              string
		pattern, action string
		ok              bool
	}{
		{"repositories/hello/content/read", "hello", "content/read", true},
		{"repositories/team/app/content/write", "team/app", "content/write", true},
		{"repositories/team/*/metadata/read", "team/*", "metadata/read", true},
		{"repositories/*/content/delete", "*", "content/delete", true},
		{"repositories/hello/metadata/write", "hello", "metadata/write", true},
		{"repositories//content/read", "", "", false},
		{"repositories/hello/content/execute", "", "", false},
		{"gateway/gw/config/read", "", "", false},
		{"hello/content/read", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			pattern, action, ok := ParseAction(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.pattern, pattern)
			assert.Equal(t, tt.action, action)
		})
	}
}

func TestValidRepositoryPattern(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"*", true},
		{"hello", true},
		{"team/app", true},
		{"team/*", true},
		{"a.b_c__d-e/f", true},
		{"Hello", false},
		{"team*", false},
		{"a/*/b", false},
		{"a/*/*", false},
		{"/a", false},
		{"a/", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, ValidRepositoryPattern(tt.in))
		})
	}
}

func TestHashPasswordIsNotTheValue(t *testing.T) {
	h := HashPassword("secret")
	assert.Len(t, h, 64)
	assert.NotContains(t, h, "secret")
	assert.Equal(t, h, HashPassword("secret"))
	assert.NotEqual(t, h, HashPassword("secret2"))
}
