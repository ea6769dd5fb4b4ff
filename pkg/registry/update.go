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
	if !strings.EqualFold(cfg.Name, r.name) {
		return fmt.Errorf("registry %s: update names registry %q", r.name, cfg.Name)
	}
	policy, err := firewall.NewPolicy(cfg.Rules)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.name, err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("registry %s: closed", r.name)
	}
	r.creds.Store(newCredentials(cfg))
	r.seq++
	seq := r.seq
	if r.delay == 0 {
		r.applyLocked(seq, policy)
		return nil
	}
	// The callback takes r.mu, so it cannot run before the timer is recorded.
	r.pending[seq] = time.AfterFunc(r.delay, func() { r.applyPolicy(seq, policy) })
	return nil
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
