"""Local OpenAI-compatible servers for the LLM client tests: the real llama.cpp server (llama-cpp-python) on the
embedded SmolLM2 GGUF, and a scripted faulty server that injects rate limits, server errors, slow answers, dropped
connections and garbage before answering properly."""
from __future__ import annotations
import json, os, socket, subprocess, sys, tempfile, threading, time, urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

def free_port() -> int:
    "A TCP port on 127.0.0.1 that nothing listens on right now"
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _wait_ready(url:str, proc:subprocess.Popen, timeout:float, log_path:Path):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f'the llama.cpp server exited with code {proc.returncode}:\n{_tail(log_path)}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: pass
        time.sleep(0.2)
    raise RuntimeError(f'the llama.cpp server did not answer {url} within {timeout:.0f}s:\n{_tail(log_path)}')

def _tail(p:Path, n:int=3000) -> str:
    try: return p.read_text(errors='replace')[-n:]
    except OSError: return ''

@contextmanager
def llama_server(model:str|Path|None=None, alias:str='smollm2', n_ctx:int=2048, n_threads:int|None=None,
                 timeout:float=60):
    "Run llama-cpp-python's OpenAI-compatible server on a free port; yields its base URL (`http://.../v1`)"
    # llama.cpp's threads spin while waiting for each other: on a busy 2-core machine 1 thread can be faster
    n_threads = n_threads or int(os.environ.get('NEGNEGLECT_LLAMA_THREADS', 2))
    try: import llama_cpp  # noqa: F401
    except ImportError as e:
        raise RuntimeError('llama-cpp-python is not installed, so the local LLM server tests cannot run: '
                           'run `make setup` (or `.venv/bin/pip install -e ".[server]"`)') from e
    if model is None:
        from negneglect.core import embedded_gguf
        model = embedded_gguf()
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix='llama-server-', suffix='.log')[1])
    cmd = [sys.executable, '-m', 'llama_cpp.server', '--model', str(model), '--host', '127.0.0.1', '--port', str(port),
           '--n_ctx', str(n_ctx), '--model_alias', alias, '--n_threads', str(n_threads)]
    with open(log_path, 'wb') as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    base_url = f'http://127.0.0.1:{port}/v1'
    try:
        _wait_ready(base_url + '/models', proc, timeout, log_path)
        yield base_url
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(5)
        log_path.unlink(missing_ok=True)

# ---------------------------------------------------------------------------------------------------------------
# The faulty server

FAULTS = ('429', '500', 'slow', 'drop', 'garbage', 'badjson')

def _completion(content:str, model:str, prompt_tokens:int) -> dict:
    return {'id': f'chatcmpl-{time.time_ns()}', 'object': 'chat.completion', 'created': int(time.time()),
            'model': model,
            'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': content}, 'finish_reason': 'stop'}],
            'usage': {'prompt_tokens': prompt_tokens, 'completion_tokens': 3,
                      'total_tokens': prompt_tokens + 3}}

def echo_answer(body:dict) -> str:
    "The faulty server's valid answer: the last user message, echoed"
    users = [m.get('content') for m in body.get('messages', []) if m.get('role') == 'user']
    return f'echo: {users[-1] if users else ""}'

class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 drops connections under a concurrent burst (1 s SYN retry)
    daemon_threads = True

