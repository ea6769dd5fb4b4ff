package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/tlsca"
)

// stateFile is the bbolt file in the data directory.
const stateFile = "acremu.db"

// ErrStateLost is returned by New when the state file is missing or empty
// while the data directory holds what an earlier run left (registry
// storage, the CA): starting with fresh state would silently reopen every
// firewall, with new passwords, over the old images.
var ErrStateLost = errors.New("state lost")

// openState opens the state file, refusing to create a fresh one next to
// the remains of an earlier run.
func (s *Server) openState() (*store.Store, error) {
	path := filepath.Join(s.cfg.DataDir, stateFile)
	fi, err := os.Stat(path)
	missing := errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if missing {
		if left := s.leftovers(); len(left) > 0 {
			state := "is missing"
			if err == nil {
				state = "is empty"
			}
			return nil, fmt.Errorf("%w: %s %s, but %s holds %s from an earlier run; refusing to start with fresh, open state. "+
				"Restore %s from a backup, or start over deliberately by removing the directory: rm -rf %s",
				ErrStateLost, path, state, s.cfg.DataDir, strings.Join(left, " and "), stateFile, shellQuote(s.cfg.DataDir))
		}
	}
	return store.Open(path)
}

// leftovers names what an earlier run left in the data directory.
func (s *Server) leftovers() []string {
	var out []string
	if entries, err := os.ReadDir(s.registriesDir()); err == nil && len(entries) > 0 {
		out = append(out, "registry storage")
	}
	if _, err := os.Stat(filepath.Join(s.cfg.DataDir, tlsca.CertFile)); err == nil {
		out = append(out, "a CA")
	}
	return out
}

// adoptStorage returns the stored registries, after giving an ID to any
// record from before IDs existed and moving its storage from the directory
// named after it to the one named by the ID (in that order, so a crash in
// between is finished by the next start). Then it removes what belongs to
// no registry: scope maps and tokens, and storage a registry deleted by a
// run that died before removing its images left behind.
func (s *Server) adoptStorage() ([]store.Registry, error) {
	var recs []store.Registry
	err := s.store.Update(func(tx *store.Tx) error {
		var err error
		if recs, err = tx.Registries("", ""); err != nil {
			return err
		}
		live := make(map[string]bool, len(recs))
		for i := range recs {
			if recs[i].ID == "" {
				recs[i].ID = store.NewRegistryID()
				if err := tx.PutRegistry(recs[i]); err != nil {
					return err
				}
			}
			live[recs[i].ID] = true
		}
		// Scope maps and tokens of registries that are gone.
		_, err = tx.PurgeRegistryAuth(live)
		return err
	})
	if err != nil || s.cfg.InMemory {
		return recs, err
	}
	live := make(map[string]bool, len(recs))
	for _, r := range recs {
		live[r.ID] = true
		dir := s.storageDir(r)
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		legacy := filepath.Join(s.registriesDir(), strings.ToLower(r.Name))
		if err := os.Rename(legacy, dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("registry %s: move its storage to %s: %w", r.Name, dir, err)
		}
	}
	entries, err := os.ReadDir(s.registriesDir())
	if errors.Is(err, fs.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if live[e.Name()] {
			continue
		}
		dir := filepath.Join(s.registriesDir(), e.Name())
		s.cfg.Logger.Warn("removing storage that belongs to no registry", "dir", dir)
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove storage that belongs to no registry: %w", err)
		}
	}
	return recs, nil
}

// shellQuote quotes p for a POSIX shell when it needs it.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
