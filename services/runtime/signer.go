package runtime

import (
	"errors"
	"fmt"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
)

// CertValidity is how long a workload certificate lives; backends renew it
// well before then, without restarting the instance.
const CertValidity = 24 * time.Hour

// ErrPolicy marks a certificate the workload signing policy refuses.
var ErrPolicy = errors.New("the workload signing policy refuses this identity")

// Signer signs tenants' workload certificates with the workload CA, an
// intermediate below the platform CA (mtls.CA.IssueIntermediate), under a
// policy that lives here, in code: a service's certificate names that
// service, spiffe://m3o/ns/<its namespace>/svc/<its name>, and nothing
// else, and no certificate ever names the platform's own namespace. The
// CA's name constraints and the peers' refusal of micro identities it
// signed back the policy up where code cannot.
type Signer struct {
	ca       *mtls.CA
	validity time.Duration
}

// NewSigner returns a Signer over the workload CA ca, issuing certificates
// valid for validity (0 means CertValidity).
func NewSigner(ca *mtls.CA, validity time.Duration) (*Signer, error) {
	if ca == nil || !ca.IsIntermediate() {
		return nil, errors.New("signer: the workload CA must be an intermediate below the platform CA")
	}
	if validity <= 0 {
		validity = CertValidity
	}
	return &Signer{ca: ca, validity: validity}, nil
}

// Certify issues the certificate of ref's instances.
func (s *Signer) Certify(ref Ref) (Certificate, error) {
	return s.Sign(ref, mtls.Identity{Namespace: ref.Namespace, Service: ref.Name})
}

// Sign issues a certificate naming id for an instance of the service ref,
// when the policy allows it: id must be ref itself, and not in micro.
func (s *Signer) Sign(ref Ref, id mtls.Identity) (Certificate, error) {
	if err := checkPolicy(ref, id); err != nil {
		return Certificate{}, err
	}
	b, err := s.ca.Issue(id, nil, s.validity)
	if err != nil {
		return Certificate{}, fmt.Errorf("sign %s: %w", id, err)
	}
	chain, key, ca := b.PEM()
	return Certificate{CA: ca, Chain: chain, Key: key, NotAfter: b.Cert.Leaf.NotAfter}, nil
}

// checkPolicy is the signing policy.
func checkPolicy(ref Ref, id mtls.Identity) error {
	switch {
	case ref.Namespace == platform.Namespace || id.Namespace == platform.Namespace:
		return fmt.Errorf("sign %s for %s: the platform's namespace %q is never signed for a workload: %w", id, ref, platform.Namespace, ErrPolicy)
	case id.Namespace != ref.Namespace:
		return fmt.Errorf("sign %s for %s: another namespace: %w", id, ref, ErrPolicy)
	case id.Service != ref.Name:
		return fmt.Errorf("sign %s for %s: another service: %w", id, ref, ErrPolicy)
	}
	if err := id.Validate(); err != nil {
		return fmt.Errorf("sign %s: %v: %w", id, err, ErrPolicy)
	}
	return nil
}
