"""Email messages: an ``email.message.EmailMessage`` with a plain-text part and an HTML alternative.

Both parts come from Jinja2 templates; the HTML one autoescapes every value, so a title or a root
cause line holding ``<script>`` arrives as text. Messages about one alert carry
``References: <{kind}-{id}@costcouncil>`` so mail clients thread its new / updated / resolved
messages together. Header values are folded to one line (no header injection).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

from costcouncil.notify.message import Alert, Digest, Notice
from costcouncil.notify.payloads import headline

__all__ = ["SUBJECT_PREFIX", "email_message", "subject", "thread_id"]

SUBJECT_PREFIX = "[CostCouncil]"

_ALERT_TEXT = """\
{{ headline }}

Scope:    {{ alert.scope }}
Impact:   {{ alert.impact_text }}
Window:   {{ alert.window_text }}
Severity: {{ alert.severity }}
{% if alert.score is not none %}Score:    {{ "%.2f" | format(alert.score) }}
{% endif %}{% if alert.lines %}
{% for line in alert.lines %}- {{ line }}
{% endfor %}{% endif %}
Open in CostCouncil: {{ alert.link }}
"""

_ALERT_HTML = """\
<!doctype html>
<html><body style="font-family: sans-serif">
<h2>{{ headline }}</h2>
<table>
<tr><th align="left">Scope</th><td>{{ alert.scope }}</td></tr>
<tr><th align="left">Impact</th><td>{{ alert.impact_text }}</td></tr>
<tr><th align="left">Window</th><td>{{ alert.window_text }}</td></tr>
<tr><th align="left">Severity</th><td>{{ alert.severity }}</td></tr>
{% if alert.score is not none %}<tr><th align="left">Score</th><td>{{ "%.2f" | format(alert.score) }}</td></tr>
{% endif %}</table>
{% if alert.lines %}<ul>
{% for line in alert.lines %}<li>{{ line }}</li>
{% endfor %}</ul>{% endif %}
<p><a href="{{ alert.link }}">Open in CostCouncil</a></p>
</body></html>
"""

_DIGEST_TEXT = """\
{{ digest.title }}
{% for alert in digest.alerts %}
- {{ alert.title }} — {{ alert.scope }}
  {{ alert.impact_text }} · {{ alert.window_text }} · {{ alert.status }}
  {{ alert.link }}
{% else %}
Nothing to report.
{% endfor %}
Open in CostCouncil: {{ digest.link }}
"""

_DIGEST_HTML = """\
<!doctype html>
<html><body style="font-family: sans-serif">
<h2>{{ digest.title }}</h2>
{% if digest.alerts %}<ul>
{% for alert in digest.alerts %}<li><a href="{{ alert.link }}">{{ alert.title }}</a> — {{ alert.scope }}<br>
{{ alert.impact_text }} · {{ alert.window_text }} · {{ alert.status }}</li>
{% endfor %}</ul>{% else %}<p>Nothing to report.</p>{% endif %}
<p><a href="{{ digest.link }}">Open in CostCouncil</a></p>
</body></html>
"""

_TEMPLATES = Environment(
    loader=DictLoader(
        {
            "alert.txt": _ALERT_TEXT,
            "alert.html": _ALERT_HTML,
            "digest.txt": _DIGEST_TEXT,
            "digest.html": _DIGEST_HTML,
        }
    ),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def subject(notice: Notice) -> str:
    """``[CostCouncil] New anomaly: … — team=research: +1,234.50 USD (+38.2 %)`` on one line."""
    if isinstance(notice, Digest):
        return _one_line(f"{SUBJECT_PREFIX} {notice.title}")
    return _one_line(f"{SUBJECT_PREFIX} {headline(notice)}: {notice.impact_text}")


def email_message(
    notice: Notice, *, sender: str, recipients: Sequence[str], now: datetime
) -> EmailMessage:
    """The message to send, dated ``now``."""
    message = EmailMessage()
    message["Subject"] = subject(notice)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = make_msgid(domain="costcouncil")
    message["Date"] = format_datetime(now.astimezone(UTC))
    if isinstance(notice, Alert):
        message["References"] = thread_id(notice)
    name, values = _context(notice)
    text = _TEMPLATES.get_template(f"{name}.txt").render(values)
    html = _TEMPLATES.get_template(f"{name}.html").render(values)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def thread_id(alert: Alert) -> str:
    """``<anomaly-{id}@costcouncil>``: the same for every message about one alert."""
    return f"<{alert.kind}-{quote(alert.id, safe='')}@costcouncil>"


def _context(notice: Notice) -> tuple[str, dict[str, object]]:
    if isinstance(notice, Digest):
        return "digest", {"digest": notice}
    return "alert", {"alert": notice, "headline": headline(notice)}


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
