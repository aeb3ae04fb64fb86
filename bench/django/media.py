"""Times Django's FileSystemStorage / S3Boto3Storage on the media cases.

Usage: media.py JSON_ARGS
  {"backend": "local"|"s3", "location": DIR, "s3": {...}, "concurrency": 8,
   "cases": [{"id": "save-10k", "op": "save"|"read"|"collide", "count": n, "size": bytes}]}
Prints one JSON line: {"case id": seconds, "case id:cpu": CPU seconds of the
process (all threads), ...}. Saves run on a thread pool of
`concurrency` (the same concurrency the Node peers get); reads read back what
the matching save case wrote.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

args = json.loads(sys.argv[1])

import django
from django.conf import settings

settings.configure(INSTALLED_APPS=[], MEDIA_ROOT=args.get("location") or "/nonexistent", MEDIA_URL="/media/")
django.setup()

from django.core.files.base import ContentFile


def make_storage(overwrite):
    if args["backend"] == "local":
        from django.core.files.storage import FileSystemStorage
        return FileSystemStorage(location=args["location"])
    from storages.backends.s3boto3 import S3Boto3Storage
    s3 = args["s3"]
    return S3Boto3Storage(
        access_key=s3["accessKeyId"],
        secret_key=s3["secretAccessKey"],
        bucket_name=s3["bucket"],
        region_name=s3["region"],
        endpoint_url=s3["endpoint"],
        addressing_style="path",
        location=s3["prefix"],
        default_acl=None,
        file_overwrite=overwrite,
        # Presigning is measured separately; keep reads comparable.
        querystring_auth=True,
    )


def filler(size):
    return (os.urandom(64) * (size // 64 + 1))[:size]


results = {}
saved = {}
concurrency = args.get("concurrency", 8)
with ThreadPoolExecutor(max_workers=concurrency) as ex:
    for case in args["cases"]:
        op = case["op"]
        if op == "save":
            storage = make_storage(overwrite=True)
            data = filler(case["size"])
            names = [f'{case["id"]}-f-{i}.bin' for i in range(case["count"])]
            t0, c0 = time.perf_counter(), time.process_time()
            stored = list(ex.map(lambda n: storage.save(n, ContentFile(data)), names))
            results[case["id"]] = time.perf_counter() - t0
            results[case["id"] + ":cpu"] = time.process_time() - c0
            saved[case["id"]] = stored
        elif op == "read":
            storage = make_storage(overwrite=True)
            names = saved[case["from"]]

            def read(n):
                with storage.open(n, "rb") as f:
                    return len(f.read())

            t0, c0 = time.perf_counter(), time.process_time()
            total = sum(ex.map(read, names))
            results[case["id"]] = time.perf_counter() - t0
            results[case["id"] + ":cpu"] = time.process_time() - c0
            assert total == case["count"] * case["size"], (total, case)
        elif op == "collide":
            storage = make_storage(overwrite=False)
            data = filler(case["size"])
            t0, c0 = time.perf_counter(), time.process_time()
            stored = list(ex.map(lambda i: storage.save(f'{case["id"]}-upload.txt', ContentFile(data)), range(case["count"])))
            results[case["id"]] = time.perf_counter() - t0
            results[case["id"] + ":cpu"] = time.process_time() - c0
            results[case["id"] + ":distinct"] = len(set(stored))
        elif op == "presign":
            storage = make_storage(overwrite=True)
            t0 = time.perf_counter()
            for i in range(case["count"]):
                storage.url(f"private/doc-{i % 100}.pdf")
            results[case["id"]] = time.perf_counter() - t0
        elif op == "presign-boto3":
            import boto3
            s3 = args["s3"]
            client = boto3.client(
                "s3",
                aws_access_key_id=s3["accessKeyId"],
                aws_secret_access_key=s3["secretAccessKey"],
                region_name=s3["region"],
                endpoint_url=s3["endpoint"],
                config=boto3.session.Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
            )
            t0 = time.perf_counter()
            for i in range(case["count"]):
                client.generate_presigned_url(
                    "get_object", Params={"Bucket": s3["bucket"], "Key": f'{s3["prefix"]}/private/doc-{i % 100}.pdf'}, ExpiresIn=3600
                )
            results[case["id"]] = time.perf_counter() - t0

print(json.dumps(results))
