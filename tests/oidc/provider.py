"""A local OpenID Connect provider stand-in for the tests.

tests/src/oidc.rs starts this as a child process so the tests can check the
service's token validation against a real issuer without reaching the
internet. It publishes discovery and a JWKS, mints tokens on request (well
formed ones and the classic attacks: alg "none", HS256 keyed with the public
key, unpublished keys, jku/jwk headers), rotates keys, can pretend to be down,
and counts how often discovery and the JWKS were fetched so the tests can
check caching.

    python provider.py --port 0 [--issuer-host 127.0.0.1]

prints one line `listening http://127.0.0.1:PORT` once serving, is silent
otherwise, and exits when its stdin closes, so a test process that dies never
leaves it running. Every endpoint speaks JSON:

    GET  /.well-known/openid-configuration   GET /jwks
    POST /mint {claims, family, alg, kid, headers, unpublished, generation}
    POST /rotate {family, drop_old}          POST /config {down, cache_max_age}
    GET  /hits                               POST /hits/reset
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms

# family -> (key generator, default alg, PyJWT class that exports the public JWK)
FAMILIES = {
    "rsa": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", RSAAlgorithm),
    "ec": (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256", ECAlgorithm),
    "ed": (ed25519.Ed25519PrivateKey.generate, "EdDSA", OKPAlgorithm),
}
ALGORITHMS = get_default_algorithms()
ABSENT = object()  # tells "kid not given" from "kid": null (omit the kid)


class BadRequest(Exception):
    pass


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact_json(value):
    return json.dumps(value, separators=(",", ":")).encode()


def merged(defaults, overrides):
    """defaults with overrides laid over them; an override of null removes the field."""
    out = dict(defaults)
    for name, value in (overrides or {}).items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


class Provider:
    def __init__(self, issuer):
        self.issuer = issuer
        self.lock = threading.Lock()
        # family -> list of generations, oldest first: {"kid", "key", "published"}
        self.keys = {family: [] for family in FAMILIES}
        for family in FAMILIES:
            self._add_generation(family)
        self.down = False
        self.cache_max_age = 600
        self.hits = {"discovery": 0, "jwks": 0}

    def _family(self, body):
        family = body.get("family", "rsa")
        if family not in FAMILIES:
            raise BadRequest(f"unknown family {family!r}")
        return family

    def _add_generation(self, family):
        kid = f"{family}-{len(self.keys[family]) + 1}"
        self.keys[family].append({"kid": kid, "key": FAMILIES[family][0](), "published": True})
        return kid

    def discovery(self):
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer + "/jwks",
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        }

    def jwks(self):
        published = []
        for family, generations in self.keys.items():
            _, alg, exporter = FAMILIES[family]
            for gen in generations:
                if gen["published"]:
                    jwk = exporter.to_jwk(gen["key"].public_key(), as_dict=True)
                    jwk.pop("key_ops", None)
                    published.append({**jwk, "kid": gen["kid"], "use": "sig", "alg": alg})
        return {"keys": published}

    def mint(self, body):
        family = self._family(body)
        generations = self.keys[family]
        if body.get("unpublished"):
            key, default_kid = FAMILIES[family][0](), f"{family}-unpublished"
        elif body.get("generation") is not None:
            wanted = f"{family}-{body['generation']}"
            found = [gen for gen in generations if gen["kid"] == wanted]
            if not found:
                raise BadRequest(f"no key {wanted}")
            key, default_kid = found[0]["key"], wanted
        else:
            key, default_kid = generations[-1]["key"], generations[-1]["kid"]
        alg = body.get("alg") or FAMILIES[family][1]
        kid = body.get("kid", ABSENT)
        header = {"alg": alg, "typ": "JWT"}
        if kid is ABSENT:
            header["kid"] = default_kid
        elif kid is not None:
            header["kid"] = kid
        header = merged(header, body.get("headers"))
        now = int(time.time())
        claims = merged(
            {"iss": self.issuer, "sub": "user-1", "aud": "chat-test", "iat": now, "exp": now + 600},
            body.get("claims"),
        )
        signing_input = (b64url(compact_json(header)) + "." + b64url(compact_json(claims))).encode()
        if alg == "none":
            signature = b""
        elif alg == "HS256":
            # Alg confusion: a verifier that trusts the header's alg would check
            # this HMAC with the public key's PEM, which any attacker can read.
            # Built by hand because PyJWT refuses a PEM key as an HMAC secret.
            secret = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
        elif alg in ALGORITHMS:
            try:
                signature = ALGORITHMS[alg].sign(signing_input, key)
            except Exception as err:
                raise BadRequest(f"cannot sign {alg} with a {family} key: {err}")
        else:
            raise BadRequest(f"unknown alg {alg!r}")
        return {"token": signing_input.decode() + "." + b64url(signature)}

    def rotate(self, body):
        family = self._family(body)
        if body.get("drop_old"):
            for gen in self.keys[family]:
                gen["published"] = False
        return {"kid": self._add_generation(family)}

    def configure(self, body):
        if "down" in body:
            self.down = bool(body["down"])
        if "cache_max_age" in body:
            self.cache_max_age = body["cache_max_age"]
        return {}


class Handler(BaseHTTPRequestHandler):
    provider = None  # set in main

    def log_message(self, format, *args):
        pass  # the tests read stdout for the one "listening" line only

    def send_json(self, status, value, headers=()):
        data = compact_json(value)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, text in headers:
            self.send_header(name, text)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        p = self.provider
        with p.lock:
            if self.path == "/.well-known/openid-configuration":
                p.hits["discovery"] += 1
                reply = (503, {"error": "down"}) if p.down else (200, p.discovery())
            elif self.path == "/jwks":
                p.hits["jwks"] += 1
                if p.down:
                    reply = (503, {"error": "down"})
                else:
                    cache = [] if p.cache_max_age is None else [("Cache-Control", f"max-age={p.cache_max_age}")]
                    reply = (200, p.jwks(), cache)
            elif self.path == "/hits":
                reply = (200, dict(p.hits))
            else:
                reply = (404, {"error": "not found"})
        self.send_json(*reply)

    def do_POST(self):
        p = self.provider
        routes = {"/mint": p.mint, "/rotate": p.rotate, "/config": p.configure}
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            with p.lock:
                if self.path in routes:
                    reply = (200, routes[self.path](body))
                elif self.path == "/hits/reset":
                    p.hits = {"discovery": 0, "jwks": 0}
                    reply = (200, {})
                else:
                    reply = (404, {"error": "not found"})
        except (BadRequest, ValueError, TypeError, AttributeError) as err:
            reply = (400, {"error": str(err)})
        self.send_json(*reply)


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--issuer-host", default="127.0.0.1", help="host written in the issuer URL")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    Handler.provider = Provider(f"http://{args.issuer_host}:{port}")
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"listening http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
