"""The Verify flow through Twilio's official Python SDK (PyPI `twilio`, pinned in
requirements.txt), pointed at a ringproof server by its one-line switch:

    client.verify.base_url = "http://127.0.0.1:8080"

Run by crates/ringproof-server/tests/api/twilio_sdk.rs with RP_BASE, RP_ACCOUNT_SID,
RP_AUTH_TOKEN, RP_API_KEY_SID, RP_API_KEY_SECRET and RP_TO; reads each code from the
sandbox phone (GET /sandbox/api/messages?to=). Exits non-zero, saying why, on the first
difference from Twilio's behaviour.
"""

import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

BASE = os.environ["RP_BASE"]
TO = os.environ["RP_TO"]


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def sandbox_code(after):
    """The code of the newest message to TO beyond the first `after` messages."""
    url = f"{BASE}/sandbox/api/messages?to={urllib.parse.quote(TO)}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url) as r:
            messages = json.load(r)
        if len(messages) > after:
            text = messages[0]["text"]
            if "Again:" in text:  # a call: the spoken digits
                return "".join(c for c in text.split(" is ")[1].split(".")[0] if c.isdigit())
            return re.search(r"\d{4,10}", text).group(0)
        time.sleep(0.1)
    expect(False, "no message reached the sandbox phone")


def raises(code, status, f):
    try:
        f()
    except TwilioRestException as e:
        expect(e.code == code, f"error code {e.code} ({e.msg}), expected {code}")
        expect(e.status == status, f"status {e.status}, expected {status}")
        return e
    expect(False, f"no TwilioRestException (expected {code})")


def main():
    client = Client(os.environ["RP_ACCOUNT_SID"], os.environ["RP_AUTH_TOKEN"])
    client.verify.base_url = BASE  # the one line that changes

    service = client.verify.v2.services.create(friendly_name="SDK Shop", code_length=6)
    expect(service.sid.startswith("VA") and len(service.sid) == 34, f"service sid {service.sid}")
    expect(service.code_length == 6, "code_length")
    expect(service.account_sid == os.environ["RP_ACCOUNT_SID"], "account_sid")
    fetched = client.verify.v2.services(service.sid).fetch()
    expect(fetched.friendly_name == "SDK Shop", "fetched friendly_name")
    updated = client.verify.v2.services(service.sid).update(do_not_share_warning_enabled=True)
    expect(updated.do_not_share_warning_enabled is True, "update")
    # Listing pages through next_page_url: two services, one a page.
    extra = client.verify.v2.services.create(friendly_name="SDK Extra")
    listed = [s.sid for s in client.verify.v2.services.list(page_size=1)]
    # (The test server's clock stands still: same-time services come in SID order.)
    expect(sorted(listed) == sorted([service.sid, extra.sid]), f"list {listed}")
    client.verify.v2.services(extra.sid).delete()
    raises(20404, 404, lambda: client.verify.v2.services(extra.sid).fetch())

    verify = client.verify.v2.services(service.sid)
    v = verify.verifications.create(to=TO, channel="sms")
    expect(v.status == "pending" and v.valid is False, f"start status {v.status}")
    expect(v.sid.startswith("VE") and v.channel == "sms", "start sid/channel")
    expect(len(v.send_code_attempts) == 1, "send_code_attempts")
    code = sandbox_code(0)
    wrong = "000000" if code != "000000" else "111111"

    check = verify.verification_checks.create(to=TO, code=wrong)
    expect(check.status == "pending" and check.valid is False, f"wrong code: {check.status}")
    check = verify.verification_checks.create(verification_sid=v.sid, code=code)
    expect(check.status == "approved" and check.valid is True, f"right code: {check.status}")
    raises(20404, 404, lambda: verify.verification_checks.create(to=TO, code=code))
    expect(verify.verifications(v.sid).fetch().status == "approved", "fetch approved")

    # Cancel, then the canceled one is gone for checks; fetch still shows it.
    v2 = verify.verifications.create(to=TO, channel="call")
    sandbox_code(1)
    canceled = verify.verifications(v2.sid).update(status="canceled")
    expect(canceled.status == "canceled", f"cancel: {canceled.status}")
    raises(20404, 404, lambda: verify.verification_checks.create(verification_sid=v2.sid, code=code))
    expect(verify.verifications(v2.sid).fetch().status == "canceled", "fetch canceled")

    # Service Rate Limits: a rate limit and a bucket of 2 per minute; starts naming the
    # same value are refused from the third on, with 60203; another value is apart.
    rl = verify.rate_limits.create(unique_name="end_user_ip", description="per IP")
    expect(rl.sid.startswith("RK") and rl.unique_name == "end_user_ip", f"rate limit {rl.sid}")
    expect(rl.service_sid == service.sid and rl.links["buckets"].endswith("/Buckets"), "rate limit fields")
    bucket = verify.rate_limits(rl.sid).buckets.create(max=2, interval=60)
    expect(bucket.sid.startswith("BL") and bucket.max == 2 and bucket.interval == 60, f"bucket {bucket.sid}")
    expect(bucket.rate_limit_sid == rl.sid, "bucket rate_limit_sid")
    expect([r.sid for r in verify.rate_limits.list()] == [rl.sid], "rate limits list")
    expect(verify.rate_limits(rl.sid).buckets(bucket.sid).fetch().max == 2, "bucket fetch")
    raises(60208, 400, lambda: verify.rate_limits.create(unique_name="end_user_ip"))
    other_to = TO[:-1] + "9"
    admitted = 0
    while admitted < 5:
        try:
            verify.verifications.create(to=other_to, channel="sms", rate_limits={"end_user_ip": "198.51.100.7"})
            admitted += 1
        except TwilioRestException as e:
            expect(e.code == 60203 and e.status == 429, f"refusal {e.code} {e.status}: {e.msg}")
            break
    expect(admitted == 2, f"{admitted} starts admitted under a bucket of 2")
    v3 = verify.verifications.create(to=other_to, channel="sms", rate_limits={"end_user_ip": "198.51.100.8"})
    expect(v3.status == "pending", "another value is counted apart")
    raises(60200, 400, lambda: verify.verifications.create(to=other_to, channel="sms", rate_limits={"nope": "x"}))
    verify.rate_limits(rl.sid).buckets(bucket.sid).delete()
    verify.rate_limits(rl.sid).delete()
    raises(20404, 404, lambda: verify.rate_limits(rl.sid).fetch())

    # Errors surface as TwilioRestException with Twilio's codes.
    raises(60200, 400, lambda: verify.verifications.create(to="not-a-number", channel="sms"))
    raises(60223, 400, lambda: verify.verifications.create(to=TO, channel="whatsapp"))
    raises(20404, 404, lambda: verify.verifications("VE" + "0" * 32).fetch())
    bad = Client(os.environ["RP_ACCOUNT_SID"], "0" * 32)
    bad.verify.base_url = BASE
    raises(20003, 401, lambda: bad.verify.v2.services(service.sid).fetch())

    # An API key authenticates as the same account (Client(key, secret, account_sid)).
    keyed = Client(os.environ["RP_API_KEY_SID"], os.environ["RP_API_KEY_SECRET"], os.environ["RP_ACCOUNT_SID"])
    keyed.verify.base_url = BASE
    expect(keyed.verify.v2.services(service.sid).fetch().sid == service.sid, "API key auth")

    print("python twilio SDK: OK")


main()
