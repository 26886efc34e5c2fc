"""Checks an S3 presigned GET URL against botocore's own SigV4 signer.

moto serves presigned URLs without checking their signatures, so this
recomputes the signature the way AWS does (botocore, AWS's library) for the
same time, credentials and expiry, and compares.

usage: verify_sigv4.py URL ACCESS_KEY SECRET_KEY REGION  -> exit 0 if it matches
"""
import datetime
import sys
import urllib.parse

import botocore.auth
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url, key, secret, region = sys.argv[1:5]
parts = urllib.parse.urlsplit(url)
query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
params = dict(query)
given = params["X-Amz-Signature"]
stamp = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
botocore.auth.get_current_datetime = lambda: stamp
assert params["X-Amz-Credential"].startswith(f"{key}/"), params["X-Amz-Credential"]
assert params["X-Amz-Credential"].endswith(f"/{region}/s3/aws4_request"), params["X-Amz-Credential"]

# Everything but the auth parameters is part of what was signed.
rest = [(k, v) for k, v in query if not k.startswith("X-Amz-")]
base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(rest), ""))
request = AWSRequest(method="GET", url=base)
S3SigV4QueryAuth(Credentials(key, secret), "s3", region, expires=int(params["X-Amz-Expires"])).add_auth(request)
expected = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))["X-Amz-Signature"]
if expected != given:
    print(f"signature mismatch: ours {given}, botocore {expected}", file=sys.stderr)
    sys.exit(1)
print("signature matches botocore")
