"The console scripts: help, bad arguments, and a training run killed with SIGKILL that resumes from its checkpoint."
import os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch

SCRIPTS = ['dnd_nano_tokenizer', 'dnd_nano_encode', 'dnd_nano_train', 'dnd_nano_sample', 'dnd_nano_demo', 'dnd_nano_bench']
ENV = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}

def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, env=ENV, timeout=600, **kw)

@pytest.mark.parametrize('script', SCRIPTS)
def test_help(script):
    res = run(script, '--help')
    assert res.returncode == 0, res.stderr
    assert f'usage: {script}' in res.stdout and '--device' in res.stdout

def test_unknown_config_field_is_named(tmp_path):
    res = run('dnd_nano_tokenizer', '--out', str(tmp_path), '--set', 'codebook_sise=64')
    assert res.returncode == 2
    assert "no field 'codebook_sise'" in res.stderr and 'codebook_size' in res.stderr  # lists the real fields

def test_until_exact_needs_text_data(tmp_path):
    res = run('dnd_nano_tokenizer', '--data', 'mnist_text', '--out', str(tmp_path), '--until-exact', '10')
    assert res.returncode == 2 and '--until-exact' in res.stderr and 'not mnist_text' in res.stderr, res.stderr

def test_graph_decoder_needs_cuda(tmp_path):
    res = run('dnd_nano_sample', '--model', str(tmp_path/'model.pt'), '--decoder', 'graph', '--device', 'cpu')
    assert res.returncode == 2 and '--decoder graph needs CUDA' in res.stderr, res.stderr

def test_missing_codes_file_is_named(tmp_path):
    res = run('dnd_nano_train', '--codes', str(tmp_path/'nope.pt'), '--out', str(tmp_path))
    assert res.returncode == 2 and 'No codes file' in res.stderr, res.stderr

@pytest.fixture(scope='module')
def codes_file(tmp_path_factory):
    from dnd_nano.tokenizer import RQVAE, RQVAEConfig
    from dnd_nano.codes import encode_dataset
    from dnd_nano.text import TextImages
    torch.manual_seed(0)
    tok = RQVAE(RQVAEConfig.text(channels=16, latent_dim=8, codebook_size=32, n_depth=2)).eval()
    return encode_dataset(tok, TextImages(n=128), tmp_path_factory.mktemp('codes')/'codes.pt', progress=False)

def test_sigkill_then_resume_continues_from_the_last_checkpoint(codes_file, tmp_path):
    from dnd_nano.checkpoint import read_checkpoint
    out, ckpt = tmp_path/'run', tmp_path/'run'/'model.pt'
    args = ['dnd_nano_train', '--codes', str(codes_file), '--out', str(out), '--steps', '150', '--ckpt-every', '10',
            '--batch-size', '16', '--device', 'cpu', '--set', 'n_embd=32', 'n_head=2', '--train', 'log_every=1']
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:  # wait until a few checkpoints were written, then kill the run mid-flight
            if ckpt.exists() and read_checkpoint(ckpt)['step'] >= 30: break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None: proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_at = read_checkpoint(ckpt)['step']  # the file the kill interrupted is still whole
    assert 30 <= killed_at < 150, killed_at
    res = run(*args, '--resume')
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert f'resuming from {ckpt} at step {killed_at}' in res.stdout
    state = read_checkpoint(ckpt)
    assert state['step'] == 150
    steps = state['hist']['step']
    assert steps == list(range(150)), steps  # every step logged once: nothing repeated, nothing skipped

def test_sigterm_stops_after_the_step_with_a_checkpoint_then_resumes(codes_file, tmp_path):
    "SIGTERM (what a cluster sends before it takes a machine back) ends the step, saves it, exits 130; --resume goes on."
    from dnd_nano.checkpoint import read_checkpoint
    out, ckpt = tmp_path/'run', tmp_path/'run'/'model.pt'
    args = ['dnd_nano_train', '--codes', str(codes_file), '--out', str(out), '--steps', '150', '--ckpt-every', '7',
            '--batch-size', '16', '--device', 'cpu', '--set', 'n_embd=32', 'n_head=2', 'n_layer=2',  # heads re-spread
            '--train', 'log_every=1']
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            if ckpt.exists() and read_checkpoint(ckpt)['step'] >= 14: break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None: proc.kill()
    assert proc.returncode == 130, output[-2000:]
    assert 'interrupted; run it again with --resume' in output and 'Interrupted: checkpoint of step' in output
    stopped_at = read_checkpoint(ckpt)['step']
    assert f'checkpoint of step {stopped_at} saved' in output  # saved on the way out, whatever the interval
    assert 14 <= stopped_at < 150, stopped_at
    res = run(*args, '--resume')
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    state = read_checkpoint(ckpt)
    from dnd_nano.model import DnDConfig
    heads = DnDConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in state['config'].items()}).heads_after
    assert state['step'] == 150 and heads == (1, 2), state['config']  # the heads were re-spread over 2 layers
    assert state['hist']['step'] == list(range(150))  # nothing repeated, nothing skipped
