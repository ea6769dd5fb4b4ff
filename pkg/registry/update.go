package registry

import (
	"fmt"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/firewall"
)

// Update applies a new configuration. Credentials and the anonymous-pull
// flag take effect at once; the firewall policy after Options.RuleDelay, and
// a later Update is never overtaken by an earlier one. An invalid cfg
// changes nothing.
func (r *Registry) Update(cfg Config) error {
	apply, err := r.PrepareUpdate(cfg)
	if err != nil {
		return err
	}
	apply()
	return nil
}

// PrepareUpdate validates cfg and compiles its policy, and returns the step
// that makes it current, which cannot fail (a closed registry ignores it).
func (r *Registry) PrepareUpdate(cfg Config) (apply func(), err error) {
	if cfg.ID != r.id || !strings.EqualFold(cfg.Name, r.name) || !strings.EqualFold(cfg.LoginServer, r.loginServer) {
		return nil, fmt.Errorf("registry %s: update names registry %q (%s at %s)", r.name, cfg.Name, cfg.ID, cfg.LoginServer)
	}
	policy, err := firewall.NewPolicy(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", r.name, err)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("registry %s: closed", r.name)
	}
	creds := newCredentials(cfg, r.credKey)
	return func() { r.apply(creds, policy) }, nil
}

func (r *Registry) apply(creds *credentials, policy *firewall.Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.creds.Store(creds)
	r.seq++
	seq := r.seq
	if r.delay == 0 {
		r.applyLocked(seq, policy)
		return
	}
	// The callback takes r.mu, so it cannot run before the timer is recorded.
	r.pending[seq] = time.AfterFunc(r.delay, func() { r.applyPolicy(seq, policy) })
}

// applyPolicy makes policy current unless a later one already is.
func (r *Registry) applyPolicy(seq uint64, policy *firewall.Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, seq)
	if !r.closed {
		r.applyLocked(seq, policy)
	}
}

func (r *Registry) applyLocked(seq uint64, policy *firewall.Policy) {
	if seq <= r.applied {
		return
	}
	r.applied = seq
	r.policy.Store(policy)
}

// Rules returns the firewall rules currently in effect (a pending delayed
// change is not yet visible here).
func (r *Registry) Rules() firewall.Rules { return r.policy.Load().Rules() }
