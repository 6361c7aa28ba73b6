#!/usr/bin/env python3
"""tests/openai_client.py — the official `openai` package against build/server.

    build/venv/bin/python tests/openai_client.py [--build DIR] MODEL.gguf...

For each model it starts the server (a free port, an API key), then, as a user of the
package would: lists the models; asks for a chat completion and for the same one
streamed (greedy, so the joined deltas must equal the whole answer, and the last chunk
must carry the finish reason and the usage); a text completion; and checks that errors
surface as the package's exception types (a wrong key AuthenticationError, a bad
parameter BadRequestError, an unknown model NotFoundError). Prints
"N passed, N failed" like the C tests and exits non-zero on any failure.

    build/venv/bin/python tests/openai_client.py --bench 20 [--parallel 1,2] MODEL.gguf

measures instead: for each slot count, as many clients as slots each send the same short
streamed chat request N times; prints the median time to first token, requests per
second, and the server's resident memory idle and at its peak (/proc/PID/status).
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import openai

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)


def start_server(build, model, key, parallel=2):
    proc = subprocess.Popen(
        [f"{build}/server", "-m", model, "--port", "0", "--api-key", key, "-q", "--parallel", str(parallel),
         "-t", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"the server did not start for {model}")
    return proc, int(line)


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -1


def run_model(build, model):
    key = "sk-test-key"
    proc, port = start_server(build, model, key)
    base = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=120)
    name = os.path.basename(model)
    model_id = name[:-5] if name.endswith(".gguf") else name
    try:
        ids = [m.id for m in client.models.list()]
        check(ids == [model_id], f"{name}: models.list() gave {ids}")

        messages = [{"role": "system", "content": "You are a helpful assistant. Answer briefly."},
                    {"role": "user", "content": "What is the capital of France?"}]
        whole = client.chat.completions.create(model=model_id, messages=messages, max_tokens=32, temperature=0)
        content = whole.choices[0].message.content
        check(whole.object == "chat.completion" and whole.choices[0].message.role == "assistant",
              f"{name}: a chat completion object")
        check(isinstance(content, str) and len(content.strip()) > 0 and "<|" not in content,
              f"{name}: the answer is text without template tokens: {content!r}")
        check(whole.choices[0].finish_reason in ("stop", "length"), f"{name}: finish_reason")
        u = whole.usage
        check(u.prompt_tokens > 5 and 0 < u.completion_tokens <= 32
              and u.total_tokens == u.prompt_tokens + u.completion_tokens, f"{name}: usage {u}")

        stream = client.chat.completions.create(model=model_id, messages=messages, max_tokens=32, temperature=0,
                                                stream=True, stream_options={"include_usage": True})
        parts, finish, usage = [], None, None
        for chunk in stream:
            if chunk.choices:
                delta = chunk.choices[0].delta
                if delta.content:
                    parts.append(delta.content)
                if chunk.choices[0].finish_reason:
                    finish = chunk.choices[0].finish_reason
            if chunk.usage:
                usage = chunk.usage
        check("".join(parts) == content, f"{name}: streamed {''.join(parts)!r} vs whole {content!r}")
        check(finish == whole.choices[0].finish_reason and len(parts) > 1, f"{name}: stream finish {finish}")
        check(usage is not None and usage.completion_tokens == u.completion_tokens, f"{name}: stream usage {usage}")

        text = client.completions.create(model=model_id, prompt="Once upon a time", max_tokens=16, temperature=0,
                                         seed=3, presence_penalty=0.5, frequency_penalty=0.2, stop=["\n\n"])
        check(text.object == "text_completion" and len(text.choices[0].text) > 0
              and text.usage.completion_tokens <= 16, f"{name}: a text completion {text.choices[0].text!r}")

        bad_key = openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0)
        try:
            bad_key.models.list()
            check(False, f"{name}: a wrong key was accepted")
        except openai.AuthenticationError as e:
            check(e.status_code == 401 and "API key" in str(e), f"{name}: AuthenticationError {e}")
        for bad in ({"temperature": 5}, {"n": 3}, {"max_tokens": 0}):
            try:
                client.chat.completions.create(model=model_id, messages=messages, **bad)
                check(False, f"{name}: {bad} was accepted")
            except openai.BadRequestError as e:
                check(e.status_code == 400 and e.body and "message" in e.body, f"{name}: BadRequestError for {bad}")
        check(client.models.retrieve(model_id).id == model_id, f"{name}: models.retrieve()")
        try:
            client.models.retrieve("no-such-model")
            check(False, f"{name}: an unknown model was found")
        except openai.NotFoundError as e:
            check(e.status_code == 404, f"{name}: NotFoundError")
    finally:
        status = stop_server(proc)
    check(status == 0, f"{name}: the server stopped with {status}")


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def bench(build, model, parallel, n):
    proc, port = start_server(build, model, "k", parallel)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0, timeout=300)
    idle = rss_kib(proc.pid, "VmRSS")
    messages = [{"role": "user", "content": "Name three colours."}]
    ttft, lock = [], threading.Lock()

    def one_client():
        for _ in range(n):
            t0 = time.monotonic()
            first = None
            for chunk in client.chat.completions.create(model="m", messages=messages, max_tokens=32, temperature=0,
                                                        stream=True):
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.monotonic() - t0
            with lock:
                ttft.append(first if first is not None else float("nan"))

    t0 = time.monotonic()
    threads = [threading.Thread(target=one_client) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    peak = rss_kib(proc.pid, "VmHWM")
    stop_server(proc)
    print(f"{os.path.basename(model)}  slots {parallel}  clients {parallel}  requests {len(ttft)}  "
          f"{len(ttft) / took:.2f} req/s  time to first token median {statistics.median(ttft) * 1000:.0f} ms  "
          f"RSS idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--bench", type=int, default=0, help="measure: requests per client")
    ap.add_argument("--parallel", default="1,2")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    if args.bench:
        for model in args.models:
            for p in (int(x) for x in args.parallel.split(",")):
                bench(args.build, model, p, args.bench)
        return 0
    for model in args.models:
        if not os.path.exists(model):
            check(False, f"{model} is missing")
            continue
        run_model(args.build, model)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
