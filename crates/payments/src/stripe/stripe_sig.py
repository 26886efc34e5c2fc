"""Stripe's official Python library as a signing and verifying oracle.

Usage: stripe_sig.py sign|verify, with a JSON list on stdin; prints a JSON
list. sign: [{"payload", "secret", "t"}] -> ["t=...,v1=..."], made with
stripe.WebhookSignature exactly as Stripe signs. verify: [{"payload",
"header", "secret", "tolerance"}] -> [true|false], from
stripe.WebhookSignature.verify_header (note: Stripe's library only rejects
timestamps that are too old, not ones in the future).
"""
import json
import sys

import stripe
from stripe import WebhookSignature


def sign(case):
    t = case["t"]
    sig = WebhookSignature._compute_signature(f"{t}.{case['payload']}", case["secret"])
    return f"t={t},{WebhookSignature.EXPECTED_SCHEME}={sig}"


def verify(case):
    try:
        return WebhookSignature.verify_header(case["payload"], case["header"], case["secret"], case["tolerance"])
    except stripe.SignatureVerificationError:
        return False


def main():
    mode = sys.argv[1]
    cases = json.load(sys.stdin)
    fn = {"sign": sign, "verify": verify}[mode]
    json.dump([fn(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
