#!/usr/bin/env python3
"""tests/test_server_browser.py — the server's /wall in headless Chromium, by its pixels.

    python3 tests/test_server_browser.py [--build DIR] [--chromium PATH] MODEL.gguf

Starts `server --wall`, generates a greedy completion, reads the frame the event stream
holds, screenshots /wall in headless Chromium and decodes the PNG (zlib, no packages):
at the middle of every segment of every module the pixel must be bright amber where
the frame's mask lights the segment and dark where it does not. Then the reconnect:
while one Chromium page is open, the server is stopped, started again on the same port
with another completion on its wall, and the page (its EventSource reconnecting by
itself) must show the new frame. Prints "N passed, N failed"; non-zero exit on failure.
"""
import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
import struct
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)


def start_server(build, model, port=0):
    proc = subprocess.Popen([f"{build}/server", "-m", model, "--port", str(port), "--wall", "-q", "-t", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError("the server did not start")
    return proc, int(line)


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -1


def complete(port, prompt):
    body = json.dumps({"prompt": prompt, "max_tokens": 40, "temperature": 0}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["choices"][0]["text"]


def current_frame(port):
    """The first event of /wall/events: the wall as it stands."""
    deadline = time.time() + 10
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/wall/events", timeout=10) as r:
        for raw in r:
            if time.time() > deadline:
                break
            line = raw.decode()
            if line.startswith("data: "):
                return [int(x, 16) for x in line[6:].split()]
    return []


def read_png(path):
    """RGB rows of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return rows, bpp


# the page's geometry (examples/wall/svg.c's constants); the segment ends come from the page
UX, UY, PX, PY, M, SLANT = 18, 30, 58, 88, 28, 0.14
COLS, ROWS = 16, 6
WIDTH, HEIGHT = 2 * M + (COLS - 1) * PX + 2 * UX + 12, 2 * M + (ROWS - 1) * PY + 2 * UY


def segment_points(ends):
    """(module, segment, x, y): the middle of each segment and the decimal point."""
    def pt(r, c, x, y):
        return M + c * PX + x * UX + (1 - y) * UY * SLANT, M + r * PY + y * UY
    out = []
    for r in range(ROWS):
        for c in range(COLS):
            for s, e in enumerate(ends):
                a, b = pt(r, c, e[0], e[1]), pt(r, c, e[2], e[3])
                out.append((r * COLS + c, s, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
            out.append((r * COLS + c, 16, *pt(r, c, 2.45, 2)))
    return out


def compare(png, frame, ends, what):
    if len(frame) != COLS * ROWS:
        check(False, f"{what}: no frame to compare with")
        return
    rows, bpp = read_png(png)
    wrong, lit = [], 0
    for k, s, x, y in segment_points(ends):
        red = rows[int(round(y))][int(round(x)) * bpp]
        on = (frame[k] >> s) & 1
        lit += on
        # lit segments are #ffa548 under their glow; unlit ones 9 % of it over the plate
        if (red >= 160) != bool(on):
            wrong.append((k, s, red, on))
    check(lit > 50 and not wrong, f"{what}: {len(wrong)} of {len(segment_points(ends))} segments wrong, "
          f"{lit} lit: {wrong[:8]}")


def screenshot(chromium, url, png, ms):
    return subprocess.Popen([chromium, "--headless=new", f"--timeout={ms}", "--no-sandbox", "--disable-gpu",
                             "--hide-scrollbars", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Holder(BaseHTTPRequestHandler):
    """A page that frames /wall and holds its own load event back with a slow image, so
    that Chromium's screenshot (taken at load) comes after the server's restart."""
    wall_url, delay = "", 0.0

    def do_GET(self):
        if self.path == "/slow.gif":
            time.sleep(Holder.delay)
            body, kind = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"
        else:
            body = (f'<!DOCTYPE html><html><body style="margin:0;background:#000">'
                    f'<iframe src="{Holder.wall_url}" width="{WIDTH}" height="{HEIGHT}" '
                    f'style="border:0;position:absolute;left:0;top:0"></iframe>'
                    f'<img src="/slow.gif" width="1" height="1"></body></html>').encode()
            kind = "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    ap.add_argument("model")
    args = ap.parse_args()
    if not args.chromium:
        check(False, "chromium is not installed (apt-get install chromium)")
        print(f"{passed} passed, {failed} failed")
        return 1
    tmp = tempfile.mkdtemp()
    proc, port = start_server(args.build, args.model)
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/wall", timeout=10).read().decode()
        ends = json.loads(re.search(r"const ENDS=(\[.*?\]\]);", page).group(1))
        check(len(ends) == 16, "the page names 16 segments")
        text = complete(port, "Once upon a time")
        frame = current_frame(port)
        check(len(frame) == COLS * ROWS, f"a frame of {len(frame)} masks")
        png = os.path.join(tmp, "wall.png")
        screenshot(args.chromium, f"http://127.0.0.1:{port}/wall", png, 3000).wait(timeout=120)
        check(os.path.exists(png), "chromium took a screenshot")
        if os.path.exists(png):
            compare(png, frame, ends, f"the wall of {text!r}")

        # the reconnect: the server goes away under an open page and comes back
        Holder.wall_url, Holder.delay = f"http://127.0.0.1:{port}/wall", 8.0
        holder = ThreadingHTTPServer(("127.0.0.1", 0), Holder)
        threading.Thread(target=holder.serve_forever, daemon=True).start()
        png2 = os.path.join(tmp, "again.png")
        shot = screenshot(args.chromium, f"http://127.0.0.1:{holder.server_address[1]}/", png2, 30000)
        time.sleep(3)
        check(stop_server(proc) == 0, "the server stopped")
        proc, port2 = start_server(args.build, args.model, port)
        text2 = complete(port2, "The dog was")
        frame2 = current_frame(port2)
        check(frame2 != frame, "the second answer lights another wall")
        shot.wait(timeout=120)
        holder.shutdown()
        if os.path.exists(png2):
            compare(png2, frame2, ends, f"after a reconnect, the wall of {text2!r}")
        else:
            check(False, "chromium took the second screenshot")
    finally:
        status = stop_server(proc)
        if not os.environ.get("KEEP_SHOTS"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("screenshots in", tmp)
    check(status == 0, f"the server stopped with {status}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
