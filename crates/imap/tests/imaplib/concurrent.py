"""IDLE woken by a new message, and two sessions on one mailbox seeing
each other's flag changes and expunges at the allowed moments."""

import re

from common import message, ok, starttls_login, tls_login

a = starttls_login()
b = tls_login()
for i in range(1, 4):
    ok(b.append("INBOX", None, None, message(f"m{i}")))
ok(a.select("INBOX"))
ok(b.select("INBOX"))

# IDLE in A, APPEND from B wakes it with EXISTS.
tag = a._new_tag()
a.send(tag + b" IDLE\r\n")
assert a.readline().startswith(b"+"), "no continuation"
ok(b.append("INBOX", None, None, message("m4")))
line = a.readline()
assert line == b"* 4 EXISTS\r\n", line
# A flag change in B shows up during IDLE too.
ok(b.store("1", "+FLAGS", r"(\Flagged)"))
line = a.readline()
assert re.match(rb"\* 1 FETCH \(.*FLAGS \(\\Flagged\)", line), line
a.send(b"DONE\r\n")
line = a.readline()
assert line.startswith(tag + b" OK"), line

# Expunge in B: A does not see EXPUNGE during FETCH, but does at NOOP.
ok(b.store("2", "+FLAGS", r"(\Deleted)"))
ok(b.expunge())
typ, data = a.fetch("1:4", "(FLAGS)")
assert typ == "OK", data
assert "EXPUNGE" not in a.untagged_responses, a.untagged_responses
a.untagged_responses.clear()
ok(a.noop())
assert a.untagged_responses.get("EXPUNGE") == [b"2"], a.untagged_responses
assert ok(a.search(None, "ALL"))[0] == b"1 2 3"

# A flag change in A is seen by B at its next command.
ok(a.store("3", "+FLAGS", r"(\Seen)"))
b.untagged_responses.clear()
ok(b.noop())
fetches = b.untagged_responses.get("FETCH", [])
assert any(b"\\Seen" in f for f in fetches), b.untagged_responses
a.logout()
b.logout()
print("concurrent ok")
