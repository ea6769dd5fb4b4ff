package main

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseCommandFlags(t *testing.T) {
	serveSet := func() *flag.FlagSet { fs, _ := serveFlags(); return fs }
	healthcheckSet := func() *flag.FlagSet { fs, _ := healthcheckFlags(); return fs }
	azLoginSet := func() *flag.FlagSet { fs, _ := azLoginFlags(); return fs }
	tests := []struct {
		name       string
		flags      func() *flag.FlagSet
		refuseArgs bool
		args       []string
		env        map[string]string
		wantStatus int
		wantOK     bool
		wantOutput string            // exact, unless wantPrefix
		wantPrefix bool              // wantOutput is only the output's start
		wantValues map[string]string // flag name → value after parsing
	}{
		{name: "serve help", flags: serveSet, refuseArgs: refuseArguments, args: []string{"--help"},
			wantOutput: serveUsage, wantPrefix: true},
		{name: "healthcheck help", flags: healthcheckSet, args: []string{"-h"},
			wantOutput: healthcheckUsage + "\nFlags (each also read from its environment variable):\n  --listen address\n", wantPrefix: true},
		{name: "az-login help", flags: azLoginSet, args: []string{"--help"}, wantOutput: azLoginUsage, wantPrefix: true},
		{name: "unknown flag", flags: serveSet, refuseArgs: refuseArguments, args: []string{"--bogus"}, wantStatus: 2,
			wantOutput: "flag provided but not defined: -bogus\n" + serveUsage, wantPrefix: true},
		{name: "flag without its value", flags: healthcheckSet, args: []string{"--timeout"}, wantStatus: 2,
			wantOutput: "flag needs an argument: -timeout\n" + healthcheckUsage, wantPrefix: true},
		{name: "serve refuses an argument", flags: serveSet, refuseArgs: refuseArguments, args: []string{"extra"}, wantStatus: 2,
			wantOutput: "acremu serve: unexpected argument \"extra\"\n"},
		{name: "serve refuses an argument before reading the environment", flags: serveSet, refuseArgs: refuseArguments,
			args: []string{"extra"}, env: map[string]string{"ACREMU_RULE_DELAY": "soon"}, wantStatus: 2,
			wantOutput: "acremu serve: unexpected argument \"extra\"\n"},
		{name: "healthcheck ignores arguments", flags: healthcheckSet, args: []string{"extra"}, wantOK: true},
		{name: "az-login ignores arguments", flags: azLoginSet, args: []string{"extra"}, wantOK: true},
		{name: "bad duration in the environment", flags: serveSet, refuseArgs: refuseArguments,
			env: map[string]string{"ACREMU_RULE_DELAY": "soon"}, wantStatus: 2,
			wantOutput: "acremu serve: ACREMU_RULE_DELAY=\"soon\": parse error\n"},
		{name: "bad boolean in the environment", flags: serveSet, refuseArgs: refuseArguments,
			env: map[string]string{"ACREMU_IN_MEMORY": "maybe"}, wantStatus: 2,
			wantOutput: "acremu serve: ACREMU_IN_MEMORY=\"maybe\": parse error\n"},
		{name: "healthcheck's bad timeout in the environment", flags: healthcheckSet,
			env: map[string]string{"ACREMU_TIMEOUT": "soon"}, wantStatus: 2,
			wantOutput: "acremu healthcheck: ACREMU_TIMEOUT=\"soon\": parse error\n"},
		{name: "serve's environment twins", flags: serveSet, refuseArgs: refuseArguments,
			env: map[string]string{"ACREMU_LISTEN": ":1, :2", "ACREMU_IN_MEMORY": "true"}, wantOK: true,
			wantValues: map[string]string{"listen": ":1,:2", "in-memory": "true", "data-dir": ".acremu"}},
		{name: "healthcheck's environment twins", flags: healthcheckSet,
			env: map[string]string{"ACREMU_LISTEN": "0.0.0.0:6000", "ACREMU_TIMEOUT": "1s"}, wantOK: true,
			wantValues: map[string]string{"listen": "0.0.0.0:6000", "timeout": "1s"}},
		{name: "az-login's environment twins", flags: azLoginSet,
			env: map[string]string{"ACREMU_CLOUD": "lab", "ACREMU_SERVER": "https://acremu:5000"}, wantOK: true,
			wantValues: map[string]string{"cloud": "lab", "server": "https://acremu:5000", "acr-suffix": ".azurecr.io"}},
		{name: "a flag beats its environment twin", flags: azLoginSet, args: []string{"--cloud", "flag"},
			env: map[string]string{"ACREMU_CLOUD": "env"}, wantOK: true, wantValues: map[string]string{"cloud": "flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := tt.flags()
			var out bytes.Buffer
			fs.SetOutput(&out)
			status, ok := parseCommandFlags(fs, tt.args, tt.refuseArgs)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantOK, ok)
			if tt.wantPrefix {
				assert.Truef(t, bytes.HasPrefix(out.Bytes(), []byte(tt.wantOutput)), "output:\n%s", out.String())
			} else {
				assert.Equal(t, tt.wantOutput, out.String())
			}
			for name, want := range tt.wantValues {
				assert.Equal(t, want, fs.Lookup(name).Value.String(), name)
			}
		})
	}
}
