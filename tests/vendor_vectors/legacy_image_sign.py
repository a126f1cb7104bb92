"""Vectors for the legacy Tencent image-service signature ("multi-effective" signing), made by
the official SDK's own signer: `qcloud-image` 1.0.0 from PyPI, `qcloud_image.auth.Auth.get_sign`,
with its clock (`time.time`) and random source (`random.randint`) fixed.

    pip install qcloud-image==1.0.0
    python3 tests/vendor_vectors/legacy_image_sign.py > tests/vendor_vectors/legacy_image_sign.json
"""
import json
import random
import time

from qcloud_image.auth import Auth

CASES = [
    # appid, secret id, secret key, bucket, now, howlong, random
    ("1250000000", "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz", "", 1700000000, 300, 123456789),
    ("1250000000", "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz", "photos", 1700000000, 30, 0),
    ("1000000", "AKIDexample", "secret-key-with-symbols!@#", "b-1", 1893456000, 2592000, 999999999),
    ("10000001", "AKID中文", "密钥", "x", 1, 1, 42),
]

out = []
for appid, sid, skey, bucket, now, howlong, rnd in CASES:
    time.time = lambda now=now: float(now)
    random.randint = lambda a, b, rnd=rnd: rnd
    sign = Auth(appid, sid, skey).get_sign(bucket, howlong)
    out.append({
        "appid": appid, "secret_id": sid, "secret_key": skey, "bucket": bucket,
        "now": now, "expires": now + howlong, "random": rnd,
        "authorization": sign.decode() if isinstance(sign, bytes) else sign,
    })
print(json.dumps(out, ensure_ascii=False, indent=2))
