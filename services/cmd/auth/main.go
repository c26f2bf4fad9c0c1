// Command auth serves m3o.auth.v1 on its own, as it runs in production;
// `micro server` runs the same service in one process with the others.
//
// Sign-up mails its codes through --smtp-address with STARTTLS, as the
// user MICRO_SMTP_USERNAME with the password MICRO_SMTP_PASSWORD, both read
// from the environment only; --smtp-ca-file (or MICRO_SMTP_CA_FILE) trusts
// a private CA for the server's certificate. Without --smtp-address, each
// message is written to <data-dir>/outbox instead. Sign-up calls billing
// at --billing-address, and is off without it. An invitation's mail names
// --public-address, where users reach the proxy.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/auth"
	"m3o.dev/services/auth/authserver"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/mail"
)

// kekEnv holds the key-encryption key itself, for deployments that inject
// secrets as environment variables. A flag's value would show in a process
// listing.
const kekEnv = "MICRO_AUTH_KEY_ENCRYPTION_KEY"

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the auth's own.
func newApp() *cli.App {
	return corekit.App(authserver.Spec, flags(), run)
}

// flags are the auth service's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Auth)
	return []cli.Flag{
		f.String("data-dir", "/var/lib/m3o/auth", "`DIR` where a generated admin password is kept"),
		f.String("key-encryption-key-file", "", "`FILE` of the base64 AES-256 key that seals the token signing keys in the store (or the key itself in "+kekEnv+")"),
		f.String("smtp-address", "", "SMTP server `HOST:PORT` sign-up codes are mailed through, with STARTTLS, as "+mail.UsernameEnv+" with "+mail.PasswordEnv+"; empty writes them to <data-dir>/outbox"),
		f.String("smtp-from", mail.DefaultFrom, "sender `ADDRESS` of sign-up mail"),
		f.String("public-address", "", "`HOST:PORT` users reach the proxy's gRPC at, which invitation mail names; empty asks the invitee to get it from the admin"),
		&cli.StringFlag{
			Name: "smtp-ca-file", Usage: "PEM `FILE` of a CA to trust for the SMTP server's certificate, besides the system's",
			EnvVars: []string{corekit.EnvVar(platform.Auth, "smtp-ca-file"), smtpCAEnv},
		},
	}
}

// smtpCAEnv names the SMTP CA file for `micro server` and auth alike.
const smtpCAEnv = "MICRO_SMTP_CA_FILE"

// run serves until ctx ends. The admin password is read from the
// environment only, so that it never shows in a process listing.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	kek, err := loadKEK(c.String("key-encryption-key-file"), os.Getenv(kekEnv))
	if err != nil {
		return err
	}
	return authserver.Run(ctx, authserver.Config{
		DataDir:          c.String("data-dir"),
		AdminPassword:    os.Getenv("MICRO_ADMIN_PASSWORD"),
		KeyEncryptionKey: kek,
		Mail:             mailConfig(c),
		PublicAddress:    c.String("public-address"),
	}, p)
}

// mailConfig is sign-up's mail as the flags and the environment give it.
func mailConfig(c *cli.Context) mail.Config {
	return mail.Config{
		SMTP: mail.SMTPConfig{
			Address: c.String("smtp-address"), From: c.String("smtp-from"),
			Username: os.Getenv(mail.UsernameEnv), Password: os.Getenv(mail.PasswordEnv),
		},
		CAFile: c.String("smtp-ca-file"),
	}
}

// loadKEK reads the key-encryption key from exactly one of its file and the
// environment. Without one auth does not start: it would have to keep the
// signing keys in the clear.
func loadKEK(file, env string) (*auth.KeyEncryptionKey, error) {
	switch {
	case file != "" && env != "":
		return nil, fmt.Errorf("%w: give the key-encryption key as --key-encryption-key-file or in %s, not both", corekit.ErrConfig, kekEnv)
	case file != "":
		return auth.LoadKeyEncryptionKey(file)
	case env != "":
		k, err := auth.ParseKeyEncryptionKey([]byte(env))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kekEnv, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: no key-encryption key, which seals the token signing keys in the store: "+
		"pass --key-encryption-key-file or set %s (generate one with 'openssl rand -base64 32')", corekit.ErrConfig, kekEnv)
}
