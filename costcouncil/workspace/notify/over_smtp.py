"""One attempt to send an email through SMTP, as an :class:`~costcouncil.notify.retry.Attempt`.

Plain SMTP, STARTTLS (``starttls``) or implicit TLS (``tls``, usually port 465); AUTH when a username
is set. SMTP 4xx replies and lost connections are transient, 5xx replies (bad credentials, an
unknown mailbox), TLS failures and a server without STARTTLS are terminal. Nothing here redacts:
the caller redacts the error with the channel's redactor.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from costcouncil.notify.channels import EmailChannel
from costcouncil.notify.retry import Attempt, Verdict, classify_smtp

__all__ = ["send_mail"]


def send_mail(
    channel: EmailChannel, message: EmailMessage, *, timeout: float, context: ssl.SSLContext
) -> Attempt:
    """Send ``message`` to the channel's recipients; the verdict from the server's replies."""
    try:
        with _connect(channel, timeout, context) as smtp:
            refused = smtp.send_message(message, channel.sender, list(channel.recipients))
    except smtplib.SMTPRecipientsRefused as e:
        return _refused(e.recipients)
    except smtplib.SMTPResponseException as e:
        reply = (
            e.smtp_error.decode(errors="replace")
            if isinstance(e.smtp_error, bytes)
            else str(e.smtp_error)
        )
        return Attempt(
            classify_smtp(e.smtp_code), f"SMTP {e.smtp_code}: {reply}", smtp_code=e.smtp_code
        )
    except (ssl.SSLError, smtplib.SMTPNotSupportedError, ssl.CertificateError) as e:
        return Attempt("terminal", f"{type(e).__name__}: {e}")
    except (smtplib.SMTPException, OSError) as e:
        return Attempt("transient", f"{type(e).__name__}: {e}")
    error = _refused_text(refused) if refused else ""
    return Attempt("ok", error, smtp_code=250)


def _connect(channel: EmailChannel, timeout: float, context: ssl.SSLContext) -> smtplib.SMTP:
    if channel.tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            channel.host, channel.port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
    try:
        smtp.ehlo()
        if channel.starttls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if channel.username and channel.password:
            smtp.login(channel.username, channel.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _refused(recipients: dict[str, tuple[int, bytes]]) -> Attempt:
    """Every recipient refused: transient when any refusal was a 4xx, else terminal."""
    codes = [code for code, _ in recipients.values()]
    verdict: Verdict = "transient" if any(400 <= c < 500 for c in codes) else "terminal"
    return Attempt(verdict, _refused_text(recipients), smtp_code=codes[0] if codes else None)


def _refused_text(recipients: dict[str, tuple[int, bytes]]) -> str:
    parts = [
        f"{addr} ({code} {reply.decode(errors='replace')})"
        for addr, (code, reply) in recipients.items()
    ]
    return "refused: " + ", ".join(parts)
