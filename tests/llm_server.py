"""The real local OpenAI-compatible server for the LLM client tests: llama.cpp (llama-cpp-python) serving the embedded
SmolLM2 GGUF. The scripted `FaultyServer` lives in the library (`negneglect.llm`, nbs/02_llm.ipynb)."""
from __future__ import annotations
import os, subprocess, sys, tempfile, time, urllib.request
from contextlib import contextmanager
from pathlib import Path

from negneglect.llm import FaultyServer, free_port  # noqa: F401  (re-exported for the tests)

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
