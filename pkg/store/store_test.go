package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acremu.db")
	s, err := Open(path)
	require.NoError(t, err)
	return s, path
}

func TestRegistryRoundTripSurvivesReopen(t *testing.T) {
	s, path := openTemp(t)
	want := Registry{
		Subscription: "sub", ResourceGroup: "RG", Name: "MyRegistry", SKU: "Premium",
		NetworkRuleSet: NetworkRuleSet{DefaultAction: "Deny", IPRules: []IPRule{{Action: "Allow", Value: "52.57.22.38"}}},
		Passwords:      [2]string{"a", "b"},
	}
	require.NoError(t, s.Update(func(tx *Tx) error { return tx.PutRegistry(want) }))
	require.NoError(t, s.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	for _, name := range []string{"MyRegistry", "myregistry", "MYREGISTRY"} {
		t.Run(name, func(t *testing.T) {
			var got Registry
			require.NoError(t, s.View(func(tx *Tx) (err error) { got, err = tx.Registry(name); return }))
			require.Equal(t, want, got)
		})
	}
}

func TestLookupsAndDeletes(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	require.NoError(t, s.Update(func(tx *Tx) error {
		for _, r := range []Registry{
			{Subscription: "s1", ResourceGroup: "rg1", Name: "bravo"},
			{Subscription: "s1", ResourceGroup: "RG1", Name: "Alpha"},
			{Subscription: "s1", ResourceGroup: "rg2", Name: "charlie"},
		} {
			if err := tx.PutRegistry(r); err != nil {
				return err
			}
		}
		if err := tx.PutResourceGroup(ResourceGroup{Subscription: "s1", Name: "RG1"}); err != nil {
			return err
		}
		return tx.PutResourceGroup(ResourceGroup{Subscription: "s2", Name: "other"})
	}))
	tests := []struct {
		name    string
		sub, rg string
		want    []string
	}{
		{"all", "", "", []string{"Alpha", "bravo", "charlie"}},
		{"subscription", "S1", "", []string{"Alpha", "bravo", "charlie"}},
		{"group case-insensitive", "s1", "rg1", []string{"Alpha", "bravo"}},
		{"other group", "s1", "rg2", []string{"charlie"}},
		{"unknown", "s9", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			require.NoError(t, s.View(func(tx *Tx) error {
				regs, err := tx.Registries(tt.sub, tt.rg)
				for _, r := range regs {
					names = append(names, r.Name)
				}
				return err
			}))
			require.Equal(t, tt.want, names)
		})
	}
	require.NoError(t, s.View(func(tx *Tx) error {
		groups, err := tx.ResourceGroups("s1")
		require.Len(t, groups, 1)
		return err
	}))
	require.NoError(t, s.Update(func(tx *Tx) error { return tx.DeleteRegistry("BRAVO") }))
	err := s.Update(func(tx *Tx) error { return tx.DeleteRegistry("bravo") })
	require.ErrorIs(t, err, ErrNotFound)
	err = s.View(func(tx *Tx) error { _, err := tx.ResourceGroup("s1", "nope"); return err })
	require.ErrorIs(t, err, ErrNotFound)
}

func TestFailedUpdateChangesNothing(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if err := tx.PutRegistry(Registry{Name: "ghost"}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	err = s.View(func(tx *Tx) error { _, err := tx.Registry("ghost"); return err })
	require.ErrorIs(t, err, ErrNotFound)
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	require.NoError(t, s.Update(func(tx *Tx) error { return tx.PutRegistry(Registry{Name: "counter"}) }))
	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- s.Update(func(tx *Tx) error {
				r, err := tx.Registry("counter")
				if err != nil {
					return err
				}
				r.NetworkRuleSet.IPRules = append(r.NetworkRuleSet.IPRules, IPRule{Action: "Allow", Value: fmt.Sprintf("52.0.0.%d", i)})
				return tx.PutRegistry(r)
			})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err) // in the test goroutine
	}
	var r Registry
	require.NoError(t, s.View(func(tx *Tx) (err error) { r, err = tx.Registry("counter"); return }))
	require.Len(t, r.NetworkRuleSet.IPRules, writers)
}

func TestSecretOrCreateIsStable(t *testing.T) {
	s, path := openTemp(t)
	calls := 0
	gen := func() ([]byte, error) { calls++; return []byte(fmt.Sprint("v", calls)), nil }
	v1, err := s.SecretOrCreate("key", gen)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	v2, err := s.SecretOrCreate("key", gen)
	require.NoError(t, err)
	require.Equal(t, v1, v2)
	require.Equal(t, 1, calls)
}

func TestOpenRejectsOtherSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acremu.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, []byte("99"))
	}))
	require.NoError(t, db.Close())
	_, err = Open(path)
	require.ErrorContains(t, err, "unsupported schema version 99")
}

func TestEphemeralStoreLeavesNothing(t *testing.T) {
	s, err := OpenEphemeral()
	require.NoError(t, err)
	dir := s.tempDir
	require.DirExists(t, dir)
	require.NoError(t, s.Close())
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err))
}
