package local

import (
	"fmt"
	"time"

	"m3o.dev/pkg/service"
)

// certRetry is how long a failed renewal waits before trying again.
const certRetry = time.Minute

// ensureCerts writes the instances' certificates the first time the unit
// needs them and keeps renewing them until the unit stops: a certificate
// is renewed when a third of its life is left, in place, so instances
// pick it up without a restart.
func (u *unit) ensureCerts() error {
	u.mu.Lock()
	on := u.certsOn
	u.mu.Unlock()
	if on {
		return nil
	}
	notAfter, err := u.writeCerts()
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.certsOn = true
	u.mu.Unlock()
	u.b.wg.Add(1)
	go func() {
		defer u.b.wg.Done()
		u.renewCerts(notAfter)
	}()
	return nil
}

// writeCerts signs a certificate for the service and writes it to the TLS
// directory: the key first and the chain after it, each by an atomic
// rename (see runtime's package documentation).
func (u *unit) writeCerts() (time.Time, error) {
	cert, err := u.b.opts.Certs.Certify(u.ref)
	if err != nil {
		return time.Time{}, fmt.Errorf("certificate of %s: %w", u.ref, err)
	}
	dir := "tls/" + u.ref.Name
	if _, err := u.ns.Mkdir(dir); err != nil {
		return time.Time{}, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{service.CAFile, cert.CA}, {service.KeyFile, cert.Key}, {service.CertFile, cert.Chain}} {
		if err := u.ns.ReplaceFile(dir+"/"+f.name, f.data); err != nil {
			return time.Time{}, err
		}
	}
	return cert.NotAfter, nil
}

// renewCerts renews the certificates until the unit stops.
func (u *unit) renewCerts(notAfter time.Time) {
	at := renewalTime(notAfter)
	for {
		timer := time.NewTimer(time.Until(at))
		select {
		case <-u.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		next, err := u.writeCerts()
		if err != nil {
			u.b.log.Error("renew certificates", "namespace", u.ref.Namespace, "service", u.ref.Name, "error", err)
			at = time.Now().Add(certRetry)
			continue
		}
		at = renewalTime(next)
	}
}

// renewalTime is when a certificate expiring at notAfter is renewed: when
// a third of the life it has now is left.
func renewalTime(notAfter time.Time) time.Time {
	return time.Now().Add(time.Until(notAfter) * 2 / 3)
}
