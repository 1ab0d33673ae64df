"""The key loader that the Python reference's tools/bench.py imports (`from vectors_common
import load_keys`), which the reference tree does not ship. run.sh puts this directory on
PYTHONPATH and AAUTH_PYREF_KEYS at the reference's keys.json.

load_keys() -> {role: {"jwk_public": public JWK (with its kid), "private": Ed25519PrivateKey}}
"""
import base64
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def load_keys():
    with open(os.environ["AAUTH_PYREF_KEYS"]) as f:
        keys = json.load(f)["keys"]
    out = {}
    for role, jwk in keys.items():
        d = jwk["d"]
        private = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)))
        public = {k: v for k, v in jwk.items() if k != "d"}
        out[role] = {"jwk_public": public, "private": private}
    return out
