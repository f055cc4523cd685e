# A real SMTP server for the email notifier's tests (python3-aiosmtpd): STARTTLS
# required, AUTH required after it, one JSON line per received message in OUT.
#   python3 smtp_server.py PORT CERT KEY USER PASSWORD OUT
import json
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:7]


class Recorder:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
                "data": envelope.original_content.decode("utf-8", "replace"),
            }) + "\n")
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    # handled=False: a failed login gets the standard 535 instead of hanging the client.
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Recorder(), hostname="127.0.0.1", port=int(port), tls_context=context,
                        require_starttls=True, authenticator=authenticate, auth_required=True,
                        auth_require_tls=True)
controller.start()
print(f"smtp listening on {port}", flush=True)
while True:
    time.sleep(3600)
