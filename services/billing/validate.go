package billing

import (
	"net/mail"
	"net/url"
	"strings"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/internal/invalid"
)

// Limits of the request fields.
const (
	maxEmail      = 254
	maxAccount    = 255
	minKey        = 8
	maxKey        = 255
	maxSessionID  = 64
	maxSignature  = 1024
	maxReturnURL  = 2048
	maxPageSize   = 1000
	defaultPageSz = 100
)

// namespaceArg checks a namespace a request names.
func namespaceArg(ns string) error {
	if platform.ValidNamespace(ns) != nil {
		return invalid.Field("namespace", "must be %s", platform.NamespaceRule)
	}
	return nil
}

func checkEmail(c *invalid.Checker, email string) {
	switch {
	case email == "":
		c.Addf("email", "is required")
	case len(email) > maxEmail:
		c.Addf("email", "is %d characters, over the limit of %d", len(email), maxEmail)
	default:
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			c.Addf("email", "is not a plain email address such as ann@example.com")
		}
	}
}

// checkKey checks an idempotency key: printable ASCII, so that it passes
// to the provider unchanged.
func checkKey(c *invalid.Checker, key string) {
	if len(key) < minKey || len(key) > maxKey {
		c.Addf("idempotency_key", "must be %d to %d characters, not %d", minKey, maxKey, len(key))
		return
	}
	for _, r := range key {
		if r < '!' || r > '~' {
			c.Addf("idempotency_key", "must be printable ASCII without spaces")
			return
		}
	}
}

func checkSessionID(c *invalid.Checker, id string) {
	if id == "" || len(id) > maxSessionID || strings.ContainsFunc(id, notIDRune) {
		c.Addf("payment_session_id", "must be 1 to %d letters, digits, '_' or '-'", maxSessionID)
	}
}

func notIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}

// cardNumber returns the digits of a card number, spaces and dashes
// dropped.
func cardNumber(c *invalid.Checker, card string) string {
	digits := strings.NewReplacer(" ", "", "-", "").Replace(card)
	if len(digits) < 12 || len(digits) > 19 || strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		c.Addf("card", "must be a card number of 12 to 19 digits")
	}
	return digits
}

func validateStartCheckout(req *billingv1.StartCheckoutRequest) error {
	var c invalid.Checker
	checkEmail(&c, req.GetEmail())
	checkKey(&c, req.GetIdempotencyKey())
	return c.Err()
}

func validateSessionID(id string) error {
	var c invalid.Checker
	checkSessionID(&c, id)
	return c.Err()
}

func validateSubmitCard(req *billingv1.SubmitCardRequest) (string, error) {
	var c invalid.Checker
	checkSessionID(&c, req.GetPaymentSessionId())
	card := cardNumber(&c, req.GetCard())
	return card, c.Err()
}

func validateCreateSubscription(req *billingv1.CreateSubscriptionRequest) error {
	var c invalid.Checker
	c.Check("namespace", namespaceArg(req.GetNamespace()))
	if a := req.GetAccount(); a == "" || len(a) > maxAccount {
		c.Addf("account", "must be 1 to %d characters", maxAccount)
	}
	checkEmail(&c, req.GetEmail())
	checkSessionID(&c, req.GetPaymentSessionId())
	checkKey(&c, req.GetIdempotencyKey())
	return c.Err()
}

func validateReturnURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if len(raw) > maxReturnURL || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid.Field("return_url", "must be an http or https URL of at most %d characters", maxReturnURL)
	}
	return nil
}

// validateSetStatus checks an AdminSetStatus and returns the status it
// sets: incomplete is the provider's to report, never an admin's.
func validateSetStatus(req *billingv1.AdminSetStatusRequest) (Status, error) {
	var c invalid.Checker
	c.Check("namespace", namespaceArg(req.GetNamespace()))
	st, ok := statusFromProto(req.GetStatus())
	if !ok || st == StatusIncomplete {
		c.Addf("status", "must be active, past_due or canceled")
	}
	return st, c.Err()
}

func pageSize(req *billingv1.ListSubscriptionsRequest) (uint32, error) {
	switch n := req.GetPageSize(); {
	case n == 0:
		return defaultPageSz, nil
	case n > maxPageSize:
		return 0, invalid.Field("page_size", "must be at most %d", maxPageSize)
	default:
		return n, nil
	}
}

func validateWebhook(req *billingv1.HandleWebhookRequest) error {
	var c invalid.Checker
	if n := len(req.GetPayload()); n == 0 || n > MaxWebhookBytes {
		c.Addf("payload", "must be 1 to %d bytes, not %d", MaxWebhookBytes, n)
	}
	if n := len(req.GetSignature()); n == 0 || n > maxSignature {
		c.Addf("signature", "must be 1 to %d characters", maxSignature)
	}
	return c.Err()
}
