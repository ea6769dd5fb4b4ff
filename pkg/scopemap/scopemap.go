// Package scopemap is the grammar of ACR's scope maps, shared by the ARM
// API that stores them and the data plane that enforces them: repository
// actions ("repositories/<pattern>/content/read"), the repository patterns
// ACR accepts, and how token passwords are kept (hashed, never the value).
package scopemap

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// HashPassword returns what is stored for a token password value: its
// SHA-256 in hex.
func HashPassword(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// ActionNames are the repository actions a scope map may hold.
var ActionNames = []string{"content/delete", "content/read", "content/write", "metadata/read", "metadata/write"}

// ParseAction splits a repository action of a scope map into its
// repository pattern and action ("repositories/a/b/content/read" gives
// "a/b", "content/read"). ok is false for anything else, including
// actions on other resources (gateway/…) and unknown action names.
func ParseAction(s string) (pattern, action string, ok bool) {
	rest, found := strings.CutPrefix(s, "repositories/")
	if !found {
		return "", "", false
	}
	for _, a := range ActionNames {
		if p, found := strings.CutSuffix(rest, "/"+a); found && p != "" {
			return p, a, true
		}
	}
	return "", "", false
}

// ValidRepositoryPattern reports whether p is a repository name or a
// wildcard ACR accepts in a scope map: "*", or a repository name followed
// by "/*". A wildcard anywhere else ("team*", "a/*/b", "a/*/*") is not.
func ValidRepositoryPattern(p string) bool {
	if p == "*" {
		return true
	}
	p = strings.TrimSuffix(p, "/*")
	return ValidRepositoryName(p)
}

// repositoryName is the distribution grammar for repository names:
// lower-case path components separated by /, each made of [a-z0-9] runs
// joined by ".", "_", "__" or runs of "-".
var repositoryName = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// ValidRepositoryName reports whether name is a repository name.
func ValidRepositoryName(name string) bool {
	return len(name) <= 255 && repositoryName.MatchString(name)
}
