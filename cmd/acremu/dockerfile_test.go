package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDockerfilesAgree guards what the offline build cannot show: the lab
// test runs images from the .offline Dockerfiles, users build the
// multi-stage ones, and both must produce the same final image. It reads
// files only, so it runs with the unit tests.
func TestDockerfilesAgree(t *testing.T) {
	for _, tc := range []struct{ name, user, offline string }{
		{"acremu", "../../Dockerfile", "../../Dockerfile.offline"},
		{"lab client", "../../lab/Dockerfile", "../../lab/Dockerfile.offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, offline := finalStage(t, tc.user), finalStage(t, tc.offline)
			require.NotEmpty(t, user)
			assert.Equal(t, user, offline)
		})
	}
}

// finalStage returns the instructions after the last FROM, with COPY
// sources and --from dropped (they are where the two builds differ).
func finalStage(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var stage []string
	var cont strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cont.Len() == 0) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cont.WriteString(line)
		ins := strings.Join(strings.Fields(cont.String()), " ")
		cont.Reset()
		if strings.HasPrefix(ins, "FROM ") {
			stage = []string{ins}
			continue
		}
		if f := strings.Fields(ins); f[0] == "COPY" {
			var kept []string
			for _, w := range f[1 : len(f)-1] {
				if strings.HasPrefix(w, "--") && !strings.HasPrefix(w, "--from=") {
					kept = append(kept, w)
				}
			}
			ins = strings.Join(append(append([]string{"COPY"}, kept...), f[len(f)-1]), " ")
		}
		stage = append(stage, ins)
	}
	return stage
}
