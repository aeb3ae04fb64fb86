"""Images worker, Django + Pillow: the same 12-megapixel JPEG stored as a
Django app with Pillow does it (sorl-thumbnail / easy-thumbnails style):
ImageOps.exif_transpose, the original saved without EXIF, three resizes,
each written through Django's FileSystemStorage. Timed inside the process
(Python start-up and django.setup() not counted); prints one JSON line with
seconds, CPU seconds and peak RSS.

Usage: python3 images.py JSON_ARGS  (same arguments as workers/images.mjs)
"""
import io
import json
import resource
import sys
import time

import django
from django.conf import settings

args = json.loads(sys.argv[1])
settings.configure(MEDIA_ROOT=args["dir"], DEFAULT_FILE_STORAGE="django.core.files.storage.FileSystemStorage")
django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

EXT = {"jpeg": "jpg", "webp": "webp", "png": "png"}
FORMAT = {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}


def encode(img, fmt, quality):
    out = io.BytesIO()
    img.save(out, FORMAT[fmt], quality=quality)  # no exif= argument: Pillow writes no EXIF
    return out.getvalue()


def resized(img, v):
    w, h, fit = v.get("width"), v.get("height"), v.get("fit", "inside")
    if w and h and fit == "cover":
        return ImageOps.fit(img, (min(w, img.width), min(h, img.height)), Image.LANCZOS)
    copy = img.copy()
    copy.thumbnail((w or img.width, h or img.height), Image.LANCZOS)  # never enlarges
    return copy


t0 = time.perf_counter()
r0 = resource.getrusage(resource.RUSAGE_SELF)
storage = FileSystemStorage()
with open(args["input"], "rb") as f:
    img = Image.open(f)
    img = ImageOps.exif_transpose(img)  # loads the pixels and applies Orientation
storage.save("photos/photo.jpg", ContentFile(encode(img, "jpeg", args["quality"])))
for name, v in args["variants"].items():
    storage.save(f"photos/photo.jpg.variants/{name}.{EXT[v['format']]}", ContentFile(encode(resized(img, v), v["format"], v["quality"])))
seconds = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"seconds": seconds, "cpuSeconds": cpu, "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
