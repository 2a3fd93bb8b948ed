"""Sending mail over SMTP (the standard library's smtplib), with STARTTLS by default."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.config import Settings


class MailError(Exception):
    """The mail server refused or could not be reached; the message says which."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool
    ca_file: str | None
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """None when no SMTP host is set: then nothing is ever sent."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            timeout=settings.fetch_timeout_seconds,
        )


def message(config: SmtpConfig, mail: Mail) -> EmailMessage:
    built = EmailMessage()
    built["From"] = config.sender
    built["To"] = mail.to
    built["Subject"] = mail.subject
    built["Date"] = formatdate(usegmt=True)
    built["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    built.set_content(mail.body)
    return built


def send_mails(config: SmtpConfig, mails: list[Mail]) -> list[MailError | None]:
    """Send each mail over one connection; one result per mail (None = accepted)."""
    if not mails:
        return []
    try:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        error = MailError(f"cannot reach the mail server {config.host}:{config.port}: {exc}")
        return [error for _ in mails]
    results: list[MailError | None] = []
    try:
        smtp.ehlo()
        if config.starttls:
            context = ssl.create_default_context(cafile=config.ca_file)
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password or "")
        for mail in mails:
            try:
                smtp.send_message(message(config, mail))
                results.append(None)
            except smtplib.SMTPException as exc:
                results.append(MailError(f"the mail server refused the mail to {mail.to}: {exc}"))
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        # Never the password: smtplib's messages carry the server's answer only.
        error = MailError(f"mail to {config.host}:{config.port} failed: {exc}")
        results.extend(error for _ in mails[len(results) :])
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return results