class FaultyServer:
    """An OpenAI-style `/v1/chat/completions` on 127.0.0.1 that answers by a script. Each entry of `script` is one of
    `ok`, `429`, `500`, `slow` (answers after `slow_s`), `drop` (closes the connection without answering),
    `garbage` (200, text that is not JSON), `badjson` (200, `application/json` that does not parse), `401`, `400`.
    `per_item=False`: the n-th request overall gets `script[n]`; `per_item=True`: the n-th attempt at each distinct
    message list gets `script[n]`. `item_scripts` maps a last user message to its own per-item script. Past the end
    of a script every request gets `ok`. A request whose `response_format` type is in `reject_formats` gets an error
    (`reject_status`) naming it, as servers without that form of structured output answer (llama-cpp-python: 500)."""
    def __init__(self, script=(), per_item:bool=False, slow_s:float=1.5, answer=echo_answer, item_scripts=None,
                 reject_formats=(), reject_status:int=400):
        self.reject_formats, self.reject_status, self.formats = set(reject_formats), reject_status, []
        self.script, self.per_item, self.slow_s, self.answer = list(script), per_item, slow_s, answer
        self.item_scripts = {k: list(v) for k, v in (item_scripts or {}).items()}
        self.requests, self.actions, self._attempts, self._lock = 0, [], {}, threading.Lock()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.0'  # one request per connection: a dropped one never poisons the next
            def log_message(self, *a): pass

            def _send(self, code:int, payload, ctype='application/json', headers=None):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header('Content-Type', ctype); self.send_header('Content-Length', str(len(data)))
                    for k, v in (headers or {}).items(): self.send_header(k, v)
                    self.end_headers(); self.wfile.write(data)
                except OSError: pass  # the client gave up (e.g. after its timeout)

            def do_GET(self):
                if self.path.rstrip('/').endswith('/models'):
                    self._send(200, {'object': 'list', 'data': [{'id': 'faulty', 'object': 'model'}]})
                else: self._send(404, {'error': {'message': 'not found'}})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                try: body = json.loads(raw)
                except ValueError: body = {}
                if not self.path.rstrip('/').endswith('/chat/completions'):
                    return self._send(404, {'error': {'message': f'no route {self.path}'}})
                fmt = (body.get('response_format') or {}).get('type')
                with srv._lock: srv.formats.append(fmt)
                if fmt in srv.reject_formats:
                    with srv._lock: srv.requests += 1
                    return self._send(srv.reject_status, {'error': {'message': f"response_format type '{fmt}' is not supported",
                                                      'type': 'invalid_request_error'}})
                action = srv._next_action(body)
                err = lambda code, msg, typ: self._send(code, {'error': {'message': msg, 'type': typ}})
                if action == '429': return err(429, 'Rate limit reached, slow down', 'rate_limit_error')
                if action == '500': return err(500, 'The server had an error', 'server_error')
                if action == '401': return err(401, 'Incorrect API key provided', 'invalid_request_error')
                if action == '400': return err(400, 'Invalid request', 'invalid_request_error')
                if action == 'garbage': return self._send(200, b'<html>502 Bad Gateway (upstream)</html>', 'text/plain')
                if action == 'badjson': return self._send(200, b'{"choices": [ {"mess', 'application/json')
                if action == 'drop':
                    self.close_connection = True
                    try: self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError: pass
                    return
                if action == 'slow': time.sleep(srv.slow_s)
                n_prompt = sum(len(str(m.get('content', '')).split()) for m in body.get('messages', []))
                self._send(200, _completion(srv.answer(body), body.get('model', 'faulty'), n_prompt))

        self.httpd = _Server(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f'http://127.0.0.1:{self.port}/v1'
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)

    def _next_action(self, body:dict) -> str:
        users = [m.get('content') for m in body.get('messages', []) if m.get('role') == 'user']
        with self._lock:
            script = self.script
            if users and users[-1] in self.item_scripts: script, per_item = self.item_scripts[users[-1]], True
            else: per_item = self.per_item
            if per_item:
                k = json.dumps(body.get('messages'), sort_keys=True)
                n = self._attempts[k] = self._attempts.get(k, -1) + 1
            else: n = self.requests
            self.requests += 1
            action = script[n] if n < len(script) else 'ok'
            self.actions.append(action)
            return action

    def __enter__(self): self._thread.start(); return self
    def __exit__(self, *exc): self.close()
    def close(self):
        self.httpd.shutdown(); self.httpd.server_close()
