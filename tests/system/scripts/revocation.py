"""Open sessions against a running Ward, then change credentials with the
`ward` command and report how each session ends (issue 25: revocation and
suspension take effect on open connections).

Usage: revocation.py WARD CONFIG SUBMISSION SMTP IMAPS CERT KEY
       ANNA ANNA_PW ERIC ERIC_PW SAFEGUARDER_SENDER
Prints one line per check: `name: outcome`.
"""

import imaplib
import smtplib
import ssl
import subprocess
import sys
import time

(WARD, CONFIG, SUBMISSION, SMTP, IMAPS, CERT, KEY,
 ANNA, ANNA_PW, ERIC, ERIC_PW, SENDER) = sys.argv[1:13]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def ward(*args, stdin=""):
    out = subprocess.run([WARD, *args, "--config", CONFIG], input=stdin,
                         capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def submission(user, password):
    s = smtplib.SMTP("127.0.0.1", int(SUBMISSION), timeout=30)
    s.starttls(context=CTX)
    s.login(user, password)
    return s


def gateway():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(CERT, KEY)
    s = smtplib.SMTP("127.0.0.1", int(SMTP), timeout=30)
    s.starttls(context=ctx)
    s.ehlo("gateway.test")
    return s


def imap(user, password):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(IMAPS), ssl_context=CTX, timeout=30)
    m.login(user, password)
    m.select("INBOX")
    return m


def smtp_outcome(session, sender):
    try:
        code, text = session.mail(sender)
        return f"{code} {text.decode(errors='replace')}"
    except smtplib.SMTPServerDisconnected as e:
        return f"disconnected {e}"
    except smtplib.SMTPResponseException as e:
        return f"{e.smtp_code} {e.smtp_error.decode(errors='replace')}"


def imap_outcome(session):
    try:
        typ, data = session.status("INBOX", "(MESSAGES)")
        return f"{typ} {data}"
    except (imaplib.IMAP4.abort, OSError) as e:
        return f"abort {e}"


def report(name, outcome):
    print(f"{name}: {outcome}", flush=True)


# Controls: sessions whose credentials did not change carry on.
eric_smtp = submission(ERIC, ERIC_PW)
anna_smtp = submission(ANNA, ANNA_PW)
anna_imap = imap(ANNA, ANNA_PW)
eric_imap = imap(ERIC, ERIC_PW)
gw = gateway()

# A suspended account: its open submission and IMAP sessions end.
report("suspend", ward("user", "suspend", ANNA).strip())
time.sleep(1)
report("anna smtp", smtp_outcome(anna_smtp, ANNA))
report("anna imap", imap_outcome(anna_imap))
report("eric smtp still", smtp_outcome(eric_smtp, ERIC))
eric_smtp.rset()

# A password change ends the user's other sessions.
NEW = "violet tractor umbrella"
report("passwd", ward("passwd", ERIC, stdin=f"{ERIC_PW}\n{NEW}\n").strip())
time.sleep(1)
report("eric imap", imap_outcome(eric_imap))
report("eric smtp", smtp_outcome(eric_smtp, ERIC))
fresh = imap(ERIC, NEW)
report("eric new imap", imap_outcome(fresh))

# The organisation suspended: its gateway's open session ends.
report("gateway before", smtp_outcome(gw, SENDER))
gw.rset()
report("org suspend", ward("org", "suspend", "safeguarder").strip())
time.sleep(1)
report("gateway suspended", smtp_outcome(gw, SENDER))
ward("org", "resume", "safeguarder")

# The certificate revoked: the next open session ends too.
gw = gateway()
report("gateway again", smtp_outcome(gw, SENDER))
gw.rset()
report("revoke", ward("org", "cert", "revoke", "safeguarder").strip())
time.sleep(1)
report("gateway revoked", smtp_outcome(gw, SENDER))
