package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"
)

// Email sends a plain-text message over SMTP (RFC 5321) with net/smtp: EHLO, STARTTLS when the
// server offers it, MAIL FROM, one RCPT TO per recipient, DATA, QUIT. The message (RFC 5322) has
// From, To, Subject (RFC 2047-encoded when not ASCII), Date, Message-ID, MIME-Version 1.0 and
// Content-Type text/plain; charset=utf-8, its body quoted-printable so no 8BITMIME is needed.
// With a Username it authenticates with AUTH PLAIN (RFC 4954), which net/smtp sends only over TLS
// or to localhost, so a password never crosses a network in the clear.
type Email struct {
	SMTP string   // host:port; may hold ${VAR}, as may From and To, read through Getenv at send time
	From string   // an address, "Name <addr>" allowed
	To   []string // addresses
	// Username and Password log in; Password should be a ${VAR}.
	Username, Password string
	Getenv             func(string) string
	// TLSConfig is used for STARTTLS; nil verifies the certificate against the SMTP host name.
	TLSConfig *tls.Config
}

var _ Notifier = (*Email)(nil)

func (m *Email) Notify(ctx context.Context, e Event) error {
	addr, err := expand(m.SMTP, m.Getenv)
	if err != nil {
		return fmt.Errorf("email smtp: %w", err)
	}
	rawFrom, err := expand(m.From, m.Getenv)
	if err != nil {
		return fmt.Errorf("email from: %w", err)
	}
	from, err := mail.ParseAddress(rawFrom)
	if err != nil {
		return fmt.Errorf("email from %q: %w", rawFrom, err)
	}
	if len(m.To) == 0 {
		return errors.New("email: no recipients")
	}
	var to []*mail.Address
	for _, t := range m.To {
		raw, err := expand(t, m.Getenv)
		if err != nil {
			return fmt.Errorf("email to: %w", err)
		}
		a, err := mail.ParseAddress(raw)
		if err != nil {
			return fmt.Errorf("email to %q: %w", raw, err)
		}
		to = append(to, a)
	}
	msg, err := emailMessage(e, from, to, time.Now())
	if err != nil {
		return err
	}
	if err := m.send(ctx, addr, from, to, msg); err != nil {
		return fmt.Errorf("email via %s: %w", addr, err)
	}
	return nil
}

// send is smtp.SendMail with a context: the dial honours it, and the connection is closed when it
// ends so a stalled server cannot hold the channel past its timeout.
func (m *Email) send(ctx context.Context, addr string, from *mail.Address, to []*mail.Address, msg []byte) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return withCtx(ctx, err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return withCtx(ctx, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := m.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return withCtx(ctx, err)
		}
	}
	if m.Username != "" {
		user, err := expand(m.Username, m.Getenv)
		if err != nil {
			return fmt.Errorf("username: %w", err)
		}
		pass, err := expand(m.Password, m.Getenv)
		if err != nil {
			return fmt.Errorf("password: %w", err)
		}
		if err := c.Auth(smtp.PlainAuth("", user, pass, host)); err != nil {
			return withCtx(ctx, fmt.Errorf("auth: %w", err))
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return withCtx(ctx, err)
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return withCtx(ctx, fmt.Errorf("rcpt %s: %w", a.Address, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return withCtx(ctx, err)
	}
	if _, err := w.Write(msg); err != nil {
		return withCtx(ctx, err)
	}
	if err := w.Close(); err != nil {
		return withCtx(ctx, err)
	}
	return withCtx(ctx, c.Quit())
}

// withCtx names the context's end as the cause when it closed the connection under net/smtp.
func withCtx(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// helloName is this host's name for EHLO; "localhost" (net/smtp's default) when it has none usable.
func helloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \r\n") {
		return "localhost"
	}
	return h
}

func emailMessage(e Event, from *mail.Address, to []*mail.Address, now time.Time) ([]byte, error) {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	domain := "hugai.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	date := e.Time
	if date.IsZero() {
		date = now
	}
	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", strings.Join(tos, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", "[hugai] "+truncate(summary(e), 200)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<hugai."+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies to a robot
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(emailBody(e))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func emailBody(e Event) string {
	var b strings.Builder
	b.WriteString(summary(e) + "\r\n\r\n")
	if d := detail(e); d != "" {
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(d, "\r\n", "\n"), "\n", "\r\n") + "\r\n\r\n")
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-17s %s\r\n", k+":", oneLine(v))
		}
	}
	line("Service", e.Service)
	line("Environment", e.Environment)
	line("Version", e.Version)
	line("Previous version", e.PreviousVersion)
	line("Phase", e.Phase)
	line("Reason", e.Reason)
	line("Severity", severityOf(e).String())
	line("Rollout", e.RolloutID)
	if !e.Time.IsZero() {
		line("Time", e.Time.UTC().Format(time.RFC3339))
	}
	line("Link", e.URL)
	return b.String()
}
