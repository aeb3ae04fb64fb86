"""Times Django's collectstatic for the Stowage benchmark.

Usage: collectstatic.py JSON_ARGS
  {"source": DIR, "dest": DIR, "storage": "plain"|"manifest"|"s3-manifest",
   "runs": ["fresh", "noop"], "s3": {...}}
Prints one JSON line: {"times": {"fresh": s, "noop": s}, "hashed": n, "usage": {...}}
("usage": this whole process's CPU seconds, user + system, and its peak RSS in
MB, from getrusage(RUSAGE_SELF), interpreter start-up included).
Timing starts after django.setup() so both sides are measured on the work
itself, not on interpreter or module start-up.
"""
import json
import resource
import sys
import time

args = json.loads(sys.argv[1])

import django
from django.conf import settings

STORAGES = {
    "plain": "django.contrib.staticfiles.storage.StaticFilesStorage",
    "manifest": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    "s3-manifest": "storages.backends.s3boto3.S3ManifestStaticStorage",
}

conf = dict(
    DEBUG=False,
    INSTALLED_APPS=["django.contrib.staticfiles"],
    STATIC_URL="/static/",
    STATIC_ROOT=args.get("dest") or "/nonexistent",
    STATICFILES_DIRS=[args["source"]],
    STATICFILES_STORAGE=STORAGES[args["storage"]],
)
s3 = args.get("s3")
if s3:
    conf.update(
        AWS_ACCESS_KEY_ID=s3["accessKeyId"],
        AWS_SECRET_ACCESS_KEY=s3["secretAccessKey"],
        AWS_STORAGE_BUCKET_NAME=s3["bucket"],
        AWS_S3_REGION_NAME=s3["region"],
        AWS_S3_ENDPOINT_URL=s3["endpoint"],
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_LOCATION=s3["prefix"],
        AWS_DEFAULT_ACL=None,
        AWS_QUERYSTRING_AUTH=False,
    )
settings.configure(**conf)
django.setup()

from django.core.management import call_command
from django.contrib.staticfiles.storage import staticfiles_storage

times = {}
for run in args.get("runs", ["fresh"]):
    t0 = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    times[run] = time.perf_counter() - t0

files = len(getattr(staticfiles_storage, "hashed_files", {}) or {})
ru = resource.getrusage(resource.RUSAGE_SELF)
# Linux reports ru_maxrss in KiB.
usage = {"cpuSeconds": ru.ru_utime + ru.ru_stime, "maxRssMB": ru.ru_maxrss / 1024}
print(json.dumps({"times": times, "hashed": files, "usage": usage}))
