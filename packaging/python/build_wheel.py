"""Builds the hugai wheel with the standard library only (no setuptools, no network).

    python3 packaging/python/build_wheel.py --version 1.2.3 --out dist/python [--binary bin/hugai --platform manylinux2014_x86_64]

Without --binary the wheel is pure Python (py3-none-any) and runs the hugai on PATH or in
HUGAI_BINARY; with it, the binary is bundled (hugai/bin/hugai) and the wheel is tagged for that
platform, ready for a Lambda.
"""

import argparse
import base64
import hashlib
import os
import re
import stat
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--binary")
    ap.add_argument("--platform", default="manylinux2014_x86_64")
    a = ap.parse_args()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)", a.version):
        raise SystemExit("version %r is not a PEP 440 version" % a.version)

    tag = "py3-none-" + a.platform if a.binary else "py3-none-any"
    dist = "hugai-" + a.version
    files = []  # (archive name, bytes, mode)
    src = os.path.join(HERE, "src", "hugai", "__init__.py")
    with open(src, "rb") as f:
        init = f.read().replace(b'__version__ = "0.0.0"', ('__version__ = "%s"' % a.version).encode())
    files.append(("hugai/__init__.py", init, 0o644))
    if a.binary:
        with open(a.binary, "rb") as f:
            files.append(("hugai/bin/hugai", f.read(), 0o755))
    with open(os.path.join(HERE, "README.md"), "rb") as f:
        readme = f.read().decode()
    meta = ("Metadata-Version: 2.1\nName: hugai\nVersion: %s\n"
            "Summary: hugai's deployment analysis from Python (standard library only)\n"
            "Requires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n%s" % (a.version, readme)).encode()
    files.append((dist + ".dist-info/METADATA", meta, 0o644))
    wheel = ("Wheel-Version: 1.0\nGenerator: hugai build_wheel.py\nRoot-Is-Purelib: %s\nTag: %s\n"
             % ("false" if a.binary else "true", tag)).encode()
    files.append((dist + ".dist-info/WHEEL", wheel, 0o644))
    files.append((dist + ".dist-info/top_level.txt", b"hugai\n", 0o644))
    record = "".join("%s,%s,%d\n" % (n, record_hash(d), len(d)) for n, d, _ in files)
    record += dist + ".dist-info/RECORD,,\n"
    files.append((dist + ".dist-info/RECORD", record.encode(), 0o644))

    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "%s-%s.whl" % (dist, tag))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    print(path)


if __name__ == "__main__":
    main()
