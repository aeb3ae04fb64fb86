"""Loads a manifest written by Stowage with Django's ManifestStaticFilesStorage.

Usage: python3 django_check.py STATIC_ROOT EXPECTED_URLS_JSON [DJANGO_ROOT]

EXPECTED_URLS_JSON maps source names to the URL Stowage's static() returns.
With DJANGO_ROOT (a directory Django's own collectstatic filled from the same
sources), also checks that both computed the same hashed names for files
without references. Exits non-zero, with a message, on any difference.
"""
import base64
import hashlib
import json
import sys

import django
from django.conf import settings

root, expected_file = sys.argv[1], sys.argv[2]
BACKEND = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
# Django 4.2 replaced STATICFILES_STORAGE with STORAGES (and refuses both at once).
storage_setting = {"STORAGES": {"staticfiles": {"BACKEND": BACKEND}}} if django.VERSION >= (4, 2) else {"STATICFILES_STORAGE": BACKEND}
settings.configure(
    DEBUG=False,
    STATIC_URL="/static/",
    STATIC_ROOT=root,
    INSTALLED_APPS=["django.contrib.staticfiles"],
    **storage_setting,
)
django.setup()

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, staticfiles_storage  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402

with open(expected_file) as f:
    expected = json.load(f)

failures = []
storage = staticfiles_storage
stored = json.loads(storage.read_manifest())
if "hash" in stored:
    if getattr(storage, "manifest_hash", stored["hash"]) != stored["hash"]:
        failures.append("manifest hash not loaded")
    recomputed = storage.file_hash(None, ContentFile(json.dumps(sorted(storage.hashed_files.items())).encode()))
    if recomputed != stored["hash"]:
        failures.append(f"manifest hash {stored['hash']} != Django's {recomputed}")
if stored["paths"] != storage.hashed_files or not storage.hashed_files:
    failures.append("Django loaded different paths")
for name, url in expected.items():
    got = storage.url(name)
    if got != url:
        failures.append(f"url({name!r}): Django {got!r}, Stowage {url!r}")
    # Directories ({% static 'path/' %}) are not hashed and name no file.
    if name.split("?")[0].endswith("/"):
        continue
    if not storage.exists(storage.stored_name(name)):
        failures.append(f"{storage.stored_name(name)} missing")

# Stowage's extra key: Subresource Integrity of every hashed file, which Django leaves alone.
integrity = stored.get("integrity")
if not isinstance(integrity, dict) or set(integrity) != set(stored["paths"]):
    failures.append("integrity missing or not one per path")
else:
    for name, value in integrity.items():
        with storage.open(storage.stored_name(name)) as f:
            digest = "sha384-" + base64.b64encode(hashlib.sha384(f.read()).digest()).decode()
        if digest != value:
            failures.append(f"integrity of {name}: recorded {value}, file has {digest}")

if len(sys.argv) > 3:
    theirs = ManifestStaticFilesStorage(location=sys.argv[3], base_url="/static/")
    plain = [n for n in stored["paths"] if not n.endswith((".css", ".js"))]
    for name in plain:
        if theirs.hashed_files.get(name) != storage.hashed_files.get(name):
            failures.append(f"hashed name of {name}: Django {theirs.hashed_files.get(name)!r}, Stowage {storage.hashed_files.get(name)!r}")

if failures:
    print("Django could not use the Stowage manifest:\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"OK: Django {django.get_version()} read the Stowage manifest ({len(expected)} names, urls, hashes and integrity agree)")
