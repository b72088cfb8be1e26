"""A real SMTP server with AUTH for the smtp probe's tests (aiosmtpd).

usage: server.py PORT CERT KEY USER PASSWORD [EXCLUDED_MECHANISMS]
STARTTLS with CERT/KEY; AUTH PLAIN and LOGIN (less any excluded, comma
separated), only after STARTTLS; one account. Runs until killed.
"""
import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password = sys.argv[1:6]
excluded = ["CRAM-MD5"] + (sys.argv[6].split(",") if len(sys.argv) > 6 else [])


class Authenticator:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd then answers 535 itself.
        return AuthResult(success=ok, handled=False)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
controller = Controller(
    Handler(), hostname="127.0.0.1", port=int(port),
    tls_context=ctx, require_starttls=False, authenticator=Authenticator(),
    auth_require_tls=True, auth_exclude_mechanism=excluded,
    ident="watchpost-test-auth")
controller.start()
print("listening", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
