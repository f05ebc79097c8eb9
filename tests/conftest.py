import unsloth  # noqa: F401  (Unsloth must be imported before transformers/trl in every process)
import os
os.environ.setdefault('NEGNEGLECT_PROGRESS', '0')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

# --- local OpenAI-compatible servers for the LLM client tests (see tests/llm_server.py) ---
import pytest
from llm_server import FaultyServer, llama_server

@pytest.fixture(scope='session')
def llama_base_url():
    "Base URL of a llama.cpp server (llama-cpp-python) serving the embedded SmolLM2 as model `smollm2`"
    cm, error = llama_server(), None
    try: url = cm.__enter__()
    except RuntimeError as e: error = str(e)
    if error: pytest.fail(f'cannot start the local llama.cpp server: {error}', pytrace=False)
    yield url
    cm.__exit__(None, None, None)

@pytest.fixture
def faulty_server():
    "Factory: `faulty_server(script, per_item=False, ...)` starts a scripted `FaultyServer`, closed after the test"
    servers = []
    def start(*args, **kw):
        srv = FaultyServer(*args, **kw).__enter__(); servers.append(srv); return srv
    yield start
    for s in servers: s.close()
